// Writes generated traffic straight into the lake in the archiver's format (gzipped NDJSON under
// logs/dt=…/hour=…/, named like archive files), so a demo or test can have past hours ready for
// the batch layer without waiting for the stream. Like the archiver, it keeps valid, late and
// duplicate events (the batch layer deduplicates) and leaves poison out (that is the DLQ's job).
import { gzipSync } from 'node:zlib';
import { archiveFileName, logPartitionPrefix, type ObjectStore } from '@tandem/lake';
import type { TrafficRecord } from './traffic.ts';

const HOUR = 3_600_000;
const newline = new Uint8Array([0x0a]);

export interface LakeWriteOptions {
  /** The "topic" part of the file names; one per generation run, so reruns overwrite their own files. */
  fileTag: string;
  /** Lines per file before a new one starts. @defaultValue 200_000 */
  linesPerFile?: number;
  signal?: AbortSignal;
  /** Called after each record is taken (for progress). */
  onRecord?: (record: TrafficRecord) => void;
}

export interface LakeWriteResult {
  files: Array<{ key: string; hour: number; lines: number; bytes: number }>;
  skippedPoison: number;
}

/** Consumes the records and writes one or more files per event-time hour; returns what it wrote. */
export async function writeTrafficToLake(
  store: ObjectStore,
  records: Iterable<TrafficRecord>,
  options: LakeWriteOptions,
): Promise<LakeWriteResult> {
  const linesPerFile = options.linesPerFile ?? 200_000;
  const buffers = new Map<number, { firstSeq: number; chunks: Uint8Array[]; lines: number }>();
  const result: LakeWriteResult = { files: [], skippedPoison: 0 };
  const flush = async (hour: number): Promise<void> => {
    const buffer = buffers.get(hour);
    if (!buffer || buffer.lines === 0) return;
    buffers.delete(hour);
    const body = gzipSync(Buffer.concat(buffer.chunks));
    const key = `${logPartitionPrefix(hour)}${archiveFileName(options.fileTag, 0, buffer.firstSeq)}`;
    await store.put(key, body, { contentType: 'application/gzip' });
    result.files.push({ key, hour, lines: buffer.lines, bytes: body.byteLength });
  };
  for (const record of records) {
    options.signal?.throwIfAborted();
    options.onRecord?.(record);
    if (record.label === 'bad' || record.event === null) {
      result.skippedPoison += 1;
      continue;
    }
    const hour = Math.floor(record.event.timestamp / HOUR) * HOUR;
    let buffer = buffers.get(hour);
    if (!buffer) {
      buffer = { firstSeq: record.seq, chunks: [], lines: 0 };
      buffers.set(hour, buffer);
    }
    buffer.chunks.push(record.value, newline);
    buffer.lines += 1;
    if (buffer.lines >= linesPerFile) await flush(hour);
  }
  for (const hour of [...buffers.keys()].sort((a, b) => a - b)) await flush(hour);
  result.files.sort((a, b) => a.hour - b.hour || a.key.localeCompare(b.key));
  return result;
}

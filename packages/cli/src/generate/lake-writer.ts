// Writes generated traffic straight into the lake in the archiver's format (gzipped NDJSON under
// <lakePrefix>/dt=…/hour=…/, named like archive files), so a demo or test can have past hours ready for
// the batch layer without waiting for the stream. Like the archiver, it keeps valid, late and
// duplicate events (the batch layer deduplicates) and leaves poison out (that is the DLQ's job).
import { gzipSync } from 'node:zlib';
import { archiveFileName, logPartitionPrefix, type ObjectStore } from '@tandem/lake';
import type { TrafficLabel, TrafficRecord } from './traffic.ts';

/** The web stream's raw-log root, as @tandem/lake names it. */
const DEFAULT_LOGS_PREFIX = 'logs';

const HOUR = 3_600_000;
const newline = new Uint8Array([0x0a]);

/** What the writer reads of a record: web traffic and schema-driven records both fit. */
export interface LakeRecord {
  seq: number;
  value: Uint8Array;
  label: TrafficLabel;
}

export interface LakeWriteOptions<R extends LakeRecord = TrafficRecord> {
  /** The "topic" part of the file names; one per generation run, so reruns overwrite their own files. */
  fileTag: string;
  /** The stream's raw-log root (`Stream.lakePrefix`). @defaultValue 'logs' (the web stream) */
  logsPrefix?: string;
  /** The event time (epoch ms) a record is partitioned by; null for poison. @defaultValue the web event's timestamp */
  eventTime?: (record: R) => number | null;
  /** Lines per file before a new one starts. @defaultValue 200_000 */
  linesPerFile?: number;
  signal?: AbortSignal;
  /** Called after each record is taken (for progress). */
  onRecord?: (record: R) => void;
}

export interface LakeWriteResult {
  files: Array<{ key: string; hour: number; lines: number; bytes: number }>;
  skippedPoison: number;
}

/** Consumes the records and writes one or more files per event-time hour; returns what it wrote. */
export async function writeTrafficToLake<R extends LakeRecord = TrafficRecord>(
  store: ObjectStore,
  records: Iterable<R>,
  options: LakeWriteOptions<R>,
): Promise<LakeWriteResult> {
  const linesPerFile = options.linesPerFile ?? 200_000;
  const logsPrefix = options.logsPrefix ?? DEFAULT_LOGS_PREFIX;
  const eventTime =
    options.eventTime ?? ((record: R) => (record as unknown as TrafficRecord).event?.timestamp ?? null);
  const buffers = new Map<number, { firstSeq: number; chunks: Uint8Array[]; lines: number }>();
  const result: LakeWriteResult = { files: [], skippedPoison: 0 };
  const flush = async (hour: number): Promise<void> => {
    const buffer = buffers.get(hour);
    if (!buffer || buffer.lines === 0) return;
    buffers.delete(hour);
    const body = gzipSync(Buffer.concat(buffer.chunks));
    const key = `${logPartitionPrefix(hour, logsPrefix)}${archiveFileName(options.fileTag, 0, buffer.firstSeq)}`;
    await store.put(key, body, { contentType: 'application/gzip' });
    result.files.push({ key, hour, lines: buffer.lines, bytes: body.byteLength });
  };
  for (const record of records) {
    options.signal?.throwIfAborted();
    options.onRecord?.(record);
    const time = record.label === 'bad' ? null : eventTime(record);
    if (time === null) {
      result.skippedPoison += 1;
      continue;
    }
    const hour = Math.floor(time / HOUR) * HOUR;
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

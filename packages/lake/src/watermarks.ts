// The archiver's per-partition watermark objects: written by the archiver, read by the batch
// scheduler to decide that an hour's raw logs are complete. They live here, next to the paths,
// so the batch layer reads them without importing the archiver.
import { TandemError } from '@tandem/core';
import type { ObjectStore } from './object-store.ts';
import { archiverWatermarkKey, archiverWatermarkPrefix, DEFAULT_LOGS_PREFIX } from './paths.ts';

/** Contents of `logs/_watermarks/<topic>+<partition>.json`. */
export interface ArchiverWatermark {
  topic: string;
  partition: number;
  /** Epoch ms: every event of this partition with an event time ≤ watermark is in the lake. */
  watermark: number;
  /** Every message of the partition below this offset is in the lake (the archiver's commit point). */
  offset: string;
  /** Epoch ms of the write. */
  updatedAt: number;
}

function parseWatermark(key: string, bytes: Uint8Array): ArchiverWatermark {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (cause) {
    throw new TandemError(
      'TANDEM_ERR_LAKE_IO',
      `watermark object "${key}" is not JSON; delete it and let the archiver rewrite it`,
      {
        cause,
        details: { key },
      },
    );
  }
  const candidate = value as Partial<ArchiverWatermark> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate.topic !== 'string' ||
    !Number.isSafeInteger(candidate.partition) ||
    !Number.isFinite(candidate.watermark) ||
    typeof candidate.offset !== 'string' ||
    !Number.isFinite(candidate.updatedAt)
  ) {
    throw new TandemError(
      'TANDEM_ERR_LAKE_IO',
      `watermark object "${key}" lacks topic, partition, watermark, offset or updatedAt; delete it and let the archiver rewrite it`,
      { details: { key } },
    );
  }
  return candidate as ArchiverWatermark;
}

/**
 * The watermark of one partition under a stream's logs prefix (the web stream's `logs` by
 * default), or null when the archiver has not written one yet.
 */
export async function readArchiverWatermark(
  store: ObjectStore,
  topic: string,
  partition: number,
  logsPrefix: string = DEFAULT_LOGS_PREFIX,
): Promise<ArchiverWatermark | null> {
  const key = archiverWatermarkKey(topic, partition, logsPrefix);
  const bytes = await store.get(key);
  return bytes === null ? null : parseWatermark(key, bytes);
}

/**
 * Writes one partition's watermark object under a stream's logs prefix (plain overwrite: one
 * archiver owns a partition at a time).
 */
export async function writeArchiverWatermark(
  store: ObjectStore,
  watermark: ArchiverWatermark,
  logsPrefix: string = DEFAULT_LOGS_PREFIX,
): Promise<void> {
  await store.put(
    archiverWatermarkKey(watermark.topic, watermark.partition, logsPrefix),
    JSON.stringify(watermark),
    { contentType: 'application/json' },
  );
}

/**
 * Every watermark object of a topic (or of all topics) under a stream's logs prefix (the web
 * stream's `logs` by default), in partition-key order.
 */
export async function listArchiverWatermarks(
  store: ObjectStore,
  topic?: string,
  logsPrefix: string = DEFAULT_LOGS_PREFIX,
): Promise<ArchiverWatermark[]> {
  const watermarks: ArchiverWatermark[] = [];
  for await (const info of store.list(archiverWatermarkPrefix(topic, logsPrefix))) {
    if (!info.key.endsWith('.json')) continue;
    const bytes = await store.get(info.key);
    if (bytes !== null) watermarks.push(parseWatermark(info.key, bytes));
  }
  return watermarks.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/**
 * The event time through which a topic's raw logs are complete: the minimum watermark over its
 * partitions, or null unless every partition in `0 … partitionCount-1` has a watermark. An hour
 * `[h, h + 1h)` is complete when `archivedThrough(...) >= h + 1h - 1`.
 */
export function archivedThrough(
  watermarks: readonly ArchiverWatermark[],
  partitionCount: number,
): number | null {
  const byPartition = new Map(watermarks.map((entry) => [entry.partition, entry.watermark]));
  let through = Number.POSITIVE_INFINITY;
  for (let partition = 0; partition < partitionCount; partition++) {
    const watermark = byPartition.get(partition);
    if (watermark === undefined) return null;
    through = Math.min(through, watermark);
  }
  return partitionCount === 0 ? null : through;
}

/**
 * Whether a store refuses a second `put` with `If-None-Match: *` (writes a probe object twice). A
 * server that accepts it ignores the headers: open it with `conditionalWrites: 'emulated'`. It
 * cannot tell `atomic` from `checked` (that takes racing writers); never call it on a hot path.
 */
export async function probeConditionalWrites(store: ObjectStore, probePrefix = '_probe/'): Promise<boolean> {
  const key = `${probePrefix}conditional-${crypto.randomUUID()}`;
  try {
    await store.put(key, 'first', { ifNoneMatch: '*' });
    try {
      await store.put(key, 'second', { ifNoneMatch: '*' });
      return false;
    } catch (error) {
      if (error instanceof TandemError && error.code === 'TANDEM_ERR_LAKE_PRECONDITION') return true;
      throw error;
    }
  } finally {
    await store.delete(key);
  }
}

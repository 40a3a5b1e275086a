// When an hour's raw logs are complete: the archiver's watermark objects say so (every partition of
// the topic has archived past the hour's input), or the lateness delay has passed since it ended.
// Data that still arrives later changes the hour's input fingerprint, and catch-up recomputes it.
import { inputRangeFor, HOUR_MS, type View } from '@tandem/core';
import { listArchiverWatermarks, type ObjectStore } from '@tandem/lake';

export interface CompletenessOptions {
  topic: string;
  /** Partitions of the topic; null: every watermark object found counts. */
  topicPartitions: number | null;
  latenessMs: number;
}

/**
 * The event time (exclusive, epoch ms) before which raw logs are complete: the later of
 * `now - latenessMs` and the lowest archiver watermark + 1 (watermarks are inclusive).
 */
export async function completeBefore(
  store: ObjectStore,
  options: CompletenessOptions,
  nowMs: number,
): Promise<number> {
  const byLateness = nowMs - options.latenessMs;
  const watermarks = await listArchiverWatermarks(store, options.topic);
  if (watermarks.length === 0) return byLateness;
  const partitions =
    options.topicPartitions ?? Math.max(...watermarks.map((watermark) => watermark.partition)) + 1;
  const byPartition = new Map(watermarks.map((watermark) => [watermark.partition, watermark.watermark]));
  let lowest = Number.POSITIVE_INFINITY;
  for (let partition = 0; partition < partitions; partition++) {
    const watermark = byPartition.get(partition);
    if (watermark === undefined) return byLateness;
    lowest = Math.min(lowest, watermark);
  }
  return Math.max(byLateness, lowest + 1);
}

/** Whether every input partition the view's hour reads is complete. */
export function isHourComplete(view: View, hour: number, completeBeforeMs: number): boolean {
  return inputRangeFor(view, { from: hour, to: hour + HOUR_MS }).to <= completeBeforeMs;
}

/** The latest hour of the view that is complete, or null if none up to `nowMs` is. */
export function lastCompleteHour(view: View, completeBeforeMs: number, nowMs: number): number | null {
  for (let hour = nowMs - (nowMs % HOUR_MS) - HOUR_MS, steps = 0; steps < 48; hour -= HOUR_MS, steps++) {
    if (isHourComplete(view, hour, completeBeforeMs)) return hour;
  }
  return null;
}

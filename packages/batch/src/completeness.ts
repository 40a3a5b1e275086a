// When an hour's raw logs are complete: the stream archiver's watermark objects say so (every
// partition of its topic has archived past the hour's input), or the lateness delay has passed
// since it ended.
// Data that still arrives later changes the hour's input fingerprint, and catch-up recomputes it.
import { inputRangeFor, HOUR_MS, type View } from '@tandem/core';
import { listArchiverWatermarks, type ObjectStore } from '@tandem/lake';

export interface CompletenessOptions {
  /** The stream's Kafka topic. */
  topic: string;
  /** The stream's raw-log root, where its archiver keeps watermarks. @defaultValue 'logs' */
  lakePrefix?: string;
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
  const watermarks = await listArchiverWatermarks(store, options.topic, options.lakePrefix);
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

/**
 * The partition count `BatchOptions.topicPartitions` gives a topic: one number for every stream's
 * topic, or a count per topic name (null for topics it does not name).
 */
export function topicPartitionsOf(
  setting: number | null | Readonly<Record<string, number>>,
  topic: string,
): number | null {
  if (setting === null || typeof setting === 'number') return setting;
  return Object.hasOwn(setting, topic) ? setting[topic]! : null;
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

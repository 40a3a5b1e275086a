// Output buckets of a query: how a granularity slices a range, and which base hours each slice
// covers. Days are UTC days; `all` is one bucket spanning the whole range.
import { type BucketSize, DAY_MS, HOUR_MS, MINUTE_MS, type TimeRange } from '@tandem/core';

/** Output bucket sizes, finest first: every view bucket size, then days and the whole range. */
export const granularities = ['1m', '5m', '15m', '30m', '1h', '1d', 'all'] as const;
export type Granularity = (typeof granularities)[number];

const stepMs: Record<Exclude<Granularity, 'all'>, number> = {
  '1m': MINUTE_MS,
  '5m': 5 * MINUTE_MS,
  '15m': 15 * MINUTE_MS,
  '30m': 30 * MINUTE_MS,
  '1h': HOUR_MS,
  '1d': DAY_MS,
};

/** Width of one output bucket; null for `all`. */
export function granularityMs(granularity: Granularity): number | null {
  return granularity === 'all' ? null : stepMs[granularity];
}

/**
 * Granularities a view can answer: its own bucket and every coarser one. Every bucket size divides
 * the next coarser one (and an hour), so a coarser bucket always holds whole view buckets.
 */
export function granularitiesFor(bucket: BucketSize): Granularity[] {
  const own = stepMs[bucket];
  return granularities.filter((granularity) => granularity === 'all' || stepMs[granularity] >= own);
}

/**
 * Widens a range to whole buckets of the granularity (and always whole hours, since hours are
 * the unit the batch layer seals): `from` floors, `to` ceils.
 */
export function alignRange(range: TimeRange, granularity: Granularity): TimeRange {
  const step = granularity === 'all' ? HOUR_MS : Math.max(stepMs[granularity], HOUR_MS);
  return { from: floorTo(range.from, step), to: ceilTo(range.to, step) };
}

/** Start of the output bucket holding `ts`. */
export function outputBucket(ts: number, granularity: Granularity, range: TimeRange): number {
  return granularity === 'all' ? range.from : floorTo(ts, stepMs[granularity]);
}

/** Every output bucket start of an aligned range, in order. */
export function outputBuckets(range: TimeRange, granularity: Granularity): number[] {
  if (granularity === 'all') return [range.from];
  const step = stepMs[granularity];
  const buckets: number[] = [];
  for (let at = range.from; at < range.to; at += step) buckets.push(at);
  return buckets;
}

/** End (exclusive) of the output bucket starting at `bucket`. */
export function outputBucketEnd(bucket: number, granularity: Granularity, range: TimeRange): number {
  return granularity === 'all' ? range.to : bucket + stepMs[granularity];
}

/** Every hour start of an aligned range. */
export function hoursOf(range: TimeRange): number[] {
  const hours: number[] = [];
  for (let at = floorTo(range.from, HOUR_MS); at < range.to; at += HOUR_MS) hours.push(at);
  return hours;
}

/** How many output buckets a range has at a granularity (before aligning it). */
export function bucketCount(range: TimeRange, granularity: Granularity): number {
  if (granularity === 'all') return 1;
  return Math.ceil((range.to - range.from) / stepMs[granularity]);
}

function floorTo(ts: number, step: number): number {
  return Math.floor(ts / step) * step;
}

function ceilTo(ts: number, step: number): number {
  return Math.ceil(ts / step) * step;
}

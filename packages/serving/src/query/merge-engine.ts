// The heart of serving: answers a range query by taking, per base hour, the sealed batch partial
// if there is one, else the speed partial, else nothing, and merging hours into coarser buckets
// with the measures' own merge so distinct counts and percentiles stay right.
//
// Consistency under a concurrent publish: the batch side is snapshotted FIRST (sealed hours with
// their pointer versions); speed partials are then read only for the hours outside the snapshot,
// and batch partials for exactly the snapshotted versions. An hour sealed after the snapshot is
// still served by speed (the speed layer deletes a sealed hour's data only after a grace period,
// longer than any snapshot is reused), and an hour is never taken from both sides, so a publish
// during a query can neither double-count nor drop a bucket.
import {
  type Cells,
  type DimensionFilter,
  type DimensionValue,
  HOUR_MS,
  isTandemError,
  type PartialRow,
  TandemError,
  type TimeRange,
} from '@tandem/core';
import type { BatchViewReader, SealedHour, SpeedViewReader } from '@tandem/core';
import { queryTooLarge } from '../http-errors.ts';
import { LruCache, TtlLoader } from './lru-cache.ts';
import { type Granularity, hoursOf, outputBucket, outputBucketEnd, outputBuckets } from './time-grid.ts';
import type { ViewModel } from './view-model.ts';

export type CoverageSource = 'batch' | 'speed' | 'none';
export type PointSource = 'batch' | 'speed' | 'mixed' | 'none';

export interface CoverageEntry {
  bucket: number;
  source: CoverageSource;
  runId: string | null;
}

export interface SeriesPoint {
  bucket: number;
  source: PointSource;
  values: Record<string, unknown>;
  /** `values` already serialized, when it comes from a cache. */
  valuesJson?: string;
}

export interface SeriesGroup {
  dims: Record<string, DimensionValue>;
  points: SeriesPoint[];
}

export interface SeriesQuery {
  model: ViewModel;
  /** Aligned to the granularity (see `alignRange`). */
  range: TimeRange;
  granularity: Granularity;
  filter: DimensionFilter;
  /** Dimensions to group by, a subset of the view's, in the view's order. */
  groupBy: string[];
  /** Finished value names to return. */
  outputs: string[];
  /** Measures whose states are merged (those that yield `outputs`). */
  measures: string[];
}

/** The batch side of a query, taken before anything else is read. */
export interface BatchSnapshot {
  sealed: Map<number, SealedHour>;
  /** Hour:version list of the snapshot; part of every cache key built on it. */
  versionsKey: string;
  /** Whether every hour of the range is sealed: the answer is then immutable and cacheable. */
  allSealed: boolean;
}

export interface Freshness {
  sealedThrough: number | null;
  speedWatermark: number | null;
  /** When the speed watermark was read (the figures are reused for up to 2 x snapshotTtlMs). */
  at: number;
}

/** What a query takes from speed: its rows, the identity of the reads, and the coverage they imply. */
interface SpeedSide {
  rows: PartialRow[];
  readsKey: string;
  coverage: CoverageEntry[];
}

export interface SeriesResult {
  coverage: CoverageEntry[];
  buckets: number[];
  groups: SeriesGroup[];
  complete: boolean;
}

export interface MergeEngineOptions {
  batch: BatchViewReader;
  speed: SpeedViewReader;
  now: () => number;
  /**
   * How long a batch snapshot (sealed hours and versions) and the freshness figures are reused.
   * Must stay well below the speed layer's sealed-hour grace period. @defaultValue 1000
   */
  snapshotTtlMs: number;
  /**
   * How long one speed read (view, hours, filter) is reused: real-time answers may be this much
   * older than Redis, and a burst of identical queries costs one read. 0 disables. @defaultValue 1000
   */
  speedCacheTtlMs: number;
  /**
   * How long a speed read of closed hours is reused: hours that end more than the allowed
   * lateness before the watermark no longer change in speed (later events go to the late topic).
   * @defaultValue 60000
   */
  closedSpeedCacheTtlMs: number;
  /** The speed layer's allowed lateness (`SPEED_ALLOWED_LATENESS_MS`). @defaultValue 300000 */
  speedAllowedLatenessMs: number;
  /** How far behind the speed watermark speed still holds hours (its bucket TTL). */
  speedRetentionMs: number;
  /** Total cells of batch partials kept in memory, keyed by pointer version. */
  partialCacheCells: number;
  /** Finished batch-only buckets kept, keyed by query shape and pointer versions. */
  bucketCacheEntries: number;
  maxGroups: number;
  /** Most values (groups x buckets x outputs) one answer may carry. */
  maxValues: number;
}

interface MergedGroup {
  dims: DimensionValue[];
  /** Per output bucket: merged states. */
  states: Map<number, Record<string, Cells>>;
}

/** Finished values per group of a batch-only bucket, with their JSON so answers reuse it. */
type FinishedBucket = Map<
  string,
  { dims: DimensionValue[]; values: Record<string, unknown>; valuesJson: string }
>;

/** Merges batch and speed partials per query; one per server, holding the immutable caches. */
export class MergeEngine {
  readonly #options: MergeEngineOptions;
  readonly #snapshots: TtlLoader<BatchSnapshot>;
  readonly #sealedThrough: TtlLoader<number | null>;
  readonly #speedWatermark: TtlLoader<{ watermark: number | null; at: number }>;
  readonly #speedReads: TtlLoader<PartialRow[]>;
  readonly #closedSpeedReads: TtlLoader<PartialRow[]>;
  readonly partialCache: LruCache<PartialRow[]>;
  readonly bucketCache: LruCache<FinishedBucket>;

  constructor(options: MergeEngineOptions) {
    this.#options = options;
    // Stale-while-revalidate: a reused snapshot may be up to 2 x snapshotTtlMs old, still far
    // below the speed layer's sealed grace period, so the consistency argument above holds.
    const snapshotOptions = { staleMs: options.snapshotTtlMs };
    this.#snapshots = new TtlLoader(options.snapshotTtlMs, options.now, snapshotOptions);
    this.#sealedThrough = new TtlLoader(options.snapshotTtlMs, options.now, snapshotOptions);
    this.#speedWatermark = new TtlLoader(options.snapshotTtlMs, options.now, snapshotOptions);
    this.#speedReads = new TtlLoader(options.speedCacheTtlMs, options.now, {
      maxEntries: 10_000,
      staleMs: options.speedCacheTtlMs,
    });
    this.#closedSpeedReads = new TtlLoader(options.closedSpeedCacheTtlMs, options.now, {
      maxEntries: 10_000,
      staleMs: options.closedSpeedCacheTtlMs,
    });
    this.partialCache = new LruCache(options.partialCacheCells);
    this.bucketCache = new LruCache(options.bucketCacheEntries);
  }

  /** Sealed hours of the range with their pointer versions: step one of every query. */
  async snapshot(view: string, range: TimeRange): Promise<BatchSnapshot> {
    // The loader keeps the snapshot built from the reader's answer, so a reused snapshot costs
    // nothing per request (and its versionsKey is one shared string).
    return this.#snapshots.load(`${view}\u0001${range.from}\u0001${range.to}`, async () => {
      const hours = await readerCall('batch', () => this.#options.batch.sealedHours(view, range));
      const sealed = new Map<number, SealedHour>();
      const first = hourOf(range.from);
      for (const hour of hours) {
        if (hour.hour >= first && hour.hour < range.to) sealed.set(hour.hour, hour);
      }
      const ordered = [...sealed.values()].sort((a, b) => a.hour - b.hour);
      const versionsKey = ordered.map((hour) => `${hour.hour}:${hour.pointerVersion}`).join(',');
      const allSealed = sealed.size === hoursOf(range).length;
      return { sealed, versionsKey, allSealed };
    });
  }

  /** Sealed-through of the view and the speed watermark of its stream (each stream has its own). */
  async freshness(view: string, stream: string): Promise<Freshness> {
    const [sealedThrough, speedWatermark] = await Promise.all([
      this.#sealedThrough.load(view, () =>
        readerCall('batch', () => this.#options.batch.sealedThrough(view)),
      ),
      this.#speedWatermark.load(stream, () =>
        readerCall('speed', async () => {
          const at = this.#options.now();
          return { watermark: (await this.#options.speed.status(stream)).watermark, at };
        }),
      ),
    ]);
    return { sealedThrough, speedWatermark: speedWatermark.watermark, at: speedWatermark.at };
  }

  /** Runs a query on a snapshot taken by `snapshot` for the same view and range. */
  async series(query: SeriesQuery, snapshot: BatchSnapshot, freshness: Freshness): Promise<SeriesResult> {
    return (await this.prepare(query, snapshot, freshness)).run();
  }

  /**
   * Step two of a query (speed partials, only for hours outside the snapshot), then the rest on
   * demand. `inputsKey` names every input of the answer: the snapshot's versions, the identity of
   * each (cached, immutable) speed read, the speed watermark and sealed-through. Equal keys give equal answers,
   * so a caller may reuse a serialized answer under it.
   */
  async prepare(
    query: SeriesQuery,
    snapshot: BatchSnapshot,
    freshness: Freshness,
  ): Promise<{ inputsKey: string; run(): Promise<SeriesResult> }> {
    const speed = await this.#readSpeed(query, snapshot, freshness);
    // Sealed-through too: it decides which quiet hours speed vouches for (see #coverage).
    const inputsKey = `${snapshot.versionsKey}\u0001${speed.readsKey}\u0001${freshness.speedWatermark}\u0001${freshness.sealedThrough}`;
    return { inputsKey, run: () => this.#assemble(query, snapshot, speed) };
  }

  async #assemble(query: SeriesQuery, snapshot: BatchSnapshot, speed: SpeedSide): Promise<SeriesResult> {
    const { model, range, granularity } = query;
    const { coverage, rows: speedRows } = speed;
    const buckets = outputBuckets(range, granularity);
    const bucketSources = this.#bucketSources(coverage, buckets, granularity, range);

    // Batch-only buckets are cached finished, under the query's shape and their pointer versions.
    const shapeKey = [
      model.name,
      granularity,
      // Fixed-size buckets do not depend on the range; `all` is the range.
      granularity === 'all' ? `${range.from}-${range.to}` : '',
      filterKey(query.filter),
      query.groupBy.join(','),
      query.outputs.join(','),
    ].join('\u0001');
    const finished = new Map<number, FinishedBucket>();
    const mergeBuckets = new Set<number>();
    // Hours to read, once each: the minute buckets of one hour all draw on that hour.
    const batchHoursNeeded = new Map<number, SealedHour>();
    const bucketKeys = new Map<number, string>();
    for (const bucket of buckets) {
      const end = outputBucketEnd(bucket, granularity, range);
      const bucketHours: SealedHour[] = [];
      let allSealed = true;
      // From the hour the bucket starts in: a bucket shorter than an hour lies inside one.
      for (let hour = hourOf(bucket); hour < end; hour += HOUR_MS) {
        const sealed = snapshot.sealed.get(hour);
        if (sealed === undefined) allSealed = false;
        else bucketHours.push(sealed);
      }
      if (allSealed) {
        const key = `${shapeKey}\u0001${bucket}\u0001${bucketHours.map((h) => `${h.hour}:${h.pointerVersion}`).join(',')}`;
        const cached = this.bucketCache.get(key);
        if (cached !== undefined) {
          finished.set(bucket, cached);
          continue;
        }
        bucketKeys.set(bucket, key);
      }
      for (const sealed of bucketHours) batchHoursNeeded.set(sealed.hour, sealed);
      mergeBuckets.add(bucket);
    }

    // Every group of the answer so far; it only grows, so the limits are checked as rows arrive
    // and a query that would exceed them is refused before the rest of its partials are read.
    const seen = new Set<string>();
    for (const result of finished.values()) for (const key of result.keys()) seen.add(key);
    const refuseIfTooLarge = () =>
      this.#refuseIfTooLarge(seen.size, buckets.length * Math.max(1, query.outputs.length));
    refuseIfTooLarge();
    const groupIndexes = query.groupBy.map((dimension) => model.dimensions.indexOf(dimension));
    const merged = new Map<string, MergedGroup>();
    const foldRows = (rows: PartialRow[]) => {
      for (const row of rows) {
        // Batch hours are read whole; a range that starts or ends inside an hour (trending) cuts them.
        if (row.bucket < range.from || row.bucket >= range.to) continue;
        const bucket = outputBucket(row.bucket, granularity, range);
        if (!mergeBuckets.has(bucket)) continue;
        const created = this.#fold(query, merged, groupIndexes, bucket, row);
        if (created !== null) seen.add(created);
      }
      refuseIfTooLarge();
    };
    foldRows(speedRows);
    // Step three: batch partials for exactly the snapshotted versions, a growing chunk at a time.
    for (const hours of growingChunks([...batchHoursNeeded.values()].sort((a, b) => a.hour - b.hour))) {
      foldRows(await this.#readBatch(model.name, hours, query.filter));
    }

    // Buckets made only of sealed hours are finished once and cached under their versions.
    for (const [bucket, key] of bucketKeys) {
      const result: FinishedBucket = new Map();
      for (const [groupKey, group] of merged) {
        const states = group.states.get(bucket);
        if (states !== undefined) {
          const values = model.finalize(states, query.outputs);
          result.set(groupKey, { dims: group.dims, values, valuesJson: JSON.stringify(values) });
        }
      }
      this.bucketCache.set(key, result);
      finished.set(bucket, result);
    }

    // Every group seen in any bucket gets a point in every bucket.
    const groupDims = new Map<string, DimensionValue[]>();
    for (const [key, group] of merged) groupDims.set(key, group.dims);
    for (const result of finished.values()) {
      for (const [key, entry] of result) if (!groupDims.has(key)) groupDims.set(key, entry.dims);
    }

    const emptyValues = model.finalize({}, query.outputs);
    const emptyJson = JSON.stringify(emptyValues);
    const nullValues: Record<string, unknown> = {};
    for (const output of query.outputs) nullValues[output] = null;
    const nullJson = JSON.stringify(nullValues);

    const groups: SeriesGroup[] = [];
    const orderedKeys = [...groupDims.keys()].sort();
    for (const key of orderedKeys) {
      const dimsArray = groupDims.get(key)!;
      // No prototype: dimension names are stream field names, and `__proto__` is a valid one.
      const dims: Record<string, DimensionValue> = Object.create(null) as Record<string, DimensionValue>;
      query.groupBy.forEach((dimension, index) => {
        dims[dimension] = dimsArray[index] ?? null;
      });
      const points: SeriesPoint[] = buckets.map((bucket, index) => {
        const source = bucketSources[index]!;
        const cached = finished.get(bucket);
        if (cached !== undefined) {
          const entry = cached.get(key);
          return entry === undefined
            ? { bucket, source, values: emptyValues, valuesJson: emptyJson }
            : { bucket, source, values: entry.values, valuesJson: entry.valuesJson };
        }
        const states = merged.get(key)?.states.get(bucket);
        if (states !== undefined) return { bucket, source, values: model.finalize(states, query.outputs) };
        return source === 'none'
          ? { bucket, source, values: nullValues, valuesJson: nullJson }
          : { bucket, source, values: emptyValues, valuesJson: emptyJson };
      });
      groups.push({ dims, points });
    }
    return { coverage, buckets, groups, complete: snapshot.allSealed };
  }

  /**
   * Merged partial states of the whole range per group (granularity `all`, nothing finalized),
   * for answers computed from states themselves, such as the top keys of a topK measure or the
   * top values of a dimension. More than `maxGroups` groups are refused while reading, as in
   * `series`.
   */
  async mergeAll(
    query: SeriesQuery,
    snapshot: BatchSnapshot,
    freshness: Freshness,
    maxGroups = Number.POSITIVE_INFINITY,
  ): Promise<{
    coverage: CoverageEntry[];
    source: PointSource;
    groups: Array<{ dims: DimensionValue[]; states: Record<string, Cells> }>;
  }> {
    const allQuery: SeriesQuery = { ...query, granularity: 'all' };
    const { rows: speedRows, coverage } = await this.#readSpeed(allQuery, snapshot, freshness);
    const groupIndexes = query.groupBy.map((dimension) => query.model.dimensions.indexOf(dimension));
    const merged = new Map<string, MergedGroup>();
    const foldRows = (rows: PartialRow[]) => {
      for (const row of rows) {
        if (row.bucket < query.range.from || row.bucket >= query.range.to) continue;
        this.#fold(allQuery, merged, groupIndexes, query.range.from, row);
      }
      if (merged.size > maxGroups) throw tooManyGroups(merged.size, maxGroups);
    };
    foldRows(speedRows);
    const sealed = [...snapshot.sealed.values()].sort((a, b) => a.hour - b.hour);
    for (const hours of growingChunks(sealed)) {
      foldRows(await this.#readBatch(query.model.name, hours, query.filter));
    }
    const [source] = this.#bucketSources(coverage, [query.range.from], 'all', query.range);
    const groups = [...merged.values()].map((group) => ({
      dims: group.dims,
      states: group.states.get(query.range.from) ?? {},
    }));
    return { coverage, source: source!, groups };
  }

  /** Refuses an answer of more groups, or values (groups x values per group), than the limits. */
  #refuseIfTooLarge(groups: number, valuesPerGroup: number): void {
    if (groups > this.#options.maxGroups) throw tooManyGroups(groups, this.#options.maxGroups);
    const valueCount = groups * valuesPerGroup;
    if (valueCount > this.#options.maxValues) {
      throw queryTooLarge(
        'granularity',
        `the answer would hold at least ${valueCount} values, more than the limit of ${this.#options.maxValues}; ` +
          'use a coarser granularity, a shorter range, fewer measures or a filter',
      );
    }
  }

  /** Folds a row into its group's bucket; returns the group's key when the row created it. */
  #fold(
    query: SeriesQuery,
    merged: Map<string, MergedGroup>,
    groupIndexes: number[],
    bucket: number,
    row: PartialRow,
  ): string | null {
    const dims = groupIndexes.map((index) => row.dims[index] ?? null);
    const key = groupKey(dims);
    let group = merged.get(key);
    let created: string | null = null;
    if (group === undefined) {
      group = { dims, states: new Map() };
      merged.set(key, group);
      created = key;
    }
    const current = group.states.get(bucket);
    const measures = query.model.view.measures;
    if (current === undefined) {
      // Copy the references only: cached rows are shared and must never be mutated.
      const picked: Record<string, Cells> = {};
      for (const name of query.measures) {
        const state = row.states[name];
        if (state !== undefined) picked[name] = state;
      }
      group.states.set(bucket, picked);
      return created;
    }
    for (const name of query.measures) {
      const state = row.states[name];
      if (state === undefined) continue;
      const before = current[name];
      current[name] = before === undefined ? state : measures[name]!.merge(before, state);
    }
    return created;
  }

  /**
   * Which layer serves each base hour: batch when sealed; speed when speed holds rows for it, or
   * when the hour is one speed vouches for although it has no rows there (a quiet hour: its counts
   * are zero). Speed vouches for an hour at or before its watermark, within its retention, and not
   * before the view's data begins, so the hours before a stream had any data are `none` rather
   * than zeros. The data begins, as far as serving can see, before the batch layer's sealed-through
   * (batch seals from the earliest archived hour on), or at the first hour speed holds rows for in
   * the range.
   */
  #coverage(
    hours: number[],
    snapshot: BatchSnapshot,
    freshness: Freshness,
    speedRows: PartialRow[],
  ): CoverageEntry[] {
    const speedHours = new Set<number>();
    let firstSpeedHour = Number.POSITIVE_INFINITY;
    for (const row of speedRows) {
      const hour = hourOf(row.bucket);
      speedHours.add(hour);
      if (hour < firstSpeedHour) firstSpeedHour = hour;
    }
    const watermark = freshness.speedWatermark;
    const sealedThrough = freshness.sealedThrough;
    const speedVouches = (hour: number): boolean =>
      watermark !== null &&
      hour <= watermark &&
      hour + HOUR_MS > watermark - this.#options.speedRetentionMs &&
      ((sealedThrough !== null && hour >= sealedThrough) || hour >= firstSpeedHour);
    return hours.map((hour) => {
      const sealed = snapshot.sealed.get(hour);
      if (sealed !== undefined) return { bucket: hour, source: 'batch', runId: sealed.runId };
      const source = speedHours.has(hour) || speedVouches(hour) ? 'speed' : 'none';
      return { bucket: hour, source, runId: null };
    });
  }

  #bucketSources(
    coverage: CoverageEntry[],
    buckets: number[],
    granularity: Granularity,
    range: TimeRange,
  ): PointSource[] {
    const byHour = new Map<number, CoverageSource>();
    for (const entry of coverage) byHour.set(entry.bucket, entry.source);
    return buckets.map((bucket) => {
      const end = Math.min(outputBucketEnd(bucket, granularity, range), range.to);
      let batch = false;
      let speed = false;
      for (let hour = Math.floor(bucket / HOUR_MS) * HOUR_MS; hour < end; hour += HOUR_MS) {
        const source = byHour.get(hour);
        if (source === 'batch') batch = true;
        else if (source === 'speed') speed = true;
      }
      return batch && speed ? 'mixed' : batch ? 'batch' : speed ? 'speed' : 'none';
    });
  }

  /**
   * Step two: speed partials for the range's hours outside the snapshot, and from them (once) which
   * layer serves each hour.
   */
  async #readSpeed(query: SeriesQuery, snapshot: BatchSnapshot, freshness: Freshness): Promise<SpeedSide> {
    const hours = hoursOf(query.range);
    const now = this.#options.now();
    // Hours the speed layer has closed (past the watermark by more than the allowed lateness) no
    // longer change there, so their reads are kept longer than those of the open hours.
    const closedBefore =
      freshness.speedWatermark === null
        ? Number.NEGATIVE_INFINITY
        : freshness.speedWatermark - this.#options.speedAllowedLatenessMs;
    const runs: Array<TimeRange & { closed: boolean }> = [];
    for (const hour of hours) {
      // Nothing can be in speed for hours that have not started yet.
      if (snapshot.sealed.has(hour) || hour > now) continue;
      const closed = hour + HOUR_MS <= closedBefore;
      const last = runs[runs.length - 1];
      if (last !== undefined && last.to === hour && last.closed === closed) last.to = hour + HOUR_MS;
      else runs.push({ from: hour, to: hour + HOUR_MS, closed });
    }
    const fKey = filterKey(query.filter);
    const parts = await readerCall('speed', () =>
      Promise.all(
        runs.map(({ from, to, closed }) =>
          (closed ? this.#closedSpeedReads : this.#speedReads).load(
            `${query.model.name}\u0001${from}\u0001${to}\u0001${fKey}`,
            () => this.#options.speed.readPartials(query.model.name, { from, to }, query.filter),
          ),
        ),
      ),
    );
    const rows: PartialRow[] = [];
    for (const part of parts) {
      for (const row of part) {
        const hour = hourOf(row.bucket);
        // Defensive: a reader returning a sealed hour's row must not make it count twice.
        if (row.bucket >= query.range.from && row.bucket < query.range.to && !snapshot.sealed.has(hour)) {
          rows.push(row);
        }
      }
    }
    return {
      rows,
      readsKey: parts.map(identityOf).join('.'),
      coverage: this.#coverage(hours, snapshot, freshness, rows),
    };
  }

  async #readBatch(view: string, hours: SealedHour[], filter: DimensionFilter): Promise<PartialRow[]> {
    if (hours.length === 0) return [];
    const fKey = filterKey(filter);
    const keyOf = (hour: SealedHour) => `${view}\u0001${hour.hour}\u0001${hour.pointerVersion}\u0001${fKey}`;
    const rows: PartialRow[] = [];
    const missing: SealedHour[] = [];
    for (const hour of hours) {
      const cached = this.partialCache.get(keyOf(hour));
      if (cached === undefined) missing.push(hour);
      else for (const row of cached) rows.push(row);
    }
    if (missing.length > 0) {
      const read = await readerCall('batch', () => this.#options.batch.readPartials(view, missing, filter));
      const byHour = new Map<number, PartialRow[]>();
      for (const hour of missing) byHour.set(hour.hour, []);
      for (const row of read) {
        const list = byHour.get(hourOf(row.bucket));
        // Rows outside the asked hours would be a reader bug; ignore rather than double-count.
        if (list !== undefined) list.push(row);
      }
      for (const hour of missing) {
        const list = byHour.get(hour.hour)!;
        for (const row of list) rows.push(row);
        this.partialCache.set(keyOf(hour), list, 1 + cellCount(list));
      }
    }
    return rows;
  }
}

const identities = new WeakMap<object, number>();
let nextIdentity = 0;

/** A number naming one object for as long as it lives (cached reads are immutable). */
function identityOf(value: object): number {
  let id = identities.get(value);
  if (id === undefined) {
    id = ++nextIdentity;
    identities.set(value, id);
  }
  return id;
}

/**
 * Calls a reader; a foreign failure (a Redis or S3 client error) becomes a retryable
 * `TANDEM_ERR_SERVICE_UNAVAILABLE` naming the layer, so clients get a 503 instead of a 500.
 */
async function readerCall<T>(layer: 'batch' | 'speed', call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isTandemError(error)) throw error;
    throw new TandemError(
      'TANDEM_ERR_SERVICE_UNAVAILABLE',
      `the ${layer} layer could not be read; check that its store is reachable and retry`,
      { cause: error, retryable: true, details: { service: layer } },
    );
  }
}

/** Hours of the first chunk of batch partials a query reads; each later chunk is twice as long. */
const FIRST_CHUNK_HOURS = 24;

/**
 * The hours to read in chunks of 24, 48, 96, ... hours: a query over too many groups is refused
 * after its first day or so, while one that fits costs only a few reads more than one (7 for the
 * longest hourly range of 93 days).
 */
function* growingChunks<T>(hours: readonly T[]): Generator<T[]> {
  let size = FIRST_CHUNK_HOURS;
  for (let start = 0; start < hours.length; start += size, size *= 2) {
    yield hours.slice(start, start + size);
  }
}

function tooManyGroups(groups: number, limit: number): TandemError {
  return queryTooLarge(
    'groupBy',
    `the query yields at least ${groups} groups, more than the limit of ${limit}; ` +
      'filter on a dimension or group by fewer dimensions',
  );
}

function hourOf(ts: number): number {
  return Math.floor(ts / HOUR_MS) * HOUR_MS;
}

/** Stable key of a dimension tuple; distinguishes null from the string "null" and 1 from "1". */
export function groupKey(dims: DimensionValue[]): string {
  let key = '';
  for (const value of dims) {
    key += value === null ? '\u0000n' : typeof value === 'number' ? `\u0000#${value}` : `\u0000s${value}`;
  }
  return key;
}

function filterKey(filter: DimensionFilter): string {
  return Object.keys(filter)
    .sort()
    .map((name) => `${name}=${filter[name]}`)
    .join('\u0002');
}

function cellCount(rows: PartialRow[]): number {
  let cells = 0;
  for (const row of rows) {
    for (const name in row.states) {
      for (const _ in row.states[name]) cells++;
    }
  }
  return cells;
}

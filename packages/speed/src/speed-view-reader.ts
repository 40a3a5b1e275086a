// Reads the real-time views for the serving layer (core's `SpeedViewReader` contract): fans out
// over the Kafka partitions' hash-tagged keys, merges each cell with its measure's merge (add /
// min / max commute across partitions), and reports the watermark, applied offsets, lag and the
// exactly-once counters kept in Redis.
// Views come from a catalog; each is read under its own stream's keys, and status is per stream.
import {
  builtinCatalog,
  type Catalog,
  type Cells,
  type DimensionFilter,
  HOUR_MS,
  isDeadlineExceeded,
  type MergeOp,
  type PartialRow,
  type SpeedStatus,
  type SpeedViewReader,
  TandemError,
  type TimeRange,
  type View,
  webStream,
  withDeadline,
} from '@tandem/core';
import type { Admin } from 'kafkajs';
import { BUCKET_MARKER_FIELD, parseCellField, type SpeedKeys, speedKeys } from './key-schema.ts';
import type { RedisClient } from './scripts.ts';

/** How long a status call waits for Kafka's topic list and offsets before reporting lag as unknown. */
const KAFKA_STATUS_TIMEOUT_MS = 5_000;

export interface RedisSpeedViewReaderOptions {
  /** Not closed by the reader. */
  redis: RedisClient;
  /** Same as the worker's. @defaultValue 'tandem' */
  prefix?: string;
  /** The views (and their streams) to read. @defaultValue the built-in catalog (the web stream's views) */
  catalog?: Catalog;
  /**
   * Source topic of the web stream `events`, for lag, when it differs from the catalog's (callers
   * without a catalog). Other streams' topics come from the catalog. @defaultValue the catalog's
   */
  topic?: string;
  /** A connected Kafka admin; without it `lag` is null. Not closed by the reader. */
  admin?: Admin;
  /** The worker's allowed lateness, for `closedThrough`. @defaultValue 300000 */
  allowedLatenessMs?: number;
}

/** Where real-time data lives: the Redis client and the key prefix (and the views' catalog). */
export interface SpeedStore {
  redis: RedisClient;
  prefix: string;
  /** Resolves view names. @defaultValue the built-in catalog */
  catalog?: Catalog;
}

/** Reads partial rows and status of the real-time views from Redis (core's `SpeedViewReader`). */
export class RedisSpeedViewReader implements SpeedViewReader {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #catalog: Catalog;
  readonly #keys = new Map<string, SpeedKeys>();
  readonly #webTopic: string | undefined;
  readonly #admin: Admin | undefined;
  readonly #allowedLatenessMs: number;
  /** The stream `status()` and `partitions()` report without an argument. */
  readonly defaultStream: string;

  constructor(options: RedisSpeedViewReaderOptions) {
    this.#redis = options.redis;
    this.#prefix = options.prefix ?? 'tandem';
    this.#catalog = options.catalog ?? builtinCatalog();
    this.#webTopic = options.topic;
    this.#admin = options.admin;
    this.#allowedLatenessMs = options.allowedLatenessMs ?? 5 * 60_000;
    const streams = this.#catalog.streams.map((stream) => stream.name);
    this.defaultStream = streams.includes(webStream.name) ? webStream.name : streams[0]!;
  }

  /** The catalog views are resolved in. */
  get catalog(): Catalog {
    return this.#catalog;
  }

  /** The keys of a stream of the catalog. */
  keys(stream: string = this.defaultStream): SpeedKeys {
    let keys = this.#keys.get(stream);
    if (keys === undefined) {
      this.#catalog.stream(stream); // a coded error for a stream the catalog does not know
      keys = speedKeys(this.#prefix, stream);
      this.#keys.set(stream, keys);
    }
    return keys;
  }

  /**
   * Partial rows of `viewName` for the buckets starting in `range`, merged over partitions, with
   * every measure present (empty state when no cell was written), sorted by bucket then dims.
   */
  async readPartials(viewName: string, range: TimeRange, filter: DimensionFilter): Promise<PartialRow[]> {
    const view = this.#catalog.view(viewName);
    const matches = dimensionMatcher(view, filter);
    const keys = this.keys(view.stream);
    const partitions = await this.partitions(view.stream);
    const from = Math.floor(range.from / view.bucketMs) * view.bucketMs;
    const bucketLists = await Promise.all(
      partitions.map((partition) =>
        this.#redis.zrangebyscore(keys.bucketIndex(partition, view.name, view.version), from, `(${range.to}`),
      ),
    );
    const reads: Array<Promise<[number, Record<string, string>]>> = [];
    partitions.forEach((partition, i) => {
      for (const bucket of bucketLists[i]!) {
        const bucketMs = Number(bucket);
        const key = keys.bucket(partition, view.name, view.version, bucketMs);
        reads.push(this.#redis.hgetall(key).then((fields) => [bucketMs, fields]));
      }
    });
    const rows = new Map<string, PartialRow>();
    const ops = new Map(Object.entries(view.measures).map(([name, measure]) => [name, measure.op]));
    for (const [bucketMs, fields] of await Promise.all(reads)) {
      for (const field in fields) {
        if (field === BUCKET_MARKER_FIELD) continue;
        const parts = parseCellField(field);
        if (parts === null) continue;
        const op = ops.get(parts.measure);
        if (op === undefined) continue;
        const rowKey = `${bucketMs}\n${parts.dimsJson}`;
        let row = rows.get(rowKey);
        if (row === undefined) {
          const dims = JSON.parse(parts.dimsJson) as PartialRow['dims'];
          if (!matches(dims)) continue;
          row = { bucket: bucketMs, dims, states: emptyStates(view) };
          rows.set(rowKey, row);
        }
        const cells = row.states[parts.measure]!;
        cells[parts.cell] = mergeCell(op, cells[parts.cell], Number(fields[field]));
      }
    }
    return [...rows.values()].sort(
      (a, b) => a.bucket - b.bucket || compareText(JSON.stringify(a.dims), JSON.stringify(b.dims)),
    );
  }

  /** Watermark, per-partition applied offsets and lag, and the counters of one stream. */
  async status(stream: string = this.defaultStream): Promise<SpeedStatus> {
    const keys = this.keys(stream);
    const partitions = await this.partitions(stream);
    const [metas, highs, warnings] = await Promise.all([
      Promise.all(partitions.map((partition) => this.#redis.hgetall(keys.meta(partition)))),
      this.#highWatermarks(stream),
      this.#redis.hgetall(keys.schemaWarnings()),
    ]);
    let watermark: number | null = null;
    let maxEventTime: number | null = null;
    const status: SpeedStatus = {
      stream,
      watermark: null,
      maxEventTime: null,
      partitions: [],
      dlqCount: 0,
      lateCount: 0,
      eventsApplied: 0,
      duplicateCount: 0,
      closedThrough: null,
      schemaWarnings: Object.entries(warnings)
        .sort((a, b) => Number(a[0]) - Number(b[0]))
        .map(([, message]) => message),
    };
    partitions.forEach((partition, i) => {
      const meta = metas[i]!;
      const appliedOffset = meta.offset ?? null;
      const partitionWatermark = numberOrNull(meta.watermark);
      const partitionMax = numberOrNull(meta.maxEventTime);
      if (partitionWatermark !== null) {
        watermark = watermark === null ? partitionWatermark : Math.min(watermark, partitionWatermark);
      }
      if (partitionMax !== null)
        maxEventTime = maxEventTime === null ? partitionMax : Math.max(maxEventTime, partitionMax);
      const high = highs?.get(partition);
      status.partitions.push({
        partition,
        appliedOffset,
        lag:
          high === undefined
            ? null
            : Math.max(0, high.high - (appliedOffset === null ? high.low : Number(appliedOffset) + 1)),
        watermark: partitionWatermark,
        updatedAt: numberOrNull(meta.updatedAt),
      });
      status.dlqCount += Number(meta.dlq ?? 0);
      status.lateCount += Number(meta.late ?? 0);
      status.eventsApplied += Number(meta.applied ?? 0);
      status.duplicateCount += Number(meta.duplicates ?? 0);
    });
    status.watermark = watermark;
    status.maxEventTime = maxEventTime;
    status.closedThrough = watermark === null ? null : watermark - this.#allowedLatenessMs;
    return status;
  }

  /** The status of every stream of the catalog, in declaration order. */
  statuses(): Promise<SpeedStatus[]> {
    return Promise.all(this.#catalog.streams.map((stream) => this.status(stream.name)));
  }

  /** Kafka partitions the speed layer has claimed for a stream, ascending. */
  async partitions(stream: string = this.defaultStream): Promise<number[]> {
    const members = await this.#redis.smembers(this.keys(stream).partitions());
    return members.map(Number).sort((a, b) => a - b);
  }

  /** Deletes the real-time data of `hours` (hour starts, epoch ms) for `view`; see `dropHours`. */
  dropHours(view: string, hours: number[]): Promise<number> {
    return dropHours({ redis: this.#redis, prefix: this.#prefix, catalog: this.#catalog }, view, hours);
  }

  async #highWatermarks(stream: string): Promise<Map<number, { low: number; high: number }> | null> {
    if (this.#admin === undefined) return null;
    const topic =
      stream === webStream.name && this.#webTopic !== undefined
        ? this.#webTopic
        : this.#catalog.stream(stream).topic;
    // kafkajs answers a topic that does not exist (yet) with a retriable metadata error, and
    // retries it for minutes, so one missing topic would hang every status call: ask which topics
    // exist first, and bound both requests. Either way the lag is unknown, not an error.
    try {
      const topics = await withDeadline(this.#admin.listTopics(), KAFKA_STATUS_TIMEOUT_MS, 'Kafka (topics)');
      if (!topics.includes(topic)) return null;
      const offsets = await withDeadline(
        this.#admin.fetchTopicOffsets(topic),
        KAFKA_STATUS_TIMEOUT_MS,
        `Kafka (offsets of ${topic})`,
      );
      return new Map(
        offsets.map((entry) => [entry.partition, { low: Number(entry.low), high: Number(entry.high) }]),
      );
    } catch (error) {
      if (isDeadlineExceeded(error)) return null;
      throw error;
    }
  }
}

/**
 * Deletes the real-time buckets of `view` (a view, or its name in `store.catalog`) inside the given
 * hours in every partition of its stream, for hours the batch layer has sealed (the cli's janitor
 * calls it after the grace period). Returns how many bucket hashes existed. Keys are deleted one by
 * one, so the calls are valid on Redis Cluster.
 */
export async function dropHours(
  store: SpeedStore,
  viewOrName: string | View,
  hours: number[],
): Promise<number> {
  const view =
    typeof viewOrName === 'string' ? (store.catalog ?? builtinCatalog()).view(viewOrName) : viewOrName;
  const keys = speedKeys(store.prefix, view.stream);
  const members = await store.redis.smembers(keys.partitions());
  const deletions: Array<Promise<number>> = [];
  for (const partition of members.map(Number)) {
    const indexKey = keys.bucketIndex(partition, view.name, view.version);
    for (const hour of hours) {
      const start = Math.floor(hour / HOUR_MS) * HOUR_MS;
      for (let bucket = start; bucket < start + HOUR_MS; bucket += view.bucketMs) {
        deletions.push(store.redis.del(keys.bucket(partition, view.name, view.version, bucket)));
      }
      deletions.push(store.redis.zremrangebyscore(indexKey, start, `(${start + HOUR_MS}`).then(() => 0));
    }
  }
  const deleted = await Promise.all(deletions);
  return deleted.reduce((sum, count) => sum + count, 0);
}

function emptyStates(view: View): Record<string, Cells> {
  const states: Record<string, Cells> = {};
  for (const [name, measure] of Object.entries(view.measures)) states[name] = measure.empty();
  return states;
}

function mergeCell(op: MergeOp, current: number | undefined, value: number): number {
  if (current === undefined) return value;
  if (op === 'add') return current + value;
  return op === 'min' ? Math.min(current, value) : Math.max(current, value);
}

function dimensionMatcher(view: View, filter: DimensionFilter): (dims: PartialRow['dims']) => boolean {
  const checks: Array<[number, string]> = [];
  for (const [name, wanted] of Object.entries(filter)) {
    const position = (view.dimensions as readonly string[]).indexOf(name);
    if (position < 0) {
      throw new TandemError(
        'TANDEM_ERR_QUERY_INVALID',
        `view ${view.name} has no dimension "${name}"; filter on one of ${view.dimensions.join(', ') || '(none)'}`,
        { details: { view: view.name, dimension: name } },
      );
    }
    checks.push([position, wanted]);
  }
  return (dims) =>
    checks.every(([position, wanted]) => dims[position] !== null && String(dims[position]) === wanted);
}

function numberOrNull(value: string | undefined): number | null {
  return value === undefined || value === '' ? null : Number(value);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

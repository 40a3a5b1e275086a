// The batch layer's status per view — sealed-through and stale hours — as one small record per view
// in Redis. The scheduler recomputes it every `statusRefreshMs` and the batch layer after every run
// that published, so a status page polled every few seconds reads one key instead of listing the
// lake; the serving layer reads through `StatusBackedViewReader`, which computes a record itself only
// when none is fresh enough (no scheduler running) and shares it with every replica.
import {
  type BatchViewReader,
  type DimensionFilter,
  type PartialRow,
  type RunRecord,
  type SealedHour,
  serviceUnavailable,
  type TimeRange,
  type View,
} from '@tandem/core';
import { describeRedis, type RedisClient } from '@tandem/connections';
import type { Logger } from 'pino';

/** What the batch layer knows about one view, and when it found out. */
export interface ViewStatusRecord {
  format: 'tandem.batch.status/1';
  view: string;
  version: number;
  stream: string;
  /** Every hour before it is sealed; null while the view has no sealed hour. */
  sealedThrough: number | null;
  /** Sealed hours (within the catch-up window) whose inputs changed since their run. */
  staleHours: number[];
  /** When the computation finished (epoch ms): how old the figures are. */
  computedAt: number;
  /** How long the computation took (listing the view's pointers and its stream's logs). */
  durationMs: number;
  /** The process that computed it (the batch layer's owner id). */
  computedBy: string;
}

/** The Redis home of the status records: `<prefix>:batch:status:<view>:<version>`, one JSON string each. */
export class BatchStatusStore {
  readonly #redis: RedisClient;
  readonly #prefix: string;

  constructor(redis: RedisClient, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  key(view: string, version: number): string {
    return `${this.#prefix}:batch:status:${view}:${version}`;
  }

  async write(record: ViewStatusRecord): Promise<void> {
    try {
      await this.#redis.set(this.key(record.view, record.version), JSON.stringify(record));
    } catch (error) {
      throw serviceUnavailable('Redis', describeRedis(this.#redis), error);
    }
  }

  /** The stored record, or null when there is none (or it is not one of ours). */
  async read(view: string, version: number): Promise<ViewStatusRecord | null> {
    let text: string | null;
    try {
      text = await this.#redis.get(this.key(view, version));
    } catch (error) {
      throw serviceUnavailable('Redis', describeRedis(this.#redis), error);
    }
    if (text === null) return null;
    try {
      const record = JSON.parse(text) as ViewStatusRecord;
      return record.format === 'tandem.batch.status/1' ? record : null;
    } catch {
      return null;
    }
  }
}

export interface StatusBackedViewReaderOptions {
  /** The exact reader: pointers, partials and run history go straight to it. */
  reader: BatchViewReader;
  store: BatchStatusStore;
  /** Resolves a view name (its version keys the record). */
  view: (name: string) => View;
  /** Computes and stores a fresh record of a view (the batch layer's `refreshStatus`). */
  refresh: (view: string) => Promise<ViewStatusRecord>;
  now: () => number;
  logger: Logger;
  /** How long a record read from Redis is reused in memory. @defaultValue 1000 */
  cacheTtlMs: number;
  /**
   * A record older than this is computed again here (once at a time per view), so a deployment
   * without a running scheduler still sees its status, at the cost of one computation per
   * `maxAgeMs`; five scheduler refreshes (`statusRefreshMs`) fit in it. @defaultValue 300000
   */
  maxAgeMs: number;
}

export const defaultStatusBackedViewReaderOptions = { cacheTtlMs: 1000, maxAgeMs: 300_000 } as const;

/**
 * The batch reader the serving layer uses: `sealedThrough` and `staleHours` come from the status
 * record (a Redis read), everything else from the exact reader. When Redis cannot be read it falls
 * back to the exact reader, which lists the lake, so a Redis outage costs speed, not answers.
 */
export class StatusBackedViewReader implements BatchViewReader {
  readonly #options: StatusBackedViewReaderOptions;
  readonly #cache = new Map<string, { at: number; record: Promise<ViewStatusRecord> }>();
  readonly #refreshing = new Map<string, Promise<ViewStatusRecord>>();
  /** Whether the last read fell back to the lake: logged once per outage, not once per call. */
  #degraded = false;

  constructor(options: StatusBackedViewReaderOptions) {
    this.#options = options;
  }

  sealedHours(view: string, range: TimeRange): Promise<SealedHour[]> {
    return this.#options.reader.sealedHours(view, range);
  }

  readPartials(view: string, hours: SealedHour[], filter: DimensionFilter): Promise<PartialRow[]> {
    return this.#options.reader.readPartials(view, hours, filter);
  }

  runHistory(view: string, limit: number): Promise<RunRecord[]> {
    return this.#options.reader.runHistory(view, limit);
  }

  async sealedThrough(view: string): Promise<number | null> {
    try {
      return this.#recovered((await this.status(view)).sealedThrough);
    } catch (error) {
      this.#fellBack(error, view);
      return this.#options.reader.sealedThrough(view);
    }
  }

  async staleHours(view: string): Promise<number[]> {
    try {
      return this.#recovered((await this.status(view)).staleHours);
    } catch (error) {
      this.#fellBack(error, view);
      return this.#options.reader.staleHours(view);
    }
  }

  #fellBack(error: unknown, view: string): void {
    if (this.#degraded) return;
    this.#degraded = true;
    this.#options.logger.warn(
      { err: error, view },
      'batch status records unreadable; listing the lake until they are back',
    );
  }

  #recovered<T>(value: T): T {
    if (this.#degraded) {
      this.#degraded = false;
      this.#options.logger.info('batch status records readable again');
    }
    return value;
  }

  /** The view's status record: from memory, else Redis, else computed now (and stored for everyone). */
  status(viewName: string): Promise<ViewStatusRecord> {
    const { now, cacheTtlMs } = this.#options;
    const view = this.#options.view(viewName);
    const key = `${view.name}:${view.version}`;
    const at = now();
    const cached = this.#cache.get(key);
    if (cached !== undefined && at - cached.at < cacheTtlMs) return cached.record;
    const record = this.#load(view);
    this.#cache.set(key, { at, record });
    record.catch(() => this.#cache.delete(key));
    return record;
  }

  async #load(view: View): Promise<ViewStatusRecord> {
    const stored = await this.#options.store.read(view.name, view.version);
    if (stored !== null && this.#options.now() - stored.computedAt <= this.#options.maxAgeMs) return stored;
    const key = `${view.name}:${view.version}`;
    let refreshing = this.#refreshing.get(key);
    if (refreshing === undefined) {
      refreshing = this.#options.refresh(view.name).finally(() => this.#refreshing.delete(key));
      this.#refreshing.set(key, refreshing);
    }
    return refreshing;
  }
}

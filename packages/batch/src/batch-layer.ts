// The batch layer assembled: object store, Redis (leases, run history), DuckDB, the runner and the
// reader, plus the ops entry points the `tandem` command calls — run one hour, recompute a range
// (forced, or a dry run that lists hours and inputs), backfill missing and stale hours, status —
// plus the status record per view kept in Redis (sealed-through, stale hours) and the queue of
// recompute jobs the serving layer hands work to. It maintains every view of its catalog (injected;
// the built-in web catalog by default), each from its own stream's raw logs.
import { connectRedis, type RedisClient } from '@tandem/connections';
import {
  builtinCatalog,
  type Catalog,
  createCatalog,
  HOUR_MS,
  hourStart,
  type RunRecord,
  type Stream,
  type TandemConfig,
  TandemError,
  type TimeRange,
  type View,
} from '@tandem/core';
import { type ObjectStore, openObjectStore } from '@tandem/lake';
import { type Logger, pino } from 'pino';
import { type BatchOptions, batchOptionsFromConfig, resolveBatchOptions } from './batch-options.ts';
import {
  type BatchRuntime,
  BatchRunner,
  defaultOwner,
  type HourOutcome,
  type RunHooks,
  type RunHoursOptions,
} from './batch-runner.ts';
import {
  BatchStatusStore,
  defaultStatusBackedViewReaderOptions,
  StatusBackedViewReader,
  type StatusBackedViewReaderOptions,
  type ViewStatusRecord,
} from './batch-status.ts';
import { LakeBatchViewReader, staleAmong } from './batch-view-reader.ts';
import { completeBefore, isHourComplete, lastCompleteHour, topicPartitionsOf } from './completeness.ts';
import { DuckDbEngine, sweepStaleWorkDirs } from './duckdb-engine.ts';
import { partitionHoursFor } from './hour-compute.ts';
import { GenerationBuilder } from './generation-builder.ts';
import { GenerationCatalog } from './generation-catalog.ts';
import { earliestLogHour, type InputObject, listInputs } from './input-staging.ts';
import { LeaseManager } from './lease.ts';
import type { HourPointer } from './pointer.ts';
import { RecomputeJobs, type RecomputeJobsOptions } from './recompute-jobs.ts';
import { RunHistory } from './run-history.ts';
import { BatchScheduler, type BatchSchedulerOptions } from './scheduler.ts';
import { GenerationRegistry } from './view-generations.ts';

export interface BatchLayerOptions extends Partial<BatchOptions> {
  /** Fills the store, Redis and tuning knobs not given explicitly. */
  config?: TandemConfig;
  /** A ready object store; its owner closes it. Built from `config.lake` when absent. */
  store?: ObjectStore;
  /** A ready Redis client; its owner closes it. Built from `config.redis` when absent. */
  redis?: RedisClient;
  logger?: Logger;
  /** Lease owner id. @defaultValue `<host>:<pid>:<random>` */
  owner?: string;
  /**
   * The streams and views to maintain (the cli's `context.catalog()`). @defaultValue the built-in
   * catalog: the web stream on `config.kafka`'s topics (or on `topic`) and its three views
   */
  catalog?: Catalog;
  /** Views beyond the catalog's, by name (each reads a stream of the catalog); they win over a catalog view of the same name. */
  views?: Record<string, View>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  setTimer?: (callback: () => void, ms: number) => () => void;
  hooks?: RunHooks;
  /** Hours per run call while a new view version is built, newest slice first. @defaultValue 24 */
  buildSliceHours?: number;
  /**
   * How long a view's previous version stays for rollback after a switch, and how long a retired
   * version's lake tree stays before it is deleted. @defaultValue 604800000 (7 days)
   */
  versionRetentionMs?: number;
}

/** One hour of a recompute plan (what a dry run prints). */
export interface RecomputePlanEntry {
  hour: number;
  /** False for hours whose logs may still grow; they are left out. */
  complete: boolean;
  partitions: number[];
  inputs: Array<Pick<InputObject, 'key' | 'size' | 'etag' | 'format'>>;
  inputBytes: number;
  current: { runId: string; rowsOut: number; finishedAt: number; stale: boolean } | null;
}

/** Stops a long operation between hours, and reports each hour's outcome as it lands. */
export interface HourWorkOptions {
  trigger?: RunHoursOptions['trigger'];
  /** Once aborted, no further hour is published (the one being published finishes, pointer last). */
  signal?: AbortSignal;
  onOutcome?: (outcome: HourOutcome) => void;
}

export interface RecomputeResult {
  view: string;
  dryRun: boolean;
  plan: RecomputePlanEntry[];
  outcomes: HourOutcome[];
}

/** What catch-up and backfill would do for a view. */
export interface BatchWorkPlan {
  view: string;
  /** The stream the view reads. */
  stream: string;
  window: TimeRange | null;
  missing: number[];
  stale: number[];
  completeBefore: number;
}

export interface BatchViewStatus {
  view: string;
  /** The stream the view reads. */
  stream: string;
  version: number;
  sealedThrough: number | null;
  lastSealedHour: number | null;
  sealedHours: number;
  missingHours: number[];
  staleHours: number[];
  /** Hours whose latest run in the history failed. */
  failingHours: Array<{ hour: number; code: string; message: string; at: number }>;
  completeBefore: number;
  lastRuns: RunRecord[];
}

export class BatchLayer {
  readonly options: BatchOptions;
  readonly store: ObjectStore;
  readonly redis: RedisClient;
  readonly reader: LakeBatchViewReader;
  readonly runner: BatchRunner;
  readonly runtime: BatchRuntime;
  /**
   * Every stream and view the layer maintains; also resolves a view's other live versions as
   * `<view>@v<n>` once the generation registry has named them.
   */
  readonly catalog: GenerationCatalog;
  /** Builds new view versions beside the serving ones and switches them (the generation registry). */
  readonly generations: GenerationBuilder;
  readonly #engine: DuckDbEngine;
  /** Sealed-through and stale hours per view, as last computed (`refreshStatus`). */
  readonly statusStore: BatchStatusStore;
  readonly #owned: Array<() => Promise<void>>;
  readonly #schedulers = new Set<BatchScheduler>();
  readonly #publishListeners = new Set<(view: string, hour: number) => void>();
  readonly #jobQueues = new Set<RecomputeJobs>();

  /** Use `openBatchLayer`. */
  constructor(parts: {
    options: BatchOptions;
    store: ObjectStore;
    redis: RedisClient;
    engine: DuckDbEngine;
    runtime: BatchRuntime;
    owner: string;
    catalog: GenerationCatalog;
    owned: Array<() => Promise<void>>;
    buildSliceHours?: number;
    versionRetentionMs?: number;
  }) {
    this.options = parts.options;
    this.store = parts.store;
    this.redis = parts.redis;
    this.runtime = parts.runtime;
    this.#engine = parts.engine;
    this.catalog = parts.catalog;
    this.#owned = parts.owned;
    this.generations = new GenerationBuilder(
      this,
      new GenerationRegistry(parts.redis, parts.options.redisPrefix),
      parts.buildSliceHours,
      parts.versionRetentionMs,
    );
    this.statusStore = new BatchStatusStore(parts.redis, parts.options.redisPrefix);
    const history = new RunHistory(parts.redis, parts.options.redisPrefix, parts.options.runHistoryLimit);
    this.runner = new BatchRunner({
      store: parts.store,
      engine: parts.engine,
      leases: new LeaseManager(parts.redis, {
        prefix: parts.options.redisPrefix,
        owner: parts.owner,
        ttlMs: parts.options.leaseTtlMs,
        counterTtlMs: 30 * 24 * HOUR_MS,
        setTimer: parts.runtime.setTimer,
      }),
      history,
      options: parts.options,
      runtime: parts.runtime,
      catalog: parts.catalog,
    });
    this.reader = new LakeBatchViewReader({
      store: parts.store,
      engine: parts.engine,
      history,
      options: parts.options,
      now: parts.runtime.now,
      logger: parts.runtime.logger,
      catalog: parts.catalog,
    });
  }

  /** A view by name (`TANDEM_ERR_VIEW_UNKNOWN` listing the known ones). */
  view(name: string): View {
    return this.catalog.view(name);
  }

  /** Every view the layer maintains, of every stream, in catalog order. */
  views(): View[] {
    return [...this.catalog.views];
  }

  /** The stream a view reads. */
  streamOf(view: View | string): Stream {
    return this.catalog.stream(typeof view === 'string' ? this.view(view).stream : view.stream);
  }

  /**
   * The event time before which a stream's raw logs are complete: its archiver's watermarks (under
   * its lake prefix, for its topic) or the lateness delay.
   */
  completeBefore(stream: Stream, nowMs: number = this.runtime.now()): Promise<number> {
    return completeBefore(
      this.store,
      {
        topic: stream.topic,
        lakePrefix: stream.lakePrefix,
        topicPartitions: topicPartitionsOf(this.options.topicPartitions, stream.topic),
        latenessMs: this.options.latenessMs,
      },
      nowMs,
    );
  }

  /** The first hour with raw logs of a stream, or null while it has none. */
  earliestLogHour(stream: Stream): Promise<number | null> {
    return earliestLogHour(this.store, stream.lakePrefix);
  }

  /**
   * Calls `listener(view, hour)` after every hour this layer publishes (scheduler, jobs, backfill,
   * recompute), for work that follows a publish — the PostgreSQL export. It must not block or throw
   * (a throw is logged and ignored: publishing never waits on a listener). Returns the unsubscribe.
   */
  onPublished(listener: (view: string, hour: number) => void): () => void {
    this.#publishListeners.add(listener);
    return () => this.#publishListeners.delete(listener);
  }

  /** Computes and publishes one hour (skipped when up to date unless `force`). */
  async runHour(view: string, hour: number, options: RunHoursOptions = {}): Promise<HourOutcome> {
    const [outcome] = await this.runHours(view, [hour], options);
    return outcome!;
  }

  /**
   * Computes and publishes hours of one view (see `BatchRunner.runHours`). When one was published,
   * the view's status record is computed again, so status readers see the new sealed-through; an
   * aborted run leaves that to the next refresh, to stop within seconds.
   */
  async runHours(
    view: string,
    hours: readonly number[],
    options: RunHoursOptions = {},
  ): Promise<HourOutcome[]> {
    let outcomes: HourOutcome[];
    try {
      outcomes = await this.runner.runHours(view, hours, options);
    } finally {
      this.reader.invalidate();
    }
    for (const outcome of outcomes) {
      if (outcome.status !== 'published') continue;
      for (const listener of this.#publishListeners) {
        try {
          listener(view, outcome.hour);
        } catch (error) {
          this.runtime.logger.warn({ err: error, view, hour: outcome.hour }, 'a publish listener threw');
        }
      }
    }
    if (outcomes.some((outcome) => outcome.status === 'published') && !options.signal?.aborted) {
      await this.refreshStatus(view).catch((error: unknown) =>
        this.runtime.logger.warn({ err: error, view }, 'could not refresh the batch status record'),
      );
    }
    return outcomes;
  }

  /**
   * Computes a view's sealed-through and stale hours now (listing its pointers and its stream's
   * logs over the catch-up window) and stores the record in Redis. A failed store is logged, and
   * the fresh record is returned all the same.
   */
  async refreshStatus(viewName: string): Promise<ViewStatusRecord> {
    const view = this.view(viewName);
    const started = this.runtime.now();
    const [sealedThrough, staleHours] = await Promise.all([
      this.reader.sealedThrough(viewName),
      this.reader.staleHours(viewName),
    ]);
    const computedAt = this.runtime.now();
    const record: ViewStatusRecord = {
      format: 'tandem.batch.status/1',
      view: view.name,
      version: view.version,
      stream: view.stream,
      sealedThrough,
      staleHours,
      computedAt,
      durationMs: computedAt - started,
      computedBy: this.runner.owner,
    };
    await this.statusStore
      .write(record)
      .catch((error: unknown) =>
        this.runtime.logger.warn({ err: error, view: view.name }, 'could not store the batch status record'),
      );
    return record;
  }

  /**
   * The batch reader for status pages and the serving layer: sealed-through and stale hours from
   * the status record in Redis (computed here only when none is younger than `maxAgeMs`),
   * everything else from `reader`.
   */
  statusReader(
    options: Partial<Pick<StatusBackedViewReaderOptions, 'cacheTtlMs' | 'maxAgeMs'>> = {},
  ): StatusBackedViewReader {
    return new StatusBackedViewReader({
      cacheTtlMs: options.cacheTtlMs ?? defaultStatusBackedViewReaderOptions.cacheTtlMs,
      maxAgeMs: options.maxAgeMs ?? defaultStatusBackedViewReaderOptions.maxAgeMs,
      reader: this.reader,
      store: this.statusStore,
      view: (name) => this.view(name),
      refresh: (name) => this.refreshStatus(name),
      now: this.runtime.now,
      logger: this.runtime.logger,
    });
  }

  /** Recomputes every complete hour of `range` (forced), or with `dryRun` lists hours and inputs. */
  async recompute(
    viewName: string,
    range: TimeRange,
    options: HourWorkOptions & {
      dryRun?: boolean;
      /** Called with the plan before any hour runs (what a job counts its progress against). */
      onPlan?: (plan: readonly RecomputePlanEntry[]) => void;
    } = {},
  ): Promise<RecomputeResult> {
    const view = this.view(viewName);
    const stream = this.streamOf(view);
    if (!(Number.isFinite(range.from) && Number.isFinite(range.to) && range.to > range.from)) {
      throw new TandemError('TANDEM_ERR_QUERY_INVALID', 'recompute needs a range with from < to', {
        details: { range },
      });
    }
    const before = await this.completeBefore(stream);
    const hours: number[] = [];
    for (let hour = hourStart(range.from); hour < range.to; hour += HOUR_MS) hours.push(hour);
    const partitionHours = new Set(hours.flatMap((hour) => partitionHoursFor(view, hour)));
    const listed = await listInputs(this.store, partitionHours, { lakePrefix: stream.lakePrefix });
    const pointers = new Map(
      (
        await this.reader.pointersIn(viewName, { from: hours[0]!, to: hours[hours.length - 1]! + HOUR_MS })
      ).map(({ pointer }) => [pointer.hour, pointer]),
    );
    const stale = new Set(await staleAmong(this.store, view, stream, [...pointers.values()]));
    const plan = hours.map((hour): RecomputePlanEntry => {
      const partitions = partitionHoursFor(view, hour);
      const inputs = partitions.flatMap((partition) => listed.get(partition) ?? []);
      const pointer = pointers.get(hour);
      return {
        hour,
        complete: isHourComplete(view, hour, before),
        partitions,
        inputs: inputs.map(({ key, size, etag, format }) => ({ key, size, etag, format })),
        inputBytes: inputs.reduce((sum, input) => sum + input.size, 0),
        current:
          pointer === undefined
            ? null
            : {
                runId: pointer.runId,
                rowsOut: pointer.rowsOut,
                finishedAt: pointer.finishedAt,
                stale: stale.has(hour),
              },
      };
    });
    if (options.dryRun) return { view: view.name, dryRun: true, plan, outcomes: [] };
    options.onPlan?.(plan);
    const outcomes = await this.runHours(
      viewName,
      plan.filter((entry) => entry.complete).map((entry) => entry.hour),
      {
        force: true,
        trigger: options.trigger ?? 'recompute',
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.onOutcome === undefined ? {} : { onOutcome: options.onOutcome }),
      },
    );
    return { view: view.name, dryRun: false, plan, outcomes };
  }

  /**
   * Missing and stale complete hours of one view (or every view), oldest first. On abort it stops
   * between hours: no further view starts and no further hour is published.
   */
  async backfill(view?: string, options: HourWorkOptions = {}): Promise<HourOutcome[]> {
    // By the name asked (a view or one of its versions, `<view>@v<n>`), which plans and runs resolve.
    const refs = view === undefined ? this.views().map((one) => one.name) : [view];
    const outcomes: HourOutcome[] = [];
    for (const one of refs) {
      if (options.signal?.aborted) break;
      const plan = await this.plan(one);
      const hours = [...new Set([...plan.missing, ...plan.stale])].sort((a, b) => a - b);
      outcomes.push(
        ...(await this.runHours(one, hours, {
          trigger: options.trigger ?? 'backfill',
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          ...(options.onOutcome === undefined ? {} : { onOutcome: options.onOutcome }),
        })),
      );
    }
    return outcomes;
  }

  /**
   * The catch-up window of a view — from the earliest archived hour of its stream (at most
   * `catchUpMaxHours` back) to the last complete hour — and its missing and stale hours.
   */
  async plan(viewName: string): Promise<BatchWorkPlan> {
    const view = this.view(viewName);
    const stream = this.streamOf(view);
    const now = this.runtime.now();
    const before = await this.completeBefore(stream, now);
    const last = lastCompleteHour(view, before, now);
    const earliest = await this.earliestLogHour(stream);
    if (last === null || earliest === null) {
      return {
        view: view.name,
        stream: stream.name,
        window: null,
        missing: [],
        stale: [],
        completeBefore: before,
      };
    }
    const from = Math.max(earliest, hourStart(now) - this.options.catchUpMaxHours * HOUR_MS);
    const window = { from, to: last + HOUR_MS };
    if (window.to <= window.from)
      return { view: view.name, stream: stream.name, window, missing: [], stale: [], completeBefore: before };
    this.reader.invalidate();
    const pointers = await this.reader.pointersIn(viewName, window);
    const sealed = new Set(pointers.map(({ pointer }) => pointer.hour));
    const missing: number[] = [];
    for (let hour = window.from; hour < window.to; hour += HOUR_MS) if (!sealed.has(hour)) missing.push(hour);
    const stale = await staleAmong(
      this.store,
      view,
      stream,
      pointers.map(({ pointer }) => pointer),
    );
    return { view: view.name, stream: stream.name, window, missing, stale, completeBefore: before };
  }

  async status(viewName: string): Promise<BatchViewStatus> {
    const view = this.view(viewName);
    const plan = await this.plan(viewName);
    const sealedThrough = await this.reader.sealedThrough(viewName);
    const pointers: HourPointer[] =
      plan.window === null
        ? []
        : (await this.reader.pointersIn(viewName, plan.window)).map(({ pointer }) => pointer);
    const lastRuns = await this.reader.runHistory(viewName, 50);
    const latestByHour = new Map<number, RunRecord>();
    for (const run of lastRuns)
      if (run.status !== 'skipped' && !latestByHour.has(run.hour)) latestByHour.set(run.hour, run);
    const failingHours = [...latestByHour.values()]
      .filter((run) => run.status === 'failed')
      .map((run) => ({
        hour: run.hour,
        code: run.error?.code ?? '',
        message: run.error?.message ?? '',
        at: run.finishedAt,
      }))
      .sort((a, b) => a.hour - b.hour);
    return {
      view: view.name,
      stream: view.stream,
      version: view.version,
      sealedThrough,
      lastSealedHour: pointers.length === 0 ? null : Math.max(...pointers.map((pointer) => pointer.hour)),
      sealedHours: pointers.length,
      missingHours: plan.missing,
      staleHours: plan.stale,
      failingHours,
      completeBefore: plan.completeBefore,
      lastRuns: lastRuns.slice(0, 10),
    };
  }

  /** A scheduler over this layer; stopped by `close()` too. */
  createScheduler(options: Partial<BatchSchedulerOptions> = {}): BatchScheduler {
    const scheduler = new BatchScheduler(this, options);
    this.#schedulers.add(scheduler);
    return scheduler;
  }

  /** A queue of recompute jobs run by this process (the serving layer's `POST /v1/ops/recompute`); closed by `close()` too. */
  createRecomputeJobs(options: Partial<RecomputeJobsOptions> = {}): RecomputeJobs {
    const jobs = new RecomputeJobs(this, options);
    this.#jobQueues.add(jobs);
    return jobs;
  }

  /** Stops schedulers and job queues (between hours), then closes what this layer built (never a client it was given). */
  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (const scheduler of this.#schedulers) await scheduler.stop().catch((error) => errors.push(error));
    for (const jobs of this.#jobQueues) await jobs.close().catch((error) => errors.push(error));
    try {
      this.#engine.close();
    } catch (error) {
      errors.push(error);
    }
    for (const close of this.#owned) await close().catch((error) => errors.push(error));
    if (errors.length > 0) throw new AggregateError(errors, 'closing the batch layer failed');
  }
}

/** Opens the batch layer: builds what was not given, validates options once. */
export async function openBatchLayer(options: BatchLayerOptions = {}): Promise<BatchLayer> {
  const { config } = options;
  const resolved = resolveBatchOptions(
    config === undefined ? undefined : batchOptionsFromConfig(config),
    options,
  );
  const owned: Array<() => Promise<void>> = [];
  const logger = options.logger ?? pino({ name: 'tandem-batch', level: config?.logLevel ?? 'info' });
  let store = options.store;
  if (store === undefined) {
    if (config === undefined) throw missing('store');
    const built = openObjectStore(config.lake);
    owned.push(() => built.close());
    store = built;
  }
  let redis = options.redis;
  if (redis === undefined) {
    if (config === undefined) throw missing('redis');
    // the shared client policy (@tandem/connections): a Redis that is not there fails the open at once
    const built = await connectRedis(config.redis, logger).catch(async (error: unknown) => {
      for (const close of owned) await close().catch(() => {});
      throw error;
    });
    owned.push(async () => {
      await built.quit();
    });
    redis = built;
  }
  const listed = withExtraViews(
    options.catalog ??
      builtinCatalog({
        topic: resolved.topic,
        dlqTopic: config?.kafka.topic === resolved.topic ? config.kafka.dlqTopic : `${resolved.topic}.dlq`,
        lateTopic: config?.kafka.topic === resolved.topic ? config.kafka.lateTopic : `${resolved.topic}.late`,
      }),
    options.views ?? {},
  );
  const catalog = listed instanceof GenerationCatalog ? listed : new GenerationCatalog(listed);
  sweepStaleWorkDirs(resolved.tempDirectory, 24 * HOUR_MS);
  const engine = await DuckDbEngine.create(resolved);
  const runtime: BatchRuntime = {
    now: options.now ?? Date.now,
    sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    setTimer:
      options.setTimer ??
      ((callback, ms) => {
        const timer = setTimeout(callback, ms);
        timer.unref();
        return () => clearTimeout(timer);
      }),
    logger,
    hooks: options.hooks ?? {},
  };
  return new BatchLayer({
    options: resolved,
    store,
    redis,
    engine,
    runtime,
    owner: options.owner ?? defaultOwner(),
    catalog,
    owned,
    ...(options.buildSliceHours === undefined ? {} : { buildSliceHours: options.buildSliceHours }),
    ...(options.versionRetentionMs === undefined ? {} : { versionRetentionMs: options.versionRetentionMs }),
  });
}

/** The catalog with extra views added (replacing catalog views of the same name); each must read a stream of it. */
function withExtraViews(catalog: Catalog, extra: Record<string, View>): Catalog {
  const views = Object.values(extra);
  if (views.length === 0) return catalog;
  for (const view of views) catalog.stream(view.stream);
  const names = new Set(views.map((view) => view.name));
  return createCatalog(catalog.streams, [...catalog.views.filter((view) => !names.has(view.name)), ...views]);
}

function missing(what: string): TandemError {
  return new TandemError(
    'TANDEM_ERR_CONFIG_INVALID',
    `openBatchLayer needs either a ${what} or a config to build one from (loadConfig())`,
  );
}

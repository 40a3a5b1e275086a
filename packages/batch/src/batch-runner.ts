// Runs (view, hour) jobs end to end: lease → fresh pointer and input listing (under the view's
// stream's raw-log root) → skip when up to date → stage inputs → compute many hours in one DuckDB
// query → per hour: quarantine report, Parquet file, fencing check, pointer (conditional write,
// last) → GC of old runs → run history. Views of every stream go through the same runner; leases,
// pointers and run history are keyed by view name, which is unique across streams.
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  type Catalog,
  dayStart,
  HOUR_MS,
  isRetryable,
  isTandemError,
  type RunRecord,
  type RunTrigger,
  type Stream,
  TandemError,
  type View,
} from '@tandem/core';
import { markTrustedFiles } from './archive-trust.ts';
import { type InputObject, listInputs, stageInputs } from './input-staging.ts';
import { type ObjectStore, mapWithConcurrency } from '@tandem/lake';
import type { Logger } from 'pino';
import type { BatchOptions } from './batch-options.ts';
import type { DuckDbEngine } from './duckdb-engine.ts';
import { computeHours, emptyStats, type PartitionStats, partitionHoursFor } from './hour-compute.ts';
import {
  newRunId,
  parseViewKey,
  pointerKey,
  quarantineKey,
  runIdOfFile,
  runParquetKey,
  viewHourPrefix,
} from './layout.ts';
import type { Lease, LeaseManager } from './lease.ts';
import {
  type HourPointer,
  type InputFingerprintEntry,
  inputFingerprint,
  POINTER_FORMAT,
  type PointedRun,
  readPointer,
  sameFingerprint,
} from './pointer.ts';
import { type EncodedPartialRow, writeRunParquet } from './run-files.ts';
import type { RunHistory } from './run-history.ts';

/** Points of a run where a hook may observe (or, in the crash tests, kill) the process. */
export type RunStage =
  | 'leased'
  | 'staged'
  | 'computed'
  | 'quarantine-written'
  | 'data-written'
  | 'pointer-written'
  | 'published';

export interface RunHooks {
  /** Awaited at every stage of every hour; production passes none. */
  onStage?: (
    stage: RunStage,
    context: { view: string; hours: number[]; runId: string | null },
  ) => void | Promise<void>;
}

/** Clock, timers and logger, injected so tests drive time and production never branches on tests. */
export interface BatchRuntime {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  setTimer: (callback: () => void, ms: number) => () => void;
  logger: Logger;
  hooks: RunHooks;
}

/** The quarantine report of one run: what was bad in the partitions it read. */
export interface QuarantineReport {
  format: 'tandem.batch.quarantine/1';
  view: string;
  viewVersion: number;
  hour: number;
  runId: string;
  maxBadRowRatio: number;
  /** True when a partition exceeded the ratio and the run failed. */
  failed: boolean;
  partitions: Array<Omit<PartitionStats, 'samples'> & { badRatio: number }>;
  samples: PartitionStats['samples'];
}

export type HourStatus = 'published' | 'skipped' | 'failed';

export interface HourOutcome {
  view: string;
  hour: number;
  status: HourStatus;
  /** Why a run was skipped (`up-to-date`, `leased-elsewhere`) or failed (the error code). */
  reason: string | null;
  runId: string | null;
  pointer: HourPointer | null;
  error: Error | null;
}

export interface RunHoursOptions {
  /** Recompute even when the pointer's input fingerprint matches. @defaultValue false */
  force?: boolean;
  /** Recorded in the run history. @defaultValue 'manual' */
  trigger?: RunTrigger;
  /** Chunks in flight. @defaultValue options.concurrency */
  concurrency?: number;
  /**
   * Once aborted, the run stops between hours: no further chunk starts, a chunk being computed is
   * interrupted, and no further hour is published (the one being published finishes, pointer
   * last). Hours not published get no outcome and keep their previous run.
   */
  signal?: AbortSignal;
  /** Called with each hour's outcome as soon as it is known (progress), in the order they land. */
  onOutcome?: (outcome: HourOutcome) => void;
}

export interface BatchRunnerDeps {
  store: ObjectStore;
  engine: DuckDbEngine;
  leases: LeaseManager;
  history: RunHistory;
  options: BatchOptions;
  runtime: BatchRuntime;
  /** Resolves view names and each view's stream. */
  catalog: Catalog;
}

/** What one chunk's compute left for publishing: local Parquet files and partition stats. */
interface ComputedChunk {
  workDir: string;
  files: Map<number, { path: string; rows: readonly EncodedPartialRow[] }>;
  stats: Map<number, PartitionStats>;
}

interface HourPlan {
  hour: number;
  lease: Lease;
  runId: string;
  startedAt: number;
  inputs: InputFingerprintEntry[];
  current: { pointer: HourPointer; etag: string } | null;
}

/** The owner id of this process in leases and pointers. */
export function defaultOwner(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

export class BatchRunner {
  readonly #deps: BatchRunnerDeps;

  constructor(deps: BatchRunnerDeps) {
    this.#deps = deps;
  }

  get owner(): string {
    return this.#deps.leases.owner;
  }

  /**
   * Runs the hours (hour starts, epoch ms) of one view, oldest first, in chunks of contiguous hours
   * with bounded concurrency. Never throws for a failed hour: each hour gets an outcome, and failed
   * ones are in the run history. Throws for a bad request (unknown view, not an hour start).
   */
  async runHours(
    viewName: string,
    hours: readonly number[],
    options: RunHoursOptions = {},
  ): Promise<HourOutcome[]> {
    const view = this.#deps.catalog.view(viewName);
    const stream = this.#deps.catalog.stream(view.stream);
    for (const hour of hours) {
      if (!Number.isSafeInteger(hour) || hour % HOUR_MS !== 0) {
        throw new TandemError('TANDEM_ERR_QUERY_INVALID', `${hour} is not the start of an hour in epoch ms`, {
          details: { hour },
        });
      }
    }
    const sorted = [...new Set(hours)].sort((a, b) => a - b);
    if (sorted.length === 0) return [];
    const sizes = await this.#ownPartitionBytes(stream, sorted);
    const concurrency = options.concurrency ?? this.#deps.options.concurrency;
    const chunks = planChunks(
      sorted,
      sizes,
      { ...this.#deps.options, concurrency },
      view.sessionize !== null,
    );
    // With a signal, chunks publish in order (a chunk computed early waits for the previous one's
    // hours), so an abort always leaves the oldest hours republished and the rest untouched.
    const published = chunks.map(() => Promise.withResolvers<void>());
    const results = await mapWithConcurrency(chunks, concurrency, async (chunk, index) => {
      try {
        if (options.signal?.aborted) return [];
        const turn = options.signal !== undefined && index > 0 ? published[index - 1]!.promise : undefined;
        const outcomes = await this.#runChunkWithRetries(view, stream, chunk, options, turn);
        for (const outcome of outcomes) options.onOutcome?.(outcome);
        return outcomes;
      } finally {
        published[index]!.resolve();
      }
    });
    return results.flat().sort((a, b) => a.hour - b.hour);
  }

  /**
   * Failures outside any one hour (Redis or the lake unreachable while leasing or listing) retry the
   * whole chunk with backoff; hours that already have an outcome keep it, only the rest are retried.
   */
  async #runChunkWithRetries(
    view: View,
    stream: Stream,
    hours: readonly number[],
    options: RunHoursOptions,
    turn?: Promise<void>,
  ): Promise<HourOutcome[]> {
    const { options: batchOptions, runtime } = this.#deps;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#runChunk(view, stream, hours, options, turn);
      } catch (error) {
        if (!isRetryable(error) || attempt >= batchOptions.maxAttempts) throw error;
        const delay = backoff(batchOptions.retryBaseMs, attempt);
        runtime.logger.warn(
          { err: error, view: view.name, hours: hours.map(iso), attempt, delay },
          'batch chunk failed; retrying',
        );
        await runtime.sleep(delay);
      }
    }
  }

  async #ownPartitionBytes(stream: Stream, hours: readonly number[]): Promise<Map<number, number>> {
    const listed = await listInputs(this.#deps.store, hours, { lakePrefix: stream.lakePrefix });
    // Chunks are sized by input bytes as a proxy for rows; columnar Parquet holds about three times
    // the rows of gzipped NDJSON per byte, so it counts triple.
    return new Map(
      [...listed].map(([hour, inputs]) => [
        hour,
        inputs.reduce((sum, input) => sum + input.size * (input.format === 'parquet' ? 3 : 1), 0),
      ]),
    );
  }

  async #stage(stage: RunStage, view: View, hours: number[], runId: string | null): Promise<void> {
    await this.#deps.runtime.hooks.onStage?.(stage, { view: view.name, hours, runId });
  }

  async #runChunk(
    view: View,
    stream: Stream,
    hours: readonly number[],
    options: RunHoursOptions,
    turn?: Promise<void>,
  ): Promise<HourOutcome[]> {
    const { store, leases, runtime } = this.#deps;
    const outcomes: HourOutcome[] = [];
    const held: HourPlan[] = [];
    const trigger = options.trigger ?? 'manual';
    try {
      // Lease every hour of the chunk. The floor is the pointer's token, so a counter lost in Redis
      // still mints tokens above anything published.
      for (const hour of hours) {
        const before = await readPointer(store, pointerKey(view.name, view.version, hour));
        // One lease per (generation, hour): a version being rebuilt never waits on the active one's upkeep.
        // v1 keeps the key it always had, so a rolling upgrade shares leases with older runners.
        const leaseName = view.version === 1 ? view.name : `${view.name}.v${view.version}`;
        const { lease, holder } = await leases.acquire(leaseName, hour, before?.pointer.fencingToken ?? 0);
        if (lease === null) {
          outcomes.push(skipped(view, hour, 'leased-elsewhere'));
          runtime.logger.debug(
            { view: view.name, hour: iso(hour), holder },
            'batch hour leased by another runner',
          );
          continue;
        }
        held.push({
          hour,
          lease,
          runId: newRunId(runtime.now()),
          startedAt: runtime.now(),
          inputs: [],
          current: null,
        });
      }
      if (held.length === 0) return outcomes;
      await this.#stage(
        'leased',
        view,
        held.map((plan) => plan.hour),
        null,
      );

      // Under the lease: the fresh pointer and listing decide whether there is anything to do.
      const partitionHours = new Set(held.flatMap((plan) => partitionHoursFor(view, plan.hour)));
      const listed = await listInputs(store, partitionHours, {
        lakePrefix: stream.lakePrefix,
        onSkipped: (info) =>
          runtime.logger.warn(
            { key: info.key },
            'skipping a file in a log partition that is not .json, .json.gz or .parquet',
          ),
      });
      const todo: HourPlan[] = [];
      for (const plan of held) {
        plan.inputs = inputFingerprint(
          partitionHoursFor(view, plan.hour).flatMap((h) => listed.get(h) ?? []),
        );
        plan.current = await readPointer(store, pointerKey(view.name, view.version, plan.hour));
        if (
          !options.force &&
          plan.current !== null &&
          sameFingerprint(plan.current.pointer.inputs, plan.inputs)
        ) {
          outcomes.push(skipped(view, plan.hour, 'up-to-date', plan.current.pointer));
          await plan.lease
            .release()
            .catch((error) => runtime.logger.warn({ err: error }, 'could not release a lease'));
          continue;
        }
        todo.push(plan);
      }
      if (todo.length === 0) return outcomes;
      outcomes.push(
        ...(await this.#computeAndPublish(view, stream, todo, listed, trigger, options.signal, turn)),
      );
      return outcomes;
    } finally {
      const errors: unknown[] = [];
      for (const plan of held) await plan.lease.release().catch((error) => errors.push(error));
      if (errors.length > 0)
        runtime.logger.warn({ err: new AggregateError(errors) }, 'could not release batch leases');
    }
  }

  /** Compute with retries for retryable failures, then publish each hour (each with its own retries). */
  async #computeAndPublish(
    view: View,
    stream: Stream,
    todo: HourPlan[],
    listed: Map<number, InputObject[]>,
    trigger: RunTrigger,
    signal: AbortSignal | undefined,
    turn?: Promise<void>,
  ): Promise<HourOutcome[]> {
    const { options, runtime } = this.#deps;
    const hours = todo.map((plan) => plan.hour);
    let computed: ComputedChunk | null = null;
    let lastError: unknown = null;
    let attempt = 1;
    for (; attempt <= options.maxAttempts; attempt++) {
      try {
        computed = await this.#compute(view, stream, todo, listed, signal);
        break;
      } catch (error) {
        if (signal?.aborted) return [];
        lastError = error;
        if (!isRetryable(error) || attempt === options.maxAttempts) break;
        const delay = backoff(options.retryBaseMs, attempt);
        runtime.logger.warn(
          { err: error, view: view.name, hours: hours.map(iso), attempt, delay },
          'batch run failed; retrying',
        );
        await runtime.sleep(delay);
      }
    }
    if (computed === null) {
      const error = asError(lastError);
      return Promise.all(todo.map((plan) => this.#fail(view, plan, error, trigger, attempt, null)));
    }
    try {
      await turn;
      const outcomes: HourOutcome[] = [];
      for (const plan of todo) {
        if (signal?.aborted) break;
        outcomes.push(await this.#publishWithRetries(view, plan, computed, trigger));
      }
      return outcomes;
    } finally {
      await rm(computed.workDir, { recursive: true, force: true });
    }
  }

  async #compute(
    view: View,
    stream: Stream,
    todo: HourPlan[],
    listed: Map<number, InputObject[]>,
    signal?: AbortSignal,
  ): Promise<ComputedChunk> {
    const { store, engine, options, runtime } = this.#deps;
    const hours = todo.map((plan) => plan.hour);
    const partitionHours = [...new Set(todo.flatMap((plan) => partitionHoursFor(view, plan.hour)))].sort(
      (a, b) => a - b,
    );
    const inputs = partitionHours.flatMap((hour) => listed.get(hour) ?? []);
    await mkdir(options.tempDirectory, { recursive: true });
    const workDir = await mkdtemp(join(options.tempDirectory, 'run-'));
    try {
      const staged = await stageInputs(store, inputs, {
        tempRoot: join(options.tempDirectory, 'inputs'),
        concurrency: options.downloadConcurrency,
      });
      if (options.trustArchiveManifests) {
        await markTrustedFiles(store, staged.files, {
          stream,
          maxEventBytes: options.eventMaxBytes,
          concurrency: options.downloadConcurrency,
        });
      }
      try {
        await this.#stage('staged', view, hours, null);
        return await engine.withConnection(async (connection) => {
          // An abort interrupts the query in flight (its hours are not published).
          const interrupt = () => connection.interrupt();
          signal?.throwIfAborted();
          signal?.addEventListener('abort', interrupt, { once: true });
          try {
            const result = await computeHours(connection, {
              view,
              stream,
              files: staged.files,
              partitionHours,
              outputHours: hours,
              nowMs: runtime.now(),
              futureToleranceMs: options.futureToleranceMs,
              maxBytes: options.eventMaxBytes,
              sampleSize: options.quarantineSampleSize,
              sampleChars: options.quarantineSampleChars,
            });
            runtime.logger.info(
              {
                view: view.name,
                stream: stream.name,
                hours: hours.length,
                from: iso(hours[0]!),
                files: staged.files.length,
                trustedFiles: staged.files.filter((file) => file.trusted === true).length,
                ...result.timings,
              },
              'batch chunk computed',
            );
            const files = new Map<number, { path: string; rows: readonly EncodedPartialRow[] }>();
            for (const plan of todo) {
              const rows = result.partials.get(plan.hour) ?? [];
              const path = join(workDir, `${plan.hour}.parquet`);
              await writeRunParquet(connection, view, rows, path, { runId: plan.runId, hour: plan.hour });
              files.set(plan.hour, { path, rows });
            }
            await this.#stage('computed', view, hours, null);
            return { workDir, files, stats: result.stats };
          } finally {
            signal?.removeEventListener('abort', interrupt);
          }
        });
      } finally {
        await staged.dispose();
      }
    } catch (error) {
      await rm(workDir, { recursive: true, force: true });
      throw wrapRunError(view, hours, error);
    }
  }

  async #publishWithRetries(
    view: View,
    plan: HourPlan,
    computed: ComputedChunk,
    trigger: RunTrigger,
  ): Promise<HourOutcome> {
    const { options, runtime } = this.#deps;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#publish(view, plan, computed, trigger, attempt);
      } catch (error) {
        if (!isRetryable(error) || attempt >= options.maxAttempts) {
          return this.#fail(view, plan, asError(error), trigger, attempt, null);
        }
        const delay = backoff(options.retryBaseMs, attempt);
        runtime.logger.warn(
          { err: error, view: view.name, hour: iso(plan.hour), attempt, delay },
          'batch publish failed; retrying',
        );
        await runtime.sleep(delay);
      }
    }
  }

  async #publish(
    view: View,
    plan: HourPlan,
    computed: ComputedChunk,
    trigger: RunTrigger,
    attempt: number,
  ): Promise<HourOutcome> {
    const { store, options, runtime } = this.#deps;
    const { hour, lease, runId } = plan;
    const file = computed.files.get(hour)!;
    const partitions = partitionHoursFor(view, hour)
      .map((h) => computed.stats.get(h))
      .filter((s) => s !== undefined);
    const own = computed.stats.get(hour) ?? emptyStats(hour);
    const worst = Math.max(0, ...partitions.map(badRatio));
    const failed = worst > options.maxBadRowRatio;

    // The quarantine report goes first: an operator needs it most when the run fails.
    let qKey: string | null = null;
    if (partitions.some((stats) => stats.badRows > 0 || stats.misplacedRows > 0)) {
      qKey = quarantineKey(view.name, view.version, hour, runId);
      const report: QuarantineReport = {
        format: 'tandem.batch.quarantine/1',
        view: view.name,
        viewVersion: view.version,
        hour,
        runId,
        maxBadRowRatio: options.maxBadRowRatio,
        failed,
        partitions: partitions.map(({ samples: _samples, ...rest }) => ({
          ...rest,
          badRatio: badRatio(rest),
        })),
        samples: partitions.flatMap((stats) => stats.samples),
      };
      await store.put(qKey, JSON.stringify(report, null, 2), { contentType: 'application/json' });
      await this.#stage('quarantine-written', view, [hour], runId);
    }
    if (failed) {
      const error = new TandemError(
        'TANDEM_ERR_BATCH_BAD_ROWS',
        `${view.name} hour ${iso(hour)}: ${(worst * 100).toFixed(2)}% of the input lines are bad, above the ` +
          `limit of ${(options.maxBadRowRatio * 100).toFixed(2)}% (BATCH_MAX_BAD_ROW_RATIO); see the quarantine report ${qKey}`,
        { details: { view: view.name, hour, ratio: worst, quarantineKey: qKey } },
      );
      return this.#fail(view, plan, error, trigger, attempt, qKey);
    }

    const parquetKey = runParquetKey(view.name, view.version, hour, runId);
    await store.putFile(parquetKey, file.path);
    await this.#stage('data-written', view, [hour], runId);

    // Fencing: the lease must still be ours, and no pointer may carry a newer token.
    await lease.assertHeld();
    const key = pointerKey(view.name, view.version, hour);
    const current = await readPointer(store, key);
    if (current !== null && current.pointer.runId === runId) {
      return this.#published(view, plan, current.pointer, trigger, attempt); // an earlier attempt landed
    }
    if (current !== null && current.pointer.fencingToken > lease.token) {
      throw lostTo(view, hour, lease, current.pointer);
    }
    const finishedAt = runtime.now();
    const pointer: HourPointer = {
      format: POINTER_FORMAT,
      view: view.name,
      viewVersion: view.version,
      hour,
      runId,
      parquetKey,
      quarantineKey: qKey,
      fencingToken: lease.token,
      rowsIn: own.rowsIn,
      badRows: own.badRows,
      duplicateRows: own.duplicateRows,
      rowsOut: file.rows.length,
      inputRange: {
        from: Math.min(...partitionHoursFor(view, hour)),
        to: Math.max(...partitionHoursFor(view, hour)) + HOUR_MS,
      },
      inputs: plan.inputs,
      startedAt: plan.startedAt,
      finishedAt,
      owner: this.owner,
      previous:
        current === null
          ? []
          : [pointedRun(current.pointer), ...current.pointer.previous].slice(0, options.keepVersions - 1),
    };
    try {
      await store.put(key, JSON.stringify(pointer, null, 2), {
        contentType: 'application/json',
        ...(current === null ? { ifNoneMatch: '*' as const } : { ifMatch: current.etag }),
      });
    } catch (error) {
      if (isTandemError(error, 'TANDEM_ERR_LAKE_PRECONDITION')) {
        const now = await readPointer(store, key);
        throw lostTo(view, hour, lease, now?.pointer ?? null, error);
      }
      throw error;
    }
    await this.#stage('pointer-written', view, [hour], runId);
    await this.#collectGarbage(view, hour, pointer, current?.pointer ?? null).catch((error) =>
      runtime.logger.warn(
        { err: error, view: view.name, hour: iso(hour) },
        'batch GC of old runs failed; the next run retries',
      ),
    );
    const outcome = await this.#published(view, plan, pointer, trigger, attempt);
    await this.#stage('published', view, [hour], runId);
    return outcome;
  }

  async #published(
    view: View,
    plan: HourPlan,
    pointer: HourPointer,
    trigger: RunTrigger,
    attempt: number,
  ): Promise<HourOutcome> {
    const { runtime } = this.#deps;
    await this.#record({
      runId: plan.runId,
      view: view.name,
      viewVersion: view.version,
      hour: plan.hour,
      status: 'published',
      trigger,
      attempt,
      startedAt: plan.startedAt,
      finishedAt: pointer.finishedAt,
      durationMs: pointer.finishedAt - plan.startedAt,
      rowsIn: pointer.rowsIn,
      rowsOut: pointer.rowsOut,
      badRows: pointer.badRows,
      duplicateRows: pointer.duplicateRows,
      fencingToken: pointer.fencingToken,
      owner: this.owner,
      reason: null,
      quarantineKey: pointer.quarantineKey,
      error: null,
    });
    runtime.logger.info(
      {
        view: view.name,
        hour: iso(plan.hour),
        runId: plan.runId,
        rowsIn: pointer.rowsIn,
        rowsOut: pointer.rowsOut,
        badRows: pointer.badRows,
      },
      'batch hour published',
    );
    return {
      view: view.name,
      hour: plan.hour,
      status: 'published',
      reason: null,
      runId: plan.runId,
      pointer,
      error: null,
    };
  }

  async #fail(
    view: View,
    plan: HourPlan,
    error: Error,
    trigger: RunTrigger,
    attempt: number,
    qKey: string | null,
  ): Promise<HourOutcome> {
    const { runtime } = this.#deps;
    const finishedAt = runtime.now();
    const code = error instanceof TandemError ? error.code : 'TANDEM_ERR_BATCH_RUN_FAILED';
    runtime.logger.error(
      { err: error, view: view.name, hour: iso(plan.hour), runId: plan.runId },
      'batch hour failed',
    );
    await this.#record({
      runId: plan.runId,
      view: view.name,
      viewVersion: view.version,
      hour: plan.hour,
      status: 'failed',
      trigger,
      attempt,
      startedAt: plan.startedAt,
      finishedAt,
      durationMs: finishedAt - plan.startedAt,
      rowsIn: 0,
      rowsOut: 0,
      badRows: 0,
      duplicateRows: 0,
      fencingToken: plan.lease.token,
      owner: this.owner,
      reason: code,
      quarantineKey: qKey,
      error: { code, message: error.message },
    });
    return {
      view: view.name,
      hour: plan.hour,
      status: 'failed',
      reason: code,
      runId: plan.runId,
      pointer: null,
      error,
    };
  }

  async #record(record: RunRecord): Promise<void> {
    await this.#deps.history
      .record(record)
      .catch((error) =>
        this.#deps.runtime.logger.warn({ err: error }, 'could not record a batch run in the history'),
      );
  }

  /**
   * Deletes run files no pointer version names: those that fell off the kept versions now, and
   * orphans (a run that crashed before its pointer) older than the grace period.
   */
  async #collectGarbage(
    view: View,
    hour: number,
    pointer: HourPointer,
    previous: HourPointer | null,
  ): Promise<void> {
    const { store, options, runtime } = this.#deps;
    const kept = new Set([pointer.runId, ...pointer.previous.map((run) => run.runId)]);
    const dropped = new Set(
      previous === null
        ? []
        : [previous.runId, ...previous.previous.map((run) => run.runId)].filter((id) => !kept.has(id)),
    );
    for await (const info of store.list(viewHourPrefix(view.name, view.version, hour))) {
      const parsed = parseViewKey(info.key);
      const runId = parsed === null ? null : runIdOfFile(parsed.file);
      if (runId === null || kept.has(runId)) continue;
      if (dropped.has(runId) || info.lastModified < runtime.now() - options.orphanGraceMs) {
        await store.delete(info.key);
      }
    }
  }
}

/**
 * Contiguous hours, at most `maxHoursPerChunk` and about `maxChunkInputBytes` of input each.
 * A sessionized view's chunk reads its day from midnight whatever its size (`inputRangeFor`), so
 * cutting a day by bytes would only read the day's start again: its chunks are whole UTC days.
 * A run of contiguous hours that needs several chunks is cut into a multiple of `concurrency`
 * chunks of about equal bytes (never above the bound), so the chunks in flight finish together
 * instead of one large chunk running alone at the end.
 */
export function planChunks(
  hours: readonly number[],
  bytesByHour: Map<number, number>,
  options: BatchOptions,
  sessionized = false,
): number[][] {
  const sizeOf = (hour: number) => bytesByHour.get(hour) ?? 0;
  if (sessionized) {
    const days: number[][] = [];
    for (const hour of hours) {
      const last = days.at(-1)?.at(-1);
      if (last === undefined || last !== hour - HOUR_MS || dayStart(hour) !== dayStart(last)) days.push([]);
      days.at(-1)!.push(hour);
    }
    return days.flatMap((day) => pack(day, sizeOf, options.maxHoursPerChunk, Number.POSITIVE_INFINITY));
  }
  const runs: number[][] = [];
  for (const hour of hours) {
    const last = runs.at(-1)?.at(-1);
    if (last === undefined || last !== hour - HOUR_MS) runs.push([]);
    runs.at(-1)!.push(hour);
  }
  return runs.flatMap((run) => {
    const greedy = pack(run, sizeOf, options.maxHoursPerChunk, options.maxChunkInputBytes);
    if (greedy.length < 2) return greedy;
    // The smallest byte bound (not above the configured one) that cuts the run into at most
    // `target` chunks: chunks of about equal size.
    const target = Math.min(run.length, Math.ceil(greedy.length / options.concurrency) * options.concurrency);
    let low = Math.max(...run.map(sizeOf));
    let high = Math.max(low, options.maxChunkInputBytes);
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      if (pack(run, sizeOf, options.maxHoursPerChunk, mid).length <= target) high = mid;
      else low = mid + 1;
    }
    const balanced = pack(run, sizeOf, options.maxHoursPerChunk, low);
    return balanced.length <= target ? balanced : greedy;
  });
}

/** Contiguous hours in order, a new chunk when the hour count or the byte bound would be passed. */
function pack(
  run: readonly number[],
  sizeOf: (hour: number) => number,
  maxHours: number,
  maxBytes: number,
): number[][] {
  const chunks: number[][] = [];
  let chunk: number[] = [];
  let bytes = 0;
  for (const hour of run) {
    const size = sizeOf(hour);
    if (chunk.length > 0 && (chunk.length >= maxHours || bytes + size > maxBytes)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(hour);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

function pointedRun(pointer: HourPointer): PointedRun {
  return {
    runId: pointer.runId,
    parquetKey: pointer.parquetKey,
    quarantineKey: pointer.quarantineKey,
    fencingToken: pointer.fencingToken,
    finishedAt: pointer.finishedAt,
  };
}

function lostTo(
  view: View,
  hour: number,
  lease: Lease,
  pointer: HourPointer | null,
  cause?: unknown,
): TandemError {
  return new TandemError(
    'TANDEM_ERR_BATCH_LEASE_LOST',
    `${view.name} hour ${iso(hour)}: another runner published run ${pointer?.runId ?? '(unknown)'} ` +
      `with fencing token ${pointer?.fencingToken ?? '?'} while this run held token ${lease.token}; this run's result is discarded`,
    { cause, details: { view: view.name, hour, token: lease.token, winner: pointer?.runId ?? null } },
  );
}

function wrapRunError(view: View, hours: number[], error: unknown): Error {
  if (error instanceof TandemError) return error;
  return new TandemError(
    'TANDEM_ERR_BATCH_RUN_FAILED',
    `${view.name} hours ${iso(hours[0]!)}…${iso(hours[hours.length - 1]!)} failed in DuckDB: ${(error as Error)?.message ?? String(error)}`,
    { cause: error, details: { view: view.name, hours } },
  );
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function badRatio(stats: Pick<PartitionStats, 'rowsIn' | 'badRows'>): number {
  return stats.rowsIn === 0 ? 0 : stats.badRows / stats.rowsIn;
}

function skipped(view: View, hour: number, reason: string, pointer: HourPointer | null = null): HourOutcome {
  return {
    view: view.name,
    hour,
    status: 'skipped',
    reason,
    runId: pointer?.runId ?? null,
    pointer,
    error: null,
  };
}

/** Exponential backoff with ±20% jitter. */
export function backoff(baseMs: number, attempt: number): number {
  const delay = baseMs * 2 ** (attempt - 1);
  return Math.round(delay * (0.8 + Math.random() * 0.4));
}

function iso(hour: number): string {
  return new Date(hour).toISOString();
}

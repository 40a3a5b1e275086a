// The queue behind `POST /v1/ops/recompute`: each request becomes a job with an id, run by the
// process that accepted it, at most `concurrency` at a time, so an operator's recompute never takes
// the serving process's CPU from its readers. Each job's state and progress are kept in Redis —
// serving replicas are stateless behind a load balancer, so the `GET` that follows a `POST` may
// reach another replica, and so may the cancel — bounded to the newest `keep` jobs, each for at
// most `retentionMs`. A cancel or a shutdown stops the job between hours (the batch layer's
// runHours with an AbortSignal publishes oldest first, each hour pointer last), so no hour is ever
// half-published. Jobs are not handed to another process: a job whose process died shows as
// failed once its record has not been refreshed for `lostAfterMs`, and is resubmitted by its owner.
//
// Not bullmq: it would add a second Redis client per process with its own retry policy and keys,
// and its cross-process cancel needs its pub/sub relay; jobs here are a few admin requests an hour.
import { randomUUID } from 'node:crypto';
import {
  HOUR_MS,
  invalidOption,
  isTandemError,
  type RecomputeJob,
  type RecomputeJobState,
  type RecomputeQueue,
  TandemError,
  type TimeRange,
} from '@tandem/core';
import { describeRedis, type RedisClient } from '@tandem/connections';
import type { BatchLayer } from './batch-layer.ts';
import type { HourOutcome } from './batch-runner.ts';

export interface RecomputeJobsOptions {
  /** Jobs run at once by this process. @defaultValue 1 */
  concurrency: number;
  /** Jobs waiting in this process; a submit beyond them is refused (503). @defaultValue 100 */
  maxQueued: number;
  /** Jobs kept in Redis, newest first; older records are deleted. @defaultValue 1000 */
  keep: number;
  /** A job record expires this long after its last write. @defaultValue 7 days */
  retentionMs: number;
  /** How often a queued or running job's record is rewritten and cancels are looked for. @defaultValue 1000 */
  heartbeatMs: number;
  /** A queued or running job not rewritten for this long belongs to a process that died. @defaultValue 30000 */
  lostAfterMs: number;
  /** Failed hours listed per job. @defaultValue 20 */
  maxErrors: number;
}

export const defaultRecomputeJobsOptions: RecomputeJobsOptions = {
  concurrency: 1,
  maxQueued: 100,
  keep: 1000,
  retentionMs: 7 * 24 * HOUR_MS,
  heartbeatMs: 1000,
  lostAfterMs: 30_000,
  maxErrors: 20,
};

/** A job this process holds (queued or running): its record and how to stop it. */
interface LocalJob {
  record: RecomputeJob;
  abort: AbortController;
}

const finalStates: ReadonlySet<RecomputeJobState> = new Set(['done', 'failed', 'cancelled']);

export function isFinalJobState(state: RecomputeJobState): boolean {
  return finalStates.has(state);
}

export class RecomputeJobs implements RecomputeQueue {
  readonly options: RecomputeJobsOptions;
  readonly #layer: BatchLayer;
  readonly #redis: RedisClient;
  readonly #keys: { index: string; job: (id: string) => string; cancel: (id: string) => string };
  readonly #queued: LocalJob[] = [];
  readonly #running = new Map<string, { job: LocalJob; done: Promise<void> }>();
  #stopHeartbeat: (() => void) | null = null;
  #closing = false;

  /** Use `BatchLayer.createRecomputeJobs`. */
  constructor(layer: BatchLayer, options: Partial<RecomputeJobsOptions> = {}) {
    this.#layer = layer;
    this.#redis = layer.redis;
    this.options = resolveRecomputeJobsOptions(options);
    // One hash tag for every key, so the index and the records share a slot on Redis Cluster.
    const base = `${layer.options.redisPrefix}:batch:{jobs}`;
    this.#keys = {
      index: `${base}:index`,
      job: (id) => `${base}:job:${id}`,
      cancel: (id) => `${base}:cancel:${id}`,
    };
  }

  /** Jobs this process is running or holding in its queue. */
  get active(): { running: number; queued: number } {
    return { running: this.#running.size, queued: this.#queued.length };
  }

  /**
   * Queues a forced recompute of `range` (widened to whole hours) and returns the queued job at
   * once. Refused with `TANDEM_ERR_SERVICE_UNAVAILABLE` while shutting down, when this process's
   * queue is full, or when Redis cannot store the job.
   */
  async submit(viewName: string, range: TimeRange): Promise<RecomputeJob> {
    if (this.#closing) {
      throw new TandemError(
        'TANDEM_ERR_SERVICE_UNAVAILABLE',
        'this server is shutting down and accepts no recompute; send it to another replica or retry after the restart',
        { retryable: true },
      );
    }
    const view = this.#layer.view(viewName);
    const from = Math.floor(range.from / HOUR_MS) * HOUR_MS;
    const to = Math.ceil(range.to / HOUR_MS) * HOUR_MS;
    if (!(Number.isFinite(from) && Number.isFinite(to) && to > from)) {
      throw new TandemError('TANDEM_ERR_QUERY_INVALID', 'a recompute needs a range with from < to', {
        details: { parameter: 'to' },
      });
    }
    if (this.#queued.length >= this.options.maxQueued) {
      throw new TandemError(
        'TANDEM_ERR_SERVICE_UNAVAILABLE',
        `this server already holds ${this.#queued.length} queued recomputes (the most it queues); ` +
          'wait for them to run (GET /v1/ops/jobs) or cancel some',
        { retryable: true },
      );
    }
    const now = this.#layer.runtime.now();
    const record: RecomputeJob = {
      id: randomUUID(),
      view: view.name,
      from,
      to,
      state: 'queued',
      hoursTotal: (to - from) / HOUR_MS,
      hoursDone: 0,
      hoursPublished: 0,
      hoursFailed: 0,
      hoursSkipped: 0,
      currentHour: null,
      errors: [],
      cancelRequested: false,
      reason: null,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      updatedAt: now,
      owner: this.#layer.runner.owner,
    };
    await this.#store(record, true);
    this.#queued.push({ record, abort: new AbortController() });
    this.#ensureHeartbeat();
    this.#pump();
    return { ...record };
  }

  /** A job by id, from this process if it holds it, else from Redis; null when unknown or expired. */
  async get(id: string): Promise<RecomputeJob | null> {
    const local = this.#local(id);
    if (local !== undefined) return { ...local.record };
    const [record] = await this.#read([id]);
    return record ?? null;
  }

  /** The newest jobs of every replica, newest first. */
  async list(limit: number): Promise<RecomputeJob[]> {
    const ids = await this.#redisCall(() =>
      this.#redis.zrevrange(this.#keys.index, 0, Math.max(0, limit - 1)),
    );
    const records = await this.#read(ids);
    return records.map((record) => {
      const local = this.#local(record.id);
      return local === undefined ? record : { ...local.record };
    });
  }

  /**
   * Asks a job to stop. A job queued here is cancelled at once; one running here stops between
   * hours; one held by another replica is flagged in Redis, and that replica stops it within a
   * heartbeat. A finished job is returned unchanged. Null when the job is unknown.
   */
  async cancel(id: string, reason = 'cancelled on request'): Promise<RecomputeJob | null> {
    const queuedAt = this.#queued.findIndex((job) => job.record.id === id);
    if (queuedAt >= 0) {
      const [job] = this.#queued.splice(queuedAt, 1);
      await this.#finish(job!.record, 'cancelled', `${reason} before it started`);
      return { ...job!.record };
    }
    const running = this.#running.get(id);
    if (running !== undefined) {
      running.job.record.cancelRequested = true;
      running.job.abort.abort(new Error(reason));
      await this.#store(running.job.record).catch(() => undefined);
      return { ...running.job.record };
    }
    const [record] = await this.#read([id]);
    if (record === undefined) return null;
    if (isFinalJobState(record.state)) return record;
    await this.#redisCall(() =>
      this.#redis.set(this.#keys.cancel(id), reason, 'PX', this.options.retentionMs),
    );
    return { ...record, cancelRequested: true };
  }

  /**
   * Stops taking jobs; queued ones are cancelled, running ones stop between hours (each hour
   * either its previous run or a complete new one). Resolves when they have stopped.
   */
  async close(): Promise<void> {
    this.#closing = true;
    const errors: unknown[] = [];
    for (const job of this.#queued.splice(0)) {
      await this.#finish(job.record, 'cancelled', 'the server shut down before the job started').catch(
        (error: unknown) => errors.push(error),
      );
    }
    for (const { job } of this.#running.values()) {
      job.record.cancelRequested = true;
      job.abort.abort(new Error('the server shut down'));
    }
    await Promise.all([...this.#running.values()].map(({ done }) => done));
    this.#stopHeartbeat?.();
    this.#stopHeartbeat = null;
    if (errors.length > 0) throw new AggregateError(errors, 'recompute jobs did not close cleanly');
  }

  #local(id: string): LocalJob | undefined {
    return this.#running.get(id)?.job ?? this.#queued.find((job) => job.record.id === id);
  }

  #pump(): void {
    while (!this.#closing && this.#running.size < this.options.concurrency && this.#queued.length > 0) {
      const job = this.#queued.shift()!;
      const done = this.#run(job).finally(() => {
        this.#running.delete(job.record.id);
        this.#pump();
      });
      this.#running.set(job.record.id, { job, done });
    }
  }

  async #run(job: LocalJob): Promise<void> {
    const { record, abort } = job;
    const { logger, now } = this.#layer.runtime;
    record.state = 'running';
    record.startedAt = now();
    record.currentHour = record.from;
    await this.#store(record).catch((error: unknown) =>
      logger.warn({ err: error, job: record.id }, 'could not record a recompute job as running'),
    );
    logger.info(
      { job: record.id, view: record.view, from: iso(record.from), to: iso(record.to) },
      'recompute job started',
    );
    const done = new Set<number>();
    const progress = (hour: number) => {
      done.add(hour);
      let next = record.from;
      while (next < record.to && done.has(next)) next += HOUR_MS;
      record.currentHour = next < record.to ? next : null;
    };
    try {
      await this.#layer.recompute(
        record.view,
        { from: record.from, to: record.to },
        {
          trigger: 'recompute',
          signal: abort.signal,
          onPlan: (plan) => {
            for (const entry of plan) {
              if (entry.complete) continue;
              record.hoursSkipped++;
              record.hoursDone++;
              progress(entry.hour);
            }
          },
          onOutcome: (outcome) => {
            this.#count(record, outcome);
            progress(outcome.hour);
            void this.#store(record).catch(() => undefined);
          },
        },
      );
      if (abort.signal.aborted) {
        await this.#finish(
          record,
          'cancelled',
          `${reasonOf(abort.signal)} after ${record.hoursDone} of ${record.hoursTotal} hours`,
        );
      } else if (record.hoursFailed > 0) {
        await this.#finish(
          record,
          'failed',
          `${record.hoursFailed} of ${record.hoursTotal} hours failed; see errors`,
        );
      } else {
        await this.#finish(record, 'done', null);
      }
    } catch (error) {
      logger.error({ err: error, job: record.id }, 'recompute job failed');
      const code = isTandemError(error) ? error.code : 'TANDEM_ERR_BATCH_RUN_FAILED';
      const message = error instanceof Error ? error.message : String(error);
      await this.#finish(record, 'failed', `${code}: ${message}`).catch((stored: unknown) =>
        logger.error({ err: stored, job: record.id }, 'could not record a failed recompute job'),
      );
    }
  }

  #count(record: RecomputeJob, outcome: HourOutcome): void {
    record.hoursDone++;
    if (outcome.status === 'published') record.hoursPublished++;
    else if (outcome.status === 'skipped') record.hoursSkipped++;
    else {
      record.hoursFailed++;
      if (record.errors.length < this.options.maxErrors) {
        const error = outcome.error;
        record.errors.push({
          hour: outcome.hour,
          code: isTandemError(error) ? error.code : (outcome.reason ?? 'TANDEM_ERR_BATCH_RUN_FAILED'),
          message: error?.message ?? '',
        });
      }
    }
  }

  async #finish(record: RecomputeJob, state: RecomputeJobState, reason: string | null): Promise<void> {
    record.state = state;
    record.reason = reason;
    record.currentHour = null;
    record.cancelRequested = false;
    record.finishedAt = this.#layer.runtime.now();
    this.#layer.runtime.logger.info(
      {
        job: record.id,
        view: record.view,
        state,
        reason,
        published: record.hoursPublished,
        failed: record.hoursFailed,
        skipped: record.hoursSkipped,
      },
      'recompute job finished',
    );
    await this.#store(record);
    await this.#redisCall(() => this.#redis.del(this.#keys.cancel(record.id)));
  }

  /** Writes a record (refreshing its expiry); a new one also enters the index, which keeps the newest `keep`. */
  async #store(record: RecomputeJob, isNew = false): Promise<void> {
    record.updatedAt = this.#layer.runtime.now();
    const key = this.#keys.job(record.id);
    const body = JSON.stringify(record);
    if (!isNew) {
      await this.#redisCall(() => this.#redis.set(key, body, 'PX', this.options.retentionMs));
      return;
    }
    await this.#redisCall(() =>
      this.#redis
        .multi()
        .set(key, body, 'PX', this.options.retentionMs)
        .zadd(this.#keys.index, record.createdAt, record.id)
        .exec(),
    );
    const excess = await this.#redisCall(() =>
      this.#redis.zrange(this.#keys.index, 0, -(this.options.keep + 1)),
    );
    if (excess.length > 0) {
      await this.#redisCall(() =>
        this.#redis
          .multi()
          .zrem(this.#keys.index, ...excess)
          .del(...excess.map((id) => this.#keys.job(id)))
          .exec(),
      );
    }
  }

  /** Records by id (missing ones left out), with a pending cancel and a dead owner shown. */
  async #read(ids: readonly string[]): Promise<RecomputeJob[]> {
    if (ids.length === 0) return [];
    const values = await this.#redisCall(() =>
      this.#redis.mget(...ids.flatMap((id) => [this.#keys.job(id), this.#keys.cancel(id)])),
    );
    const now = this.#layer.runtime.now();
    const records: RecomputeJob[] = [];
    for (let i = 0; i < ids.length; i++) {
      const text = values[2 * i];
      if (text === null || text === undefined) continue;
      let record: RecomputeJob;
      try {
        record = JSON.parse(text) as RecomputeJob;
      } catch {
        continue; // not a record of ours
      }
      if (isFinalJobState(record.state)) {
        records.push(record);
        continue;
      }
      if (values[2 * i + 1] !== null) record.cancelRequested = true;
      if (now - record.updatedAt > this.options.lostAfterMs) {
        record = {
          ...record,
          state: 'failed',
          cancelRequested: false,
          currentHour: null,
          reason:
            `the process running it (${record.owner}) stopped at ${iso(record.updatedAt)}; ` +
            'hours published before then are complete, submit the recompute again for the rest',
        };
      }
      records.push(record);
    }
    return records;
  }

  /** Keeps the records of held jobs fresh (so other replicas know they live) and acts on cancels sent to other replicas. */
  #ensureHeartbeat(): void {
    if (this.#stopHeartbeat !== null) return;
    const beat = async () => {
      const held = [...this.#queued, ...[...this.#running.values()].map(({ job }) => job)];
      if (held.length > 0) {
        const flags = await this.#redis.mget(...held.map((job) => this.#keys.cancel(job.record.id)));
        for (const [index, job] of held.entries()) {
          const reason = flags[index];
          if (reason !== null && reason !== undefined && !job.abort.signal.aborted) {
            await this.cancel(job.record.id, reason);
          }
        }
        for (const job of held) if (!isFinalJobState(job.record.state)) await this.#store(job.record);
      }
    };
    const schedule = () => {
      this.#stopHeartbeat = this.#layer.runtime.setTimer(() => {
        beat()
          .catch((error: unknown) =>
            this.#layer.runtime.logger.warn({ err: error }, 'recompute job heartbeat failed; retrying'),
          )
          .finally(() => {
            if (this.#stopHeartbeat !== null) schedule();
          });
      }, this.options.heartbeatMs);
    };
    schedule();
  }

  async #redisCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw new TandemError(
        'TANDEM_ERR_SERVICE_UNAVAILABLE',
        `Redis at ${describeRedis(this.#redis)} could not be reached to store or read recompute jobs; retry once it is back`,
        { cause: error, retryable: true },
      );
    }
  }
}

/** Defaults filled in and every option checked once (`TANDEM_ERR_CONFIG_INVALID` naming the first bad one). */
export function resolveRecomputeJobsOptions(options: Partial<RecomputeJobsOptions>): RecomputeJobsOptions {
  const resolved = { ...defaultRecomputeJobsOptions };
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!(name in defaultRecomputeJobsOptions)) {
      throw invalidOption(
        'recompute jobs',
        name,
        value,
        `one of ${Object.keys(defaultRecomputeJobsOptions).join(', ')}`,
      );
    }
    if (!Number.isSafeInteger(value) || (value as number) < 1) {
      throw invalidOption('recompute jobs', name, value, 'an integer ≥ 1');
    }
    (resolved as Record<string, number>)[name] = value as number;
  }
  return resolved;
}

function reasonOf(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'cancelled';
}

function iso(time: number): string {
  return new Date(time).toISOString();
}

// The batch scheduler: node-cron triggers (UTC) for the hourly run and the nightly recompute, and a
// catch-up of missing and stale hours on start, for the views of every stream. Each view's hours are
// judged by its own stream (its archiver's watermarks, its earliest raw logs). Work is serialized
// per scheduler; several schedulers (processes or machines) share hours through the Redis leases.
// Regular work keeps each view's serving version; after it, a build pass extends a version being built
// (generation-builder.ts) and switches serving to it once it covers the view's history.
// Besides the work, it refreshes every view's status record (sealed-through, stale hours) on a timer
// of its own, so status pages read Redis instead of listing the lake. Stopping aborts the work in
// flight between hours (never half an hour), and `health()` says whether the loop still makes progress.
import { DAY_MS, HOUR_MS, hourStart, invalidOption, type Stream, TandemError } from '@tandem/core';
import cron from 'node-cron';
import type { BatchLayer } from './batch-layer.ts';
import type { HourOutcome } from './batch-runner.ts';
import { isHourComplete } from './completeness.ts';

/** What a cron library must offer; node-cron by default, a manual trigger in tests. */
export type CronScheduleFn = (expression: string, task: () => void) => { stop(): void };

export interface BatchSchedulerOptions {
  /** Views to maintain. @defaultValue every view of the layer (of every stream) */
  views: string[];
  /** Run the catch-up when started. @defaultValue true */
  catchUpOnStart: boolean;
  /** How cron expressions are scheduled. @defaultValue node-cron in UTC */
  schedule: CronScheduleFn;
  /**
   * How often every view's status record is computed again (0: only after publishes). Each refresh
   * costs per view what one status call used to: a listing of the view's pointers and one of its
   * stream's raw logs per day of the catch-up window (on S3, about 60 LIST pages for 30 days).
   * @defaultValue 60000
   */
  statusRefreshMs: number;
  /**
   * Work that has published no hour for this long, or a status refresh running this long, counts
   * as wedged in `health()`. Far above a chunk's compute time (tens of seconds). @defaultValue 900000
   */
  wedgedAfterMs: number;
}

export const defaultBatchSchedulerOptions = { statusRefreshMs: 60_000, wedgedAfterMs: 900_000 } as const;

/** Whether the scheduler can still do its job (what `/healthz` reports for it). */
export interface SchedulerHealth {
  ok: boolean;
  /** What it is doing, or why it is not ok. */
  detail: string;
  /** The piece of work in flight (`catch-up`, `hourly`, `nightly`), or null when idle. */
  working: string | null;
  /** When the last hour outcome of the work in flight landed (or the work started). */
  lastProgressAt: number | null;
  /** When the last status refresh finished. */
  statusRefreshedAt: number | null;
}

export const nodeCronSchedule: CronScheduleFn = (expression, task) =>
  cron.schedule(expression, task, { timezone: 'UTC', noOverlap: true });

export class BatchScheduler {
  readonly #layer: BatchLayer;
  readonly #options: BatchSchedulerOptions;
  readonly #tasks: Array<{ stop(): void }> = [];
  #queue: Promise<unknown> = Promise.resolve();
  #cancelRecheck: (() => void) | null = null;
  #running = false;
  #abort = new AbortController();
  #working: { name: string; since: number; lastProgressAt: number } | null = null;
  #cancelRefresh: (() => void) | null = null;
  #refreshing: { since: number; done: Promise<void> } | null = null;
  #statusRefreshedAt: number | null = null;

  constructor(layer: BatchLayer, options: Partial<BatchSchedulerOptions> = {}) {
    this.#layer = layer;
    const views = options.views ?? layer.views().map((view) => view.name);
    for (const view of views) layer.view(view); // unknown names fail here, not at 3 am
    for (const expression of [layer.options.hourlyCron, layer.options.nightlyCron]) {
      if (options.schedule === undefined && !cron.validate(expression)) {
        throw new TandemError(
          'TANDEM_ERR_CONFIG_INVALID',
          `cron expression "${expression}" is not valid; use five or six fields, e.g. "5 * * * *"`,
        );
      }
    }
    this.#options = {
      views,
      catchUpOnStart: options.catchUpOnStart ?? true,
      schedule: options.schedule ?? nodeCronSchedule,
      statusRefreshMs: options.statusRefreshMs ?? defaultBatchSchedulerOptions.statusRefreshMs,
      wedgedAfterMs: options.wedgedAfterMs ?? defaultBatchSchedulerOptions.wedgedAfterMs,
    };
    for (const name of ['statusRefreshMs', 'wedgedAfterMs'] as const) {
      const value = this.#options[name];
      const least = name === 'wedgedAfterMs' ? 1 : 0;
      if (!Number.isSafeInteger(value) || value < least) {
        throw invalidOption('batch scheduler', name, value, `an integer ≥ ${least}`);
      }
    }
  }

  /** Registers the cron triggers, queues the catch-up and starts the status refreshes. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#abort = new AbortController();
    const { hourlyCron, nightlyCron } = this.#layer.options;
    this.#tasks.push(this.#options.schedule(hourlyCron, () => void this.runHourly().catch(() => undefined)));
    this.#tasks.push(
      this.#options.schedule(nightlyCron, () => void this.runNightly().catch(() => undefined)),
    );
    if (this.#options.catchUpOnStart) void this.catchUp().catch(() => undefined);
    if (this.#options.statusRefreshMs > 0) void this.refreshStatus();
  }

  /**
   * Computes every view's status record now, unless a refresh is already running (then waits for
   * it); the next one follows `statusRefreshMs` after this one ends. Never throws: a view whose
   * figures cannot be computed (Redis or the lake away) keeps its previous record and is logged.
   */
  refreshStatus(): Promise<void> {
    if (this.#refreshing !== null) return this.#refreshing.done;
    this.#cancelRefresh?.();
    this.#cancelRefresh = null;
    const { runtime } = this.#layer;
    const done = (async () => {
      for (const view of this.#options.views) {
        if (!this.#running) break;
        await this.#layer
          .refreshStatus(view)
          .catch((error: unknown) =>
            runtime.logger.warn(
              { err: error, view },
              'batch status refresh failed; keeping the previous record',
            ),
          );
      }
      this.#statusRefreshedAt = runtime.now();
    })().finally(() => {
      this.#refreshing = null;
      if (this.#running && this.#options.statusRefreshMs > 0) {
        this.#cancelRefresh = runtime.setTimer(() => {
          this.#cancelRefresh = null;
          void this.refreshStatus();
        }, this.#options.statusRefreshMs);
      }
    });
    this.#refreshing = { since: runtime.now(), done };
    return done;
  }

  /**
   * Whether the loop can still do its job: not stopped, no work in flight without a published (or
   * otherwise finished) hour for `wedgedAfterMs`, no status refresh hanging as long. Dependencies
   * being down do not make it unhealthy (the work retries and `/readyz` reports them).
   */
  health(): SchedulerHealth {
    const now = this.#layer.runtime.now();
    const base = {
      working: this.#working?.name ?? null,
      lastProgressAt: this.#working?.lastProgressAt ?? null,
      statusRefreshedAt: this.#statusRefreshedAt,
    };
    const limit = this.#options.wedgedAfterMs;
    if (!this.#running) return { ok: false, detail: 'stopped', ...base };
    if (this.#working !== null && now - this.#working.lastProgressAt > limit) {
      return {
        ok: false,
        detail: `${this.#working.name} work has finished no hour for ${Math.round((now - this.#working.lastProgressAt) / 1000)} s (wedged after ${limit / 1000} s)`,
        ...base,
      };
    }
    if (this.#refreshing !== null && now - this.#refreshing.since > limit) {
      return {
        ok: false,
        detail: `the status refresh has been running for ${Math.round((now - this.#refreshing.since) / 1000)} s (wedged after ${limit / 1000} s)`,
        ...base,
      };
    }
    return {
      ok: true,
      detail: this.#working === null ? 'idle' : `${this.#working.name} in progress`,
      ...base,
    };
  }

  /** Resolves when every queued piece of work has finished. */
  async idle(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.#queue;
      await seen.catch(() => undefined);
    } while (seen !== this.#queue);
  }

  /**
   * Stops the triggers and the status refreshes, aborts the work in flight — it stops between
   * hours: the hour being published finishes (pointer last), a chunk being computed is
   * interrupted, queued work never starts — and waits for it.
   */
  async stop(): Promise<void> {
    this.#running = false;
    this.#abort.abort(new Error('the batch scheduler is stopping'));
    for (const task of this.#tasks.splice(0)) task.stop();
    this.#cancelRecheck?.();
    this.#cancelRecheck = null;
    this.#cancelRefresh?.();
    this.#cancelRefresh = null;
    await Promise.all([this.idle(), this.#refreshing?.done]);
  }

  /**
   * Work runs one piece at a time per scheduler; errors are logged, never thrown at cron. Work
   * queued behind a piece that a stop aborted does not start.
   */
  #enqueue<T>(name: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = this.#abort.signal;
    const guarded = async (): Promise<T> => {
      if (signal.aborted) throw signal.reason;
      const now = this.#layer.runtime.now();
      this.#working = { name, since: now, lastProgressAt: now };
      try {
        return await work(signal);
      } finally {
        this.#working = null;
      }
    };
    const run = this.#queue.then(guarded, guarded);
    this.#queue = run.catch((error) => {
      if (signal.aborted) return;
      this.#layer.runtime.logger.error({ err: error, work: name }, 'batch scheduler work failed');
    });
    return run;
  }

  /** What every run of the work in flight gets: the stop signal and a progress mark per hour. */
  #hourWork(trigger: 'catch-up' | 'hourly' | 'nightly', signal: AbortSignal) {
    return {
      trigger,
      signal,
      onOutcome: () => {
        if (this.#working !== null) this.#working.lastProgressAt = this.#layer.runtime.now();
      },
    };
  }

  /**
   * The refs the regular work keeps up: each view's serving version (`<view>` or `<view>@v<n>`,
   * after registering the config's definitions). A version being built is the build's work.
   */
  async #servingRefs(): Promise<string[]> {
    const plans = await this.#layer.generations.reconcile(this.#options.views);
    return plans.map((plan) => plan.activeRef);
  }

  /**
   * One build pass: each view's building version over its history, newest hour first, and the
   * switch of those now covered (generation-builder.ts).
   */
  async #build(trigger: 'catch-up' | 'hourly', signal: AbortSignal): Promise<HourOutcome[]> {
    if (signal.aborted) return [];
    const { outcomes } = await this.#layer.generations.build(
      this.#options.views,
      this.#hourWork(trigger, signal),
    );
    // Old versions past the retention period: retired, then their lake trees collected.
    if (!signal.aborted) await this.#layer.generations.collect(this.#options.views);
    return outcomes;
  }

  /** Missing and stale complete hours of every view's serving version, oldest first; then the build. */
  catchUp(): Promise<HourOutcome[]> {
    return this.#enqueue('catch-up', async (signal) => {
      const outcomes: HourOutcome[] = [];
      for (const view of await this.#servingRefs()) {
        if (signal.aborted) break;
        outcomes.push(...(await this.#layer.backfill(view, this.#hourWork('catch-up', signal))));
      }
      outcomes.push(...(await this.#build('catch-up', signal)));
      return outcomes;
    });
  }

  /**
   * The recent hours (`hourlyLookbackHours`) that are complete but not sealed yet, or stale. When
   * the last finished hour of some view is still incomplete (its stream's archiver behind, lateness
   * not over), checks again after `recheckMs`.
   */
  runHourly(): Promise<HourOutcome[]> {
    return this.#enqueue('hourly', async (signal) => {
      const { runtime, options, reader } = this.#layer;
      const now = runtime.now();
      // Per stream, once per run: completeness and the first archived hour.
      const streams = new Map<string, Promise<{ before: number; earliest: number | null }>>();
      const judged = (stream: Stream) => {
        let found = streams.get(stream.name);
        if (found === undefined) {
          found = (async () => ({
            before: await this.#layer.completeBefore(stream, now),
            earliest: await this.#layer.earliestLogHour(stream),
          }))();
          streams.set(stream.name, found);
        }
        return found;
      };
      const outcomes: HourOutcome[] = [];
      let pending = false;
      for (const name of await this.#servingRefs()) {
        if (signal.aborted) break;
        const view = this.#layer.view(name);
        const { before, earliest } = await judged(this.#layer.streamOf(view));
        // Hours before the stream's first archived one hold nothing; sealing them would only add empty runs.
        if (earliest === null) continue;
        const lastFinished = hourStart(now) - HOUR_MS;
        const candidates: number[] = [];
        for (let i = options.hourlyLookbackHours - 1; i >= 0; i--) {
          const hour = lastFinished - i * HOUR_MS;
          if (hour < earliest) continue;
          if (isHourComplete(view, hour, before)) candidates.push(hour);
          else if (hour === lastFinished) pending = true;
        }
        if (candidates.length === 0) continue;
        reader.invalidate();
        const sealed = new Set(
          (
            await reader.sealedHours(name, {
              from: candidates[0]!,
              to: candidates[candidates.length - 1]! + HOUR_MS,
            })
          ).map((entry) => entry.hour),
        );
        // Sealed hours are re-run too: the runner skips them under the lease unless their input changed.
        const hours = candidates.filter((hour) => !sealed.has(hour) || hour >= lastFinished - HOUR_MS);
        outcomes.push(...(await this.#layer.runHours(name, hours, this.#hourWork('hourly', signal))));
      }
      outcomes.push(...(await this.#build('hourly', signal)));
      if (pending && this.#running && this.#cancelRecheck === null) {
        this.#cancelRecheck = runtime.setTimer(() => {
          this.#cancelRecheck = null;
          if (this.#running) void this.runHourly().catch(() => undefined);
        }, options.recheckMs);
      }
      return outcomes;
    });
  }

  /** Recomputes the previous UTC day (forced): late data the hourly runs missed lands here. */
  runNightly(): Promise<HourOutcome[]> {
    return this.#enqueue('nightly', async (signal) => {
      const now = this.#layer.runtime.now();
      const today = now - (now % DAY_MS);
      const outcomes: HourOutcome[] = [];
      for (const view of await this.#servingRefs()) {
        if (signal.aborted) break;
        const result = await this.#layer.recompute(
          view,
          { from: today - DAY_MS, to: today },
          this.#hourWork('nightly', signal),
        );
        outcomes.push(...result.outcomes);
      }
      return outcomes;
    });
  }
}

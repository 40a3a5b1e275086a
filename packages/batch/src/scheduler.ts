// The batch scheduler: node-cron triggers (UTC) for the hourly run and the nightly recompute, and a
// catch-up of missing and stale hours on start, for the views of every stream. Each view's hours are
// judged by its own stream (its archiver's watermarks, its earliest raw logs). Work is serialized
// per scheduler; several schedulers (processes or machines) share hours through the Redis leases.
import { HOUR_MS, hourStart, type Stream } from '@tandem/core';
import cron from 'node-cron';
import { TandemError } from '@tandem/core';
import type { BatchLayer } from './batch-layer.ts';
import type { HourOutcome } from './batch-runner.ts';
import { isHourComplete } from './completeness.ts';

const DAY_MS = 24 * HOUR_MS;

/** What a cron library must offer; node-cron by default, a manual trigger in tests. */
export type CronScheduleFn = (expression: string, task: () => void) => { stop(): void };

export interface BatchSchedulerOptions {
  /** Views to maintain. @defaultValue every view of the layer (of every stream) */
  views: string[];
  /** Run the catch-up when started. @defaultValue true */
  catchUpOnStart: boolean;
  /** How cron expressions are scheduled. @defaultValue node-cron in UTC */
  schedule: CronScheduleFn;
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
    };
  }

  /** Registers the cron triggers and queues the catch-up. Resolves once registered. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const { hourlyCron, nightlyCron } = this.#layer.options;
    this.#tasks.push(this.#options.schedule(hourlyCron, () => void this.runHourly().catch(() => undefined)));
    this.#tasks.push(
      this.#options.schedule(nightlyCron, () => void this.runNightly().catch(() => undefined)),
    );
    if (this.#options.catchUpOnStart) void this.catchUp().catch(() => undefined);
  }

  /** Resolves when every queued piece of work has finished. */
  async idle(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.#queue;
      await seen.catch(() => undefined);
    } while (seen !== this.#queue);
  }

  /** Stops the triggers and waits for the work in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const task of this.#tasks.splice(0)) task.stop();
    this.#cancelRecheck?.();
    this.#cancelRecheck = null;
    await this.idle();
  }

  /** Work runs one piece at a time per scheduler; errors are logged, never thrown at cron. */
  #enqueue<T>(name: string, work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch((error) => {
      this.#layer.runtime.logger.error({ err: error, work: name }, 'batch scheduler work failed');
    });
    return run;
  }

  /** Missing and stale complete hours of every view, oldest first. */
  catchUp(): Promise<HourOutcome[]> {
    return this.#enqueue('catch-up', async () => {
      const outcomes: HourOutcome[] = [];
      for (const view of this.#options.views) {
        outcomes.push(...(await this.#layer.backfill(view, { trigger: 'catch-up' })));
      }
      return outcomes;
    });
  }

  /**
   * The recent hours (`hourlyLookbackHours`) that are complete but not sealed yet, or stale. When
   * the last finished hour of some view is still incomplete (its stream's archiver behind, lateness
   * not over), checks again after `recheckMs`.
   */
  runHourly(): Promise<HourOutcome[]> {
    return this.#enqueue('hourly', async () => {
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
      for (const name of this.#options.views) {
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
            await reader.sealedHours(view.name, {
              from: candidates[0]!,
              to: candidates[candidates.length - 1]! + HOUR_MS,
            })
          ).map((entry) => entry.hour),
        );
        // Sealed hours are re-run too: the runner skips them under the lease unless their input changed.
        const hours = candidates.filter((hour) => !sealed.has(hour) || hour >= lastFinished - HOUR_MS);
        outcomes.push(...(await this.#layer.runHours(view.name, hours, { trigger: 'hourly' })));
      }
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
    return this.#enqueue('nightly', async () => {
      const now = this.#layer.runtime.now();
      const today = now - (now % DAY_MS);
      const outcomes: HourOutcome[] = [];
      for (const view of this.#options.views) {
        const result = await this.#layer.recompute(
          view,
          { from: today - DAY_MS, to: today },
          { trigger: 'nightly' },
        );
        outcomes.push(...result.outcomes);
      }
      return outcomes;
    });
  }
}

// The batch layer as the cli uses it: its reader, its ops entry points (one hour, a forced range,
// backfill of missing and stale hours), its scheduler and its recompute job queue, over the shared
// lake and Redis. Ctrl-C or SIGTERM stops a recompute, a backfill, a catch-up or a job between
// hours: each hour is published by the batch layer's pointer-last write, so an interrupted command
// never leaves half an hour.
import {
  type BatchLayer,
  type HourOutcome as BatchHourOutcome,
  openBatchLayer,
  type RecomputeJobs,
  type RecomputeJobsOptions,
  type RecomputePlanEntry,
  type SchedulerHealth,
  type StatusBackedViewReader,
} from '@tandem/batch';
import type { BatchViewReader, Catalog, TandemConfig, TimeRange } from '@tandem/core';
import type { PostgresExporter } from '@tandem/export-postgres';
import type { ObjectStore } from '@tandem/lake';
import type { RedisClient } from '@tandem/connections';
import type { Logger } from 'pino';

/** Outcome of one (view, hour), as the ops commands print and return it. */
export interface HourOutcome {
  view: string;
  hour: number;
  status: 'published' | 'skipped' | 'failed';
  runId: string | null;
  reason: string | null;
  rowsIn: number | null;
  rowsOut: number | null;
  badRows: number | null;
  duplicateRows: number | null;
  durationMs: number | null;
  error: { code: string; message: string } | null;
}

export interface HourWork {
  signal: AbortSignal;
  /** Called after each hour finishes (progress). */
  onHour?: (outcome: HourOutcome) => void;
}

export type PlanEntry = RecomputePlanEntry;

function toOutcome(outcome: BatchHourOutcome): HourOutcome {
  const pointer = outcome.status === 'published' ? outcome.pointer : null;
  const error = outcome.error;
  return {
    view: outcome.view,
    hour: outcome.hour,
    status: outcome.status,
    runId: outcome.runId,
    reason: outcome.reason,
    rowsIn: pointer?.rowsIn ?? null,
    rowsOut: pointer?.rowsOut ?? null,
    badRows: pointer?.badRows ?? null,
    duplicateRows: pointer?.duplicateRows ?? null,
    durationMs: pointer ? pointer.finishedAt - pointer.startedAt : null,
    error:
      error === null
        ? null
        : {
            code: 'code' in error && typeof error.code === 'string' ? error.code : error.name,
            message: error.message,
          },
  };
}

export class BatchOps {
  readonly layer: BatchLayer;
  #exporter: { exporter: PostgresExporter; unsubscribe: () => void } | null = null;

  constructor(layer: BatchLayer) {
    this.layer = layer;
  }

  get reader(): BatchViewReader {
    return this.layer.reader;
  }

  /** Computes and publishes one hour, even when it is sealed and unchanged. */
  async runHour(view: string, hour: number): Promise<HourOutcome> {
    return toOutcome(await this.layer.runHour(view, hour, { force: true, trigger: 'manual' }));
  }

  /** Hours of the range with their inputs and current run (a dry run's listing). */
  async plan(view: string, range: TimeRange): Promise<PlanEntry[]> {
    return (await this.layer.recompute(view, range, { dryRun: true })).plan;
  }

  /**
   * Force-recomputes the complete hours of the range, oldest first, and stops between hours on
   * abort. The first hour runs alone, so its outcome (or a problem with the data) shows within
   * seconds; the others in the batch layer's chunks (many hours per DuckDB query, a few chunks at
   * once), published one by one, oldest first, each pointer last. An abort interrupts the chunk
   * being computed and publishes no further hour, so every hour is either its previous run or a
   * new complete one, and the hours not republished get no outcome.
   */
  async recompute(view: string, range: TimeRange, work: HourWork): Promise<HourOutcome[]> {
    const plan = await this.plan(view, range);
    const outcomes: HourOutcome[] = [];
    for (const entry of plan) {
      if (entry.complete) continue;
      const outcome: HourOutcome = {
        ...emptyOutcome(view, entry.hour),
        status: 'skipped',
        reason: 'incomplete: the hour’s logs may still grow',
      };
      outcomes.push(outcome);
      work.onHour?.(outcome);
    }
    const complete = plan.filter((entry) => entry.complete).map((entry) => entry.hour);
    for (const hours of [complete.slice(0, 1), complete.slice(1)]) {
      if (hours.length === 0 || work.signal.aborted) continue;
      await this.layer.runHours(view, hours, {
        force: true,
        trigger: 'recompute',
        signal: work.signal,
        onOutcome: (outcome) => {
          const converted = toOutcome(outcome);
          outcomes.push(converted);
          work.onHour?.(converted);
        },
      });
    }
    return outcomes.sort((a, b) => a.hour - b.hour);
  }

  /** Missing and stale complete hours per view, oldest first. */
  async backfillPlan(
    views: string[],
  ): Promise<Array<{ view: string; hour: number; why: 'missing' | 'stale' }>> {
    const entries: Array<{ view: string; hour: number; why: 'missing' | 'stale' }> = [];
    for (const view of views) {
      const plan = await this.layer.plan(view);
      const stale = new Set(plan.stale);
      for (const hour of [...new Set([...plan.missing, ...plan.stale])].sort((a, b) => a - b)) {
        entries.push({ view, hour, why: stale.has(hour) ? 'stale' : 'missing' });
      }
    }
    return entries;
  }

  /**
   * Computes the planned hours (not forced: an hour that became up to date meanwhile is skipped),
   * view by view in the batch layer's chunks, oldest first. On abort it stops between hours: the
   * chunk being computed is interrupted, no further hour is published, no further view starts, and
   * the hours not reached get no outcome.
   */
  async backfill(plan: Array<{ view: string; hour: number }>, work: HourWork): Promise<HourOutcome[]> {
    const byView = new Map<string, number[]>();
    for (const { view, hour } of plan) byView.set(view, [...(byView.get(view) ?? []), hour]);
    const outcomes: HourOutcome[] = [];
    for (const [view, hours] of byView) {
      if (work.signal.aborted) break;
      await this.layer.runHours(view, hours, {
        trigger: 'backfill',
        signal: work.signal,
        onOutcome: (outcome) => {
          const converted = toOutcome(outcome);
          outcomes.push(converted);
          work.onHour?.(converted);
        },
      });
    }
    return outcomes;
  }

  async startScheduler(): Promise<{ stop(): Promise<void>; health(): SchedulerHealth }> {
    const scheduler = this.layer.createScheduler();
    scheduler.start();
    return { stop: () => scheduler.stop(), health: () => scheduler.health() };
  }

  /**
   * With EXPORT_POSTGRES_URL set, every hour this process publishes (scheduler, recompute jobs,
   * `tandem recompute` and `backfill`) is queued for export right after; the exporter retries with
   * backoff on its own and never holds a publish up (a failure leaves the hour lagging for the next
   * `tandem export`). Without it, nothing is exported.
   */
  async exportAfterPublish(config: TandemConfig): Promise<void> {
    if (config.exportPostgres.url === null || this.#exporter !== null) return;
    // Loaded only when exporting: most processes never need the PostgreSQL client.
    const { exportOptionsFromConfig, PostgresExporter } = await import('@tandem/export-postgres');
    const options = exportOptionsFromConfig(config);
    if (options === null) return;
    const exporter = new PostgresExporter({
      ...options,
      catalog: this.layer.catalog,
      source: this.layer.reader,
      logger: this.layer.runtime.logger.child({ component: 'export' }),
    });
    this.#exporter = { exporter, unsubscribe: this.layer.onPublished((v, h) => exporter.enqueue(v, h)) };
  }

  /** The reader for status pages and serving: sealed-through and stale hours from the status record. */
  statusReader(): StatusBackedViewReader {
    return this.layer.statusReader();
  }

  /** A recompute job queue run by this process (closed with the batch layer, or earlier by its owner). */
  recomputeJobs(options: Partial<RecomputeJobsOptions> = {}): RecomputeJobs {
    return this.layer.createRecomputeJobs(options);
  }

  /** Lets queued exports finish (30 s at most: the hours not started stay lagging), then closes everything. */
  async close(): Promise<void> {
    if (this.#exporter !== null) {
      const { exporter, unsubscribe } = this.#exporter;
      this.#exporter = null;
      unsubscribe();
      await exporter.close(30_000);
    }
    await this.layer.close();
  }
}

function emptyOutcome(view: string, hour: number): HourOutcome {
  return {
    view,
    hour,
    status: 'skipped',
    runId: null,
    reason: null,
    rowsIn: null,
    rowsOut: null,
    badRows: null,
    duplicateRows: null,
    durationMs: null,
    error: null,
  };
}

/** The batch layer over every view of the deployment's catalog (the same the speed and serving layers get). */
export async function openBatchOps(
  config: TandemConfig,
  catalog: Catalog,
  lake: ObjectStore,
  redis: RedisClient,
  logger: Logger,
): Promise<BatchOps> {
  const layer = await openBatchLayer({
    config,
    catalog,
    store: lake,
    redis,
    logger: logger.child({ component: 'batch' }),
  });
  const ops = new BatchOps(layer);
  await ops.exportAfterPublish(config);
  return ops;
}

// `tandem batch run`, `tandem recompute` and `tandem backfill`: computing and publishing batch hours
// on demand. Each hour is published by the batch layer's pointer-last write, and a Ctrl-C or SIGTERM
// stops between hours within seconds (the chunk being computed is interrupted), so an interrupted
// command leaves every hour either as it was or fully replaced, and exits 130 (SIGINT) or 143 (SIGTERM).
import { HOUR_MS, type TandemConfig, type View } from '@tandem/core';
import type { RedisClient } from '@tandem/connections';
import { type CommandContext, defineCommand, flag, option, required } from '../framework/command.ts';
import type { Output } from '../framework/output.ts';
import { formatDuration, formatHour } from '../framework/time.ts';
import { usageError } from '../framework/usage-error.ts';
import * as v from '../framework/values.ts';
import type { HourOutcome } from '../wiring/batch.ts';
import type { Platform } from '../wiring/platform.ts';
import { activeNamespace } from '../wiring/speed-namespace.ts';
import { resolveView, viewValue } from './catalog-args.ts';

/**
 * Runs `work` with a Platform over the deployment's catalog (the same for every component), closed
 * afterwards whatever happens.
 */
export async function withPlatform<T>(
  context: CommandContext,
  work: (platform: Platform) => Promise<T>,
): Promise<T> {
  const config = context.config();
  const catalog = await context.catalog();
  // Loaded here, not at the top: `tandem --help` and light commands never load DuckDB, Kafka or S3
  // clients, and a component package that fails to load breaks only the commands that use it.
  const [{ Platform }, { createLogger }] = await Promise.all([
    import('../wiring/platform.ts'),
    import('../wiring/logger.ts'),
  ]);
  const platform = new Platform(
    config,
    createLogger({ ...config, logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel }),
    catalog,
  );
  try {
    return await work(platform);
  } finally {
    await platform.close();
  }
}

function outcomeLine(out: Output, outcome: HourOutcome): string {
  const status =
    outcome.status === 'published'
      ? out.style('published', 'green')
      : outcome.status === 'failed'
        ? out.style('FAILED', 'red')
        : out.style('skipped', 'dim');
  const details =
    outcome.status === 'published'
      ? `run ${outcome.runId}, ${outcome.rowsIn ?? '?'} lines in, ${outcome.rowsOut ?? '?'} rows out, ${outcome.badRows ?? 0} bad, ${formatDuration(outcome.durationMs)}`
      : outcome.status === 'failed'
        ? `${outcome.error?.code ?? ''}: ${outcome.error?.message ?? ''}`
        : (outcome.reason ?? '');
  return `${outcome.view} ${formatHour(outcome.hour)}  ${status}  ${details}`;
}

/** An outcome as --json prints it: hours as ISO like every other time the cli prints. */
function outcomeJson(outcome: HourOutcome): Omit<HourOutcome, 'hour'> & { hour: string } {
  return { ...outcome, hour: formatHour(outcome.hour) };
}

/** The conventional exit code of a command stopped by a signal: 128 + its number. */
function interruptedCode(signal: AbortSignal): number {
  const reason: unknown = signal.reason;
  return reason instanceof Error && /SIGTERM/.test(reason.message) ? 143 : 130;
}

function summarize(outcomes: HourOutcome[]): Record<string, number> {
  const counts: Record<string, number> = { published: 0, skipped: 0, failed: 0 };
  for (const outcome of outcomes) counts[outcome.status] = (counts[outcome.status] ?? 0) + 1;
  return counts;
}

export const batchRunCommand = defineCommand({
  path: ['batch', 'run'],
  summary: 'compute and publish one hour of one view now',
  description:
    'Reads the hour’s log partition(s) of the view’s stream from the lake, computes the view with DuckDB ' +
    '(deduplicated by the stream’s id field, or by content when it has none) ' +
    'and publishes it by writing the hour’s pointer last. Runs even if the hour is already sealed and unchanged.',
  options: {
    view: required(viewValue(), { description: 'the view', placeholder: 'view' }),
    hour: required(v.hour(), { description: 'the hour (its start)', placeholder: 'hour' }),
  },
  reports: true,
  examples: [
    'tandem batch run --view endpoint_hourly --hour 2025-01-31T14',
    'tandem batch run --view sessions_hourly --hour -2h --json',
    'TANDEM_CONFIG=examples/iot/tandem.config.ts tandem batch run --view site_minutely --hour -2h',
  ],
  async run(context, options) {
    const view = resolveView(await context.catalog(), options.view);
    return withPlatform(context, async (platform) => {
      const batch = await platform.batch();
      const outcome = await batch.runHour(view.name, options.hour);
      context.out.line(outcomeLine(context.out, outcome));
      context.out.result(outcomeJson(outcome));
      return outcome.status === 'failed' ? 1 : 0;
    });
  },
});

/**
 * The real-time keys of `hours` that exist in the active namespace of the view's stream (what the
 * janitor drops once sealed).
 */
async function realtimeKeys(
  redis: RedisClient,
  config: TandemConfig,
  view: View,
  hours: number[],
): Promise<{ namespace: string; keys: Map<number, string[]> }> {
  const { speedKeys } = await import('@tandem/speed');
  const namespace = await activeNamespace(redis, config.redis.prefix, view.stream);
  const keys = speedKeys(namespace, view.stream);
  const partitions = (await redis.smembers(keys.partitions())).map(Number).sort((a, b) => a - b);
  const result = new Map<number, string[]>();
  for (const hour of hours) {
    const candidates: string[] = [];
    for (const partition of partitions) {
      for (let bucket = hour; bucket < hour + HOUR_MS; bucket += view.bucketMs) {
        candidates.push(keys.bucket(partition, view.name, view.version, bucket));
      }
    }
    const exists =
      candidates.length === 0 ? [] : await Promise.all(candidates.map((key) => redis.exists(key)));
    result.set(
      hour,
      candidates.filter((_, i) => exists[i] === 1),
    );
  }
  return { namespace, keys: result };
}

export const recomputeCommand = defineCommand({
  path: ['recompute'],
  summary: 'force-recompute a view over a range of hours and republish each',
  description:
    'Recomputes every hour in [--from, --to) from the lake, whether or not it is sealed or changed, oldest ' +
    'first, several hours per query, publishing each atomically (pointer last). Ctrl-C or SIGTERM stops between ' +
    'hours within seconds: the hours done stay republished, the rest keep their previous version (exit 130 or ' +
    '143). --dry-run lists the hours, the input files each ' +
    'would read, and the real-time keys the janitor will drop once the hours are sealed.',
  options: {
    view: required(viewValue(), { description: 'the view', placeholder: 'view' }),
    from: required(v.time(), { description: 'first hour (rounded down to the hour)', placeholder: 'time' }),
    to: required(v.time(), { description: 'end, exclusive (rounded up to the hour)', placeholder: 'time' }),
    'dry-run': flag('show what would be recomputed; change nothing'),
  },
  reports: true,
  examples: [
    'tandem recompute --view endpoint_hourly --from 2025-01-31T00 --to 2025-02-01T00',
    'tandem recompute --view sessions_hourly --from -6h --to now --dry-run',
  ],
  async run(context, options) {
    const from = Math.floor(options.from / HOUR_MS) * HOUR_MS;
    const to = Math.ceil(options.to / HOUR_MS) * HOUR_MS;
    if (to <= from)
      throw usageError(`--to must be after --from (got ${formatHour(from)} … ${formatHour(to)})`);
    if (to - from > 31 * 24 * HOUR_MS)
      throw usageError('the range is longer than 31 days; split it into smaller recomputes');
    const hours: number[] = [];
    for (let hour = from; hour < to; hour += HOUR_MS) hours.push(hour);
    const view = resolveView(await context.catalog(), options.view);
    return withPlatform(context, async (platform) => {
      const batch = await platform.batch();
      if (options['dry-run']) {
        const plan = await batch.plan(view.name, { from, to });
        const realtime = await realtimeKeys(await platform.redis(), platform.config, view, hours);
        const rows = plan.map((entry) => ({
          hour: formatHour(entry.hour),
          complete: entry.complete,
          current: entry.current,
          partitions: entry.partitions.map(formatHour),
          inputFiles: entry.inputs.length,
          inputBytes: entry.inputBytes,
          inputs: entry.inputs,
          realtimeKeys: realtime.keys.get(entry.hour) ?? [],
        }));
        context.out.line(
          `would recompute ${options.view} for ${rows.filter((r) => r.complete).length} of ${hours.length} hours (${formatHour(from)} … ${formatHour(to)}):`,
        );
        context.out.table(rows, [
          { header: 'HOUR', cell: (r) => r.hour },
          { header: 'ACTION', cell: (r) => (r.complete ? 'recompute' : 'skip: incomplete') },
          {
            header: 'NOW',
            cell: (r) =>
              r.current === null ? 'not sealed' : `${r.current.runId}${r.current.stale ? ' (stale)' : ''}`,
          },
          { header: 'INPUT FILES', cell: (r) => String(r.inputFiles), align: 'right' },
          { header: 'BYTES', cell: (r) => String(r.inputBytes), align: 'right' },
          {
            header: `REAL-TIME KEYS TO DROP (${realtime.namespace})`,
            cell: (r) => String(r.realtimeKeys.length),
            align: 'right',
          },
        ]);
        context.out.line('');
        context.out.line('inputs:');
        for (const row of rows)
          for (const file of row.inputs) context.out.line(`  ${row.hour}  ${file.key}  ${file.size} B`);
        context.out.line(
          `real-time keys are dropped by the janitor ${formatDuration(platform.config.speed.sealedGraceMs)} after an hour is sealed`,
        );
        context.out.result({
          dryRun: true,
          view: options.view,
          from: formatHour(from),
          to: formatHour(to),
          namespace: realtime.namespace,
          hours: rows,
        });
        return 0;
      }
      const progress = context.out.progress({
        label: `recompute ${options.view}`,
        total: hours.length,
        unit: 'hours',
      });
      const outcomes = await batch.recompute(
        options.view,
        { from, to },
        {
          signal: context.signal,
          onHour: (outcome) => {
            if (outcome.status === 'failed') context.out.info(outcomeLine(context.out, outcome));
            progress.tick(1, formatHour(outcome.hour));
          },
        },
      );
      const counts = summarize(outcomes);
      const interrupted = context.signal.aborted && outcomes.length < hours.length;
      progress.stop(
        `recompute ${options.view}: ${counts.published} published, ${counts.failed} failed` +
          (interrupted ? `, ${hours.length - outcomes.length} not started (interrupted)` : ''),
      );
      for (const outcome of outcomes) context.out.line(outcomeLine(context.out, outcome));
      context.out.result({
        dryRun: false,
        view: options.view,
        from: formatHour(from),
        to: formatHour(to),
        interrupted,
        counts,
        hours: outcomes.map(outcomeJson),
      });
      if (interrupted) return interruptedCode(context.signal);
      return counts.failed! > 0 ? 1 : 0;
    });
  },
});

export const backfillCommand = defineCommand({
  path: ['backfill'],
  summary: 'compute the missing and stale hours (those with changed input) of one or every view',
  description:
    'Finds hours whose log partitions exist but that have no batch view yet (missing), or whose inputs changed ' +
    'since they were sealed (stale: a late file, a rewrite), and computes only those, oldest first. Sealed, ' +
    'unchanged hours are left alone. Ctrl-C or SIGTERM stops between hours within seconds: the hours published ' +
    'are complete, the rest are left as they were (exit 130 or 143).',
  options: {
    view: option(viewValue(), {
      description: 'only this view',
      placeholder: 'view',
      defaultText: 'every view of every stream',
    }),
    'dry-run': flag('list the hours that would be computed; change nothing'),
  },
  reports: true,
  examples: ['tandem backfill', 'tandem backfill --view endpoint_hourly --dry-run'],
  async run(context, options) {
    const catalog = await context.catalog();
    const views =
      options.view === undefined
        ? catalog.views.map((view) => view.name)
        : [resolveView(catalog, options.view).name];
    return withPlatform(context, async (platform) => {
      const batch = await platform.batch();
      const plan = await batch.backfillPlan(views);
      if (options['dry-run'] || plan.length === 0) {
        if (plan.length === 0)
          context.out.line('nothing to backfill: every hour with input is sealed and unchanged');
        else context.out.line(`would compute ${plan.length} hours:`);
        context.out.table(plan, [
          { header: 'VIEW', cell: (p) => p.view },
          { header: 'HOUR', cell: (p) => formatHour(p.hour) },
          { header: 'WHY', cell: (p) => p.why },
        ]);
        context.out.result({
          dryRun: options['dry-run'],
          plan: plan.map((p) => ({ ...p, hour: formatHour(p.hour) })),
          hours: [],
        });
        return 0;
      }
      const progress = context.out.progress({ label: 'backfill', total: plan.length, unit: 'hours' });
      const outcomes = await batch.backfill(plan, {
        signal: context.signal,
        onHour: (outcome) => {
          if (outcome.status === 'failed') context.out.info(outcomeLine(context.out, outcome));
          progress.tick(1, `${outcome.view} ${formatHour(outcome.hour)}`);
        },
      });
      const counts = summarize(outcomes);
      const interrupted = context.signal.aborted && outcomes.length < plan.length;
      progress.stop(
        `backfill: ${counts.published} published, ${counts.skipped} skipped, ${counts.failed} failed${interrupted ? ' (interrupted)' : ''}`,
      );
      for (const outcome of outcomes) context.out.line(outcomeLine(context.out, outcome));
      context.out.result({
        dryRun: false,
        plan: plan.map((p) => ({ ...p, hour: formatHour(p.hour) })),
        interrupted,
        counts,
        hours: outcomes.map(outcomeJson),
      });
      if (interrupted) return interruptedCode(context.signal);
      return counts.failed! > 0 ? 1 : 0;
    });
  },
});

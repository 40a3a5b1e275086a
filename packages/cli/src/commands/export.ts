// `tandem export`: copies the sealed hours of a view into its PostgreSQL table (EXPORT_POSTGRES_URL),
// oldest first, each hour in one fenced transaction, so BI tools read complete hours only. Hours
// the table already holds in their current run are skipped; --force writes them again. Ctrl-C stops
// between hours (exit 130 or 143); an unreachable database or refused credentials stop it at once.
import { HOUR_MS, TandemError } from '@tandem/core';
import { defineCommand, flag, required } from '../framework/command.ts';
import type { Output } from '../framework/output.ts';
import { formatDuration, formatHour } from '../framework/time.ts';
import { usageError } from '../framework/usage-error.ts';
import * as v from '../framework/values.ts';
import { withPlatform } from './batch-ops.ts';
import { resolveView, viewValue } from './catalog-args.ts';

/** The longest range one command exports (a year of hours). */
const MAX_EXPORT_HOURS = 366 * 24;

/** One hour's outcome as the command prints and returns it (the exporter's, with ISO hours). */
interface PrintedOutcome {
  view: string;
  hour: string;
  table: string;
  status: string;
  runId: string | null;
  fencingToken: number | null;
  rows: number | null;
  upserted: number;
  deleted: number;
  attempts: number;
  durationMs: number;
  error: { code: string; message: string } | null;
}

function outcomeLine(out: Output, outcome: PrintedOutcome): string {
  const status =
    outcome.status === 'exported'
      ? out.style('exported', 'green')
      : outcome.status === 'failed'
        ? out.style('FAILED', 'red')
        : out.style(outcome.status, 'dim');
  const details =
    outcome.status === 'exported'
      ? `run ${outcome.runId} (token ${outcome.fencingToken}), ${outcome.rows} rows: ${outcome.upserted} written, ${outcome.deleted} vanished tuples deleted, ${formatDuration(outcome.durationMs)}`
      : outcome.status === 'failed'
        ? `${outcome.error?.code ?? ''}: ${outcome.error?.message ?? ''}`
        : outcome.status === 'unchanged'
          ? `the table holds run ${outcome.runId} already`
          : outcome.status === 'superseded'
            ? 'the table holds a newer run'
            : 'no batch run for this hour';
  return `${outcome.view} ${outcome.hour}  ${status}  ${details}`;
}

/** The conventional exit code of a command stopped by a signal: 128 + its number. */
function interruptedCode(signal: AbortSignal): number {
  const reason: unknown = signal.reason;
  return reason instanceof Error && /SIGTERM/.test(reason.message) ? 143 : 130;
}

export const exportCommand = defineCommand({
  path: ['export'],
  summary: 'export the sealed hours of a view into its PostgreSQL table (EXPORT_POSTGRES_URL)',
  description:
    'Copies every sealed hour of the view in [--from, --to) into the table of its version in the ' +
    'EXPORT_POSTGRES_SCHEMA schema (default tandem; the table is <view>_v<version>, also readable as the ' +
    'view <view>), creating the table when missing. Each hour is one transaction (COPY into a temporary ' +
    'table, upsert guarded by the run’s fencing token, delete of the dimension tuples the run no longer ' +
    'has), so a reader sees an hour either as before or as the new run, and a run never overwrites a ' +
    'newer one. Hours whose current run the table holds already are skipped; --force writes them again ' +
    '(repairs rows changed by hand). Failures are retried with backoff; an unreachable database, refused ' +
    'credentials or a table altered by hand stop the command with a coded error. Ctrl-C stops between hours.',
  options: {
    view: required(viewValue(), { description: 'the view', placeholder: 'view' }),
    from: required(v.time(), { description: 'first hour (rounded down to the hour)', placeholder: 'time' }),
    to: required(v.time(), { description: 'end, exclusive (rounded up to the hour)', placeholder: 'time' }),
    force: flag('write hours again even when the table holds their current run'),
  },
  reports: true,
  examples: [
    'EXPORT_POSTGRES_URL=postgres://tandem:tandem@127.0.0.1:5432/tandem tandem export --view endpoint_hourly --from -24h --to now',
    'tandem export --view sessions_hourly --from 2025-01-31T00 --to 2025-02-01T00 --json',
  ],
  async run(context, options) {
    const from = Math.floor(options.from / HOUR_MS) * HOUR_MS;
    const to = Math.ceil(options.to / HOUR_MS) * HOUR_MS;
    if (to <= from)
      throw usageError(`--to must be after --from (got ${formatHour(from)} … ${formatHour(to)})`);
    const total = (to - from) / HOUR_MS;
    if (total > MAX_EXPORT_HOURS)
      throw usageError('the range is longer than 366 days; split it into smaller exports');
    const config = context.config();
    if (config.exportPostgres.url === null) {
      throw new TandemError(
        'TANDEM_ERR_CONFIG_INVALID',
        'EXPORT_POSTGRES_URL is not set; point it at the database to export to, e.g. ' +
          'postgres://tandem:tandem@127.0.0.1:5432/tandem (TANDEM_STACK_POSTGRES=1 scripts/stack up starts one)',
        { details: { variable: 'EXPORT_POSTGRES_URL' } },
      );
    }
    const url = config.exportPostgres.url;
    const view = resolveView(await context.catalog(), options.view);
    // Loaded here, not at the top: only this command needs the PostgreSQL client.
    const { PostgresExporter } = await import('@tandem/export-postgres');
    return withPlatform(context, async (platform) => {
      const batch = await platform.batch();
      const exporter = new PostgresExporter({
        url,
        schema: config.exportPostgres.schema,
        catalog: platform.catalog,
        source: batch.layer.reader,
        logger: platform.logger.child({ component: 'export' }),
      });
      try {
        const progress = context.out.progress({ label: `export ${view.name}`, total, unit: 'hours' });
        const printed: PrintedOutcome[] = [];
        await exporter.exportRange(
          view.name,
          { from, to },
          {
            force: options.force,
            signal: context.signal,
            onHour: (outcome) => {
              const line: PrintedOutcome = {
                ...outcome,
                hour: formatHour(outcome.hour),
                error:
                  outcome.error === null
                    ? null
                    : { code: outcome.error.code, message: outcome.error.message },
              };
              printed.push(line);
              if (outcome.status === 'failed') context.out.info(outcomeLine(context.out, line));
              progress.tick(1, line.hour);
            },
          },
        );
        const counts: Record<string, number> = {
          exported: 0,
          unchanged: 0,
          superseded: 0,
          'not-sealed': 0,
          failed: 0,
        };
        for (const outcome of printed) counts[outcome.status] = (counts[outcome.status] ?? 0) + 1;
        const interrupted = context.signal.aborted && printed.length < total;
        const stopped = !interrupted && printed.length < total;
        progress.stop(
          `export ${view.name}: ${counts.exported} exported, ${counts.unchanged} unchanged, ${counts['not-sealed']} not sealed, ${counts.failed} failed` +
            (interrupted ? `, ${total - printed.length} not started (interrupted)` : '') +
            (stopped ? `, ${total - printed.length} not started (stopped at the failure)` : ''),
        );
        for (const outcome of printed) {
          if (outcome.status !== 'not-sealed') context.out.line(outcomeLine(context.out, outcome));
        }
        const failure = printed.find((outcome) => outcome.status === 'failed');
        // Exported-through is read only when the database answered: after a connection or
        // credentials failure it would fail the same way.
        const exportedThrough = failure === undefined ? await exporter.exportedThrough(view.name) : null;
        if (exportedThrough !== null) context.out.line(`exported through ${formatHour(exportedThrough)}`);
        context.out.result({
          view: view.name,
          table: exporter.layout(view.name).schema + '.' + exporter.layout(view.name).table,
          from: formatHour(from),
          to: formatHour(to),
          force: options.force,
          interrupted,
          counts,
          exportedThrough: exportedThrough === null ? null : formatHour(exportedThrough),
          hours: printed,
        });
        if (interrupted) return interruptedCode(context.signal);
        if (failure !== undefined) {
          context.out.error(`${failure.error?.message ?? 'export failed'} (${failure.error?.code ?? ''})`);
          return 1;
        }
        return 0;
      } finally {
        await exporter.close();
      }
    });
  },
});

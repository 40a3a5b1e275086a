// `tandem verify`: for one sealed hour, compares the batch view (complete, deduplicated: the truth)
// with what the speed layer held for the same hour, and prints the per-measure drift — how far the
// real-time answer was from the final one. Late events and a dedup window that forgot are the
// usual, expected causes; a large drift on an hour with neither is a bug worth a look.
import { HOUR_MS } from '@tandem/core';
import { defineCommand, option, required } from '../framework/command.ts';
import { formatHour } from '../framework/time.ts';
import { usageError } from '../framework/usage-error.ts';
import * as v from '../framework/values.ts';
import { computeDrift, type MeasureDrift } from '../ops/drift.ts';
import { withPlatform } from './batch-ops.ts';
import { resolveView, viewValue } from './catalog-args.ts';

function percent(value: number | null): string {
  if (value === null) return '—';
  if (value === 0) return '0%';
  const text = `${(value * 100).toFixed(Math.abs(value) < 0.001 ? 4 : 2)}%`;
  return value > 0 ? `+${text}` : text;
}

function number(value: number | null): string {
  if (value === null) return '—';
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toPrecision(4);
}

export const verifyCommand = defineCommand({
  path: ['verify'],
  summary: 'compare a sealed batch hour with what the speed layer had: per-measure drift',
  description:
    'Reads the hour’s sealed batch partials and the speed layer’s real-time partials for the same hour (in the ' +
    'active namespace of the view’s stream), rolls both up per dimension tuple with the measures’ own merge, and prints for every ' +
    'measure the batch value, the speed value, the drift, and how many groups differ (with the worst). The ' +
    'speed layer keeps an hour only until the janitor drops it (SPEED_SEALED_GRACE_MS after sealing), so ' +
    'verify soon after the hour is published. With --fail-above, exits 1 when any measure drifts more.',
  options: {
    view: required(viewValue(), { description: 'the view', placeholder: 'view' }),
    hour: required(v.hour(), { description: 'the hour (its start)', placeholder: 'hour' }),
    'fail-above': option(v.ratio(), {
      description: 'exit 1 when a whole-hour value drifts by more than this',
      placeholder: 'ratio',
      defaultText: 'never fail on drift',
    }),
  },
  reports: true,
  examples: [
    'tandem verify --view endpoint_hourly --hour 2025-01-31T14',
    'tandem verify --view endpoint_hourly --hour -1h --fail-above 1% --json',
  ],
  async run(context, options) {
    const view = resolveView(await context.catalog(), options.view);
    const range = { from: options.hour, to: options.hour + HOUR_MS };
    if (range.to > context.now())
      throw usageError(
        `--hour ${formatHour(options.hour)} has not ended yet; verify compares finished, sealed hours`,
      );
    return withPlatform(context, async (platform) => {
      const batch = await platform.batch();
      const sealed = await batch.reader.sealedHours(view.name, range);
      if (sealed.length === 0) {
        context.out.error(
          `${view.name} ${formatHour(options.hour)} is not sealed by the batch layer; run \`tandem batch run --view ${view.name} --hour ${formatHour(options.hour)}\` first`,
        );
        return 1;
      }
      const speed = await platform.speedReader({ withLag: false });
      const namespace = await speed.namespace(view.stream);
      const [batchRows, speedRows] = await Promise.all([
        batch.reader.readPartials(view.name, sealed, {}),
        speed.readerFor(namespace).readPartials(view.name, range, {}),
      ]);
      const report = computeDrift(view, batchRows, speedRows);
      const out = context.out;
      out.line(
        `verify ${view.name} (stream ${view.stream}) ${formatHour(options.hour)}: batch run ${sealed[0]!.runId} vs speed namespace ${namespace}`,
      );
      if (speedRows.length === 0) {
        out.warn(
          'the speed layer holds nothing for this hour (never seen, or already dropped by the janitor); drift is the whole hour',
        );
      }
      out.line(
        `groups: ${report.groups.both} in both, ${report.groups.batchOnly} only in batch, ${report.groups.speedOnly} only in speed`,
      );
      out.line('');
      out.table(report.measures, [
        { header: 'MEASURE', cell: (m: MeasureDrift) => m.measure },
        { header: 'BATCH', cell: (m) => number(m.batch), align: 'right' },
        { header: 'SPEED', cell: (m) => number(m.speed), align: 'right' },
        {
          header: 'DRIFT',
          cell: (m) => (m.drift === null ? '—' : m.drift > 0 ? `+${number(m.drift)}` : number(m.drift)),
          align: 'right',
        },
        { header: 'DRIFT %', cell: (m) => percent(m.relativeDrift), align: 'right' },
        {
          header: 'GROUPS OFF',
          cell: (m) =>
            `${m.groupsDiffering}/${report.groups.both + report.groups.batchOnly + report.groups.speedOnly}`,
          align: 'right',
        },
        {
          header: 'WORST GROUP',
          cell: (m) =>
            m.worst === null
              ? ''
              : `${Object.values(m.worst.dims).join(',') || '(all)'} ${number(m.worst.batch)}→${number(m.worst.speed)} (${percent(m.worst.relativeDrift)})`,
        },
      ]);
      const limit = options['fail-above'];
      const failed = limit !== undefined && report.maxRelativeDrift > limit;
      out.result({
        view: view.name,
        stream: view.stream,
        hour: formatHour(options.hour),
        batchRunId: sealed[0]!.runId,
        namespace,
        speedRows: speedRows.length,
        batchRows: batchRows.length,
        ...report,
        maxRelativeDrift: Number.isFinite(report.maxRelativeDrift) ? report.maxRelativeDrift : null,
        failAbove: limit ?? null,
        failed,
      });
      if (failed)
        out.error(`drift ${percent(report.maxRelativeDrift)} is above --fail-above ${percent(limit!)}`);
      return failed ? 1 : 0;
    });
  },
});

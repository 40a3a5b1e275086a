// `tandem status`: the operator's one screen — per view of every stream what the batch layer has
// sealed, what is stale, the last runs and what the speed layer holds live; per stream the speed
// layer's watermark, lag, and its DLQ, late and duplicate counters. A layer that cannot be read is
// reported, not hidden.
import { HOUR_MS, type RunRecord, type SpeedStatus, type View, type ViewVersionStatus } from '@tandem/core';
import type { RedisClient } from '@tandem/connections';
import { defineCommand } from '../framework/command.ts';
import type { Output } from '../framework/output.ts';
import { formatDuration, formatHour, formatTime } from '../framework/time.ts';
import type { BatchOps } from '../wiring/batch.ts';
import type { Platform } from '../wiring/platform.ts';
import { withPlatform } from './batch-ops.ts';

export interface ViewStatus {
  view: string;
  /** The stream the view reads. */
  stream: string;
  bucket: string;
  sealedThrough: number | null;
  sealedHours24h: number;
  staleHours: number[];
  lastRuns: RunRecord[];
  /** Real-time buckets held in the stream's active speed namespace, and the newest one. */
  speedBuckets: number;
  newestSpeedBucket: number | null;
  /**
   * The PostgreSQL export (only when EXPORT_POSTGRES_URL is set): exported through which hour, and
   * how many sealed hours of the last day are not exported yet; or why it could not be read.
   */
  export?: { exportedThrough: number | null; lagging: number } | { error: string };
  /** Its versions: the one serving, one being built and how far (null before the registry knows it). */
  version: ViewVersionStatus | null;
}

/** The speed layer of one stream: its active namespace and status, or why it could not be read. */
export type StreamSpeedStatus =
  | ({ stream: string; namespace: string; error?: undefined } & SpeedStatus)
  | { stream: string; namespace: string | null; error: string };

export interface StatusReport {
  at: number;
  /** The active speed namespace of the default stream (the web stream, else the first). */
  namespace: string;
  views: ViewStatus[];
  /** The default stream's speed status (as `streams` has it), for clients of a single stream. */
  speed: (SpeedStatus & { error?: undefined }) | { error: string };
  /** Per stream of the config, in declaration order. */
  streams: StreamSpeedStatus[];
  batchError: string | null;
  /** Set when Kafka could not be reached (lag unknown). */
  kafkaProblem: string | null;
}

async function liveBuckets(
  redis: RedisClient,
  namespace: string,
  view: View,
): Promise<{ count: number; newest: number | null }> {
  const { speedKeys } = await import('@tandem/speed');
  const keys = speedKeys(namespace, view.stream);
  const partitions = await redis.smembers(keys.partitions());
  const buckets = new Set<number>();
  for (const partition of partitions) {
    for (const member of await redis.zrange(
      keys.bucketIndex(Number(partition), view.name, view.version),
      0,
      -1,
    )) {
      buckets.add(Number(member));
    }
  }
  return { count: buckets.size, newest: buckets.size === 0 ? null : Math.max(...buckets) };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function printSpeed(out: Output, status: StreamSpeedStatus, now: number, kafkaProblem: string | null): void {
  if (status.error !== undefined) {
    out.line(`speed layer of ${status.stream}: ${out.style('unreadable', 'red')}: ${status.error}`);
    return;
  }
  const s = status;
  const lags = s.partitions.map((p) => p.lag).filter((lag): lag is number => lag !== null);
  const totalLag = lags.reduce((a, b) => a + b, 0);
  out.line(
    `speed layer of ${s.stream} (namespace ${s.namespace}): watermark ${formatTime(s.watermark)}` +
      (s.watermark === null ? '' : ` (${formatDuration(now - s.watermark)} behind now)`),
  );
  out.line(
    `  lag ${lags.length === 0 ? (kafkaProblem ? out.style('unknown (Kafka unreachable)', 'yellow') : 'unknown') : `${totalLag} messages`} over ${s.partitions.length} partitions` +
      (s.partitions.length > 0
        ? `: ${s.partitions.map((p) => `p${p.partition}=${p.lag ?? '?'}`).join(' ')}`
        : ''),
  );
  out.line(
    `  applied ${s.eventsApplied}   duplicates ${s.duplicateCount}   ` +
      `late ${s.lateCount > 0 ? out.style(String(s.lateCount), 'yellow') : '0'}   ` +
      `DLQ ${s.dlqCount > 0 ? out.style(String(s.dlqCount), 'yellow') : '0'}`,
  );
  for (const warning of s.schemaWarnings) out.line(`  ${out.style('warning', 'yellow')}: ${warning}`);
}

export const statusCommand = defineCommand({
  path: ['status'],
  summary: 'what is sealed, stale, live, late and dead-lettered, per view and per stream',
  description:
    'Per view of every stream of the config: the batch layer’s sealed-through hour (every hour before it is published), stale hours (input ' +
    'changed since sealing), the last runs, and how many real-time buckets the speed layer holds. Then per stream ' +
    'its speed layer: watermark, lag per partition, events applied, duplicates dropped, late events and dead ' +
    'letters. Exits 1 when a layer could not be read.',
  options: {},
  reports: true,
  examples: [
    'tandem status',
    'tandem status --json | jq .speed.dlqCount',
    "tandem status --json | jq '.streams[] | {stream, dlqCount, lateCount}'",
    'watch -n2 packages/cli/bin/tandem status',
  ],
  async run(context) {
    return withPlatform(context, async (platform) => {
      const now = context.now();
      const redis = await platform.redis();
      const speedReader = await platform.speedReader();
      const namespaces = new Map<string, string>();
      for (const stream of platform.catalog.streams) {
        namespaces.set(stream.name, await speedReader.namespace(stream.name));
      }
      let batchError: string | null = null;
      const batch = await platform.batch().catch((error: unknown) => {
        batchError = errorText(error);
        return null;
      });
      const views: ViewStatus[] = [];
      for (const view of platform.catalog.views) {
        const live = await liveBuckets(redis, namespaces.get(view.stream)!, view);
        const entry: ViewStatus = {
          view: view.name,
          stream: view.stream,
          bucket: view.bucket,
          sealedThrough: null,
          sealedHours24h: 0,
          staleHours: [],
          lastRuns: [],
          speedBuckets: live.count,
          newestSpeedBucket: live.newest,
          version: null,
        };
        if (batch) {
          try {
            const [through, sealed, stale, runs] = await Promise.all([
              batch.reader.sealedThrough(view.name),
              batch.reader.sealedHours(view.name, { from: now - 24 * HOUR_MS, to: now }),
              batch.reader.staleHours(view.name),
              batch.reader.runHistory(view.name, 3),
            ]);
            entry.sealedThrough = through;
            entry.sealedHours24h = sealed.length;
            entry.staleHours = stale;
            entry.lastRuns = runs;
            entry.version = await batch.layer.generations.versionStatus(view.name, 0);
          } catch (error) {
            batchError = errorText(error);
          }
        }
        views.push(entry);
      }
      if (batch && platform.config.exportPostgres.url !== null)
        await addExportStatus(platform, batch, views, now);
      const streams: StreamSpeedStatus[] = [];
      for (const stream of platform.catalog.streams) {
        const namespace = namespaces.get(stream.name)!;
        try {
          streams.push({ ...(await speedReader.status(stream.name)), stream: stream.name, namespace });
        } catch (error) {
          streams.push({ stream: stream.name, namespace, error: errorText(error) });
        }
      }
      const main = streams.find((entry) => entry.stream === speedReader.defaultStream)!;
      const { stream: _stream, namespace: _namespace, ...speed } = main;
      const report: StatusReport = {
        at: now,
        namespace: namespaces.get(speedReader.defaultStream)!,
        views,
        speed: speed.error === undefined ? (speed as SpeedStatus) : { error: speed.error },
        streams,
        batchError,
        kafkaProblem: platform.kafkaProblem,
      };

      const out = context.out;
      const several = platform.catalog.streams.length > 1;
      out.table(views, [
        { header: 'VIEW', cell: (s) => s.view },
        ...(several ? [{ header: 'STREAM', cell: (s: ViewStatus) => s.stream }] : []),
        { header: 'VERSION', cell: (s) => versionCell(s.version, (ms) => formatDuration(ms)) },
        {
          header: 'SEALED THROUGH',
          cell: (s) => (s.sealedThrough === null ? '—' : formatHour(s.sealedThrough)),
        },
        { header: 'SEALED 24H', cell: (s) => String(s.sealedHours24h), align: 'right' },
        {
          header: 'STALE',
          cell: (s) =>
            s.staleHours.length === 0
              ? '0'
              : out.style(`${s.staleHours.length} (${formatHour(s.staleHours[0]!)}…)`, 'yellow'),
        },
        {
          header: 'LAST RUN',
          cell: (s) => {
            const run = s.lastRuns[0];
            if (!run) return '—';
            const state = run.status === 'failed' ? out.style('failed', 'red') : run.status;
            return `${formatHour(run.hour)} ${state} ${formatDuration(run.durationMs)}, ${formatDuration(now - run.finishedAt)} ago`;
          },
        },
        ...(platform.config.exportPostgres.url === null
          ? []
          : [
              {
                header: 'EXPORTED THROUGH',
                cell: (s: ViewStatus) =>
                  s.export === undefined
                    ? '—'
                    : 'error' in s.export
                      ? out.style('unreadable', 'red')
                      : `${s.export.exportedThrough === null ? '—' : formatHour(s.export.exportedThrough)}${
                          s.export.lagging > 0 ? out.style(` (${s.export.lagging} lagging)`, 'yellow') : ''
                        }`,
              },
            ]),
        {
          header: 'LIVE (SPEED)',
          cell: (s) =>
            s.speedBuckets === 0
              ? out.style('none', 'dim')
              : `${s.speedBuckets} ${s.bucket} buckets, newest ${formatTime(s.newestSpeedBucket)}`,
        },
      ]);
      for (const stream of streams) {
        out.line('');
        printSpeed(out, stream, now, platform.kafkaProblem);
      }
      if (batchError !== null) out.line(`batch layer: ${out.style('unreadable', 'red')}: ${batchError}`);
      out.result(report);
      return batchError !== null || streams.some((entry) => entry.error !== undefined) ? 1 : 0;
    });
  },
});

/** Each view's exported-through hour and lagging hours of the last day, from the export database. */
async function addExportStatus(
  platform: Platform,
  batch: BatchOps,
  views: ViewStatus[],
  now: number,
): Promise<void> {
  const { exportOptionsFromConfig, PostgresExporter } = await import('@tandem/export-postgres');
  const options = exportOptionsFromConfig(platform.config);
  if (options === null) return;
  const exporter = new PostgresExporter({
    ...options,
    catalog: platform.catalog,
    source: batch.layer.reader,
    logger: platform.logger.child({ component: 'export' }),
  });
  try {
    for (const entry of views) {
      try {
        const status = await exporter.status(entry.view, { from: now - 24 * HOUR_MS, to: now });
        entry.export = { exportedThrough: status.exportedThrough, lagging: status.lagging.length };
      } catch (error) {
        entry.export = { error: errorText(error) };
      }
    }
  } finally {
    await exporter.close();
  }
}

/** `v1`, or `v1 → v2 building 12/720 h, speed caught up, ~3h left` while a new version builds. */
function versionCell(version: ViewVersionStatus | null, duration: (ms: number) => string): string {
  if (version === null) return '—';
  const active = `v${version.active.n}`;
  if (version.building === null) return active;
  const speed =
    version.speedCaughtUp === null
      ? 'speed not started'
      : version.speedCaughtUp
        ? 'speed caught up'
        : 'speed catching up';
  const eta = version.etaMs === null ? '' : `, ~${duration(version.etaMs)} left`;
  return `${active} → v${version.building.n} building ${version.hoursDone}/${version.hoursNeeded} h, ${speed}${eta}`;
}

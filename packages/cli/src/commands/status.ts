// `tandem status`: the operator's one screen — per view what the batch layer has sealed, what is
// stale, the last runs and what the speed layer holds live; the speed layer's watermark, lag, and
// its DLQ, late and duplicate counters. A layer that cannot be read is reported, not hidden.
import { getView, HOUR_MS, listViews } from '@tandem/core';
import type { Redis } from 'ioredis';
import { defineCommand } from '../framework/command.ts';
import { formatDuration, formatHour, formatTime } from '../framework/time.ts';
import type { RunRecordLike } from '../wiring/batch.ts';
import type { SpeedStatus } from '../wiring/speed-runtime.ts';
import { withPlatform } from './batch-ops.ts';

export interface ViewStatus {
  view: string;
  bucket: string;
  sealedThrough: number | null;
  sealedHours24h: number;
  staleHours: number[];
  lastRuns: RunRecordLike[];
  /** Real-time buckets held in the active speed namespace, and the newest one. */
  speedBuckets: number;
  newestSpeedBucket: number | null;
}

export interface StatusReport {
  at: number;
  namespace: string;
  views: ViewStatus[];
  speed: (SpeedStatus & { error?: undefined }) | { error: string };
  batchError: string | null;
  /** Set when Kafka could not be reached (lag unknown). */
  kafkaProblem: string | null;
}

async function liveBuckets(
  redis: Redis,
  namespace: string,
  viewName: string,
): Promise<{ count: number; newest: number | null }> {
  const view = getView(viewName);
  const { speedKeys } = await import('@tandem/speed');
  const keys = speedKeys(namespace);
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

export const statusCommand = defineCommand({
  path: ['status'],
  summary: 'what is sealed, stale, live, late and dead-lettered, per view',
  description:
    'Per view: the batch layer’s sealed-through hour (every hour before it is published), stale hours (input ' +
    'changed since sealing), the last runs, and how many real-time buckets the speed layer holds. Then the ' +
    'speed layer: watermark, lag per partition, events applied, duplicates dropped, late events and dead ' +
    'letters. Exits 1 when a layer could not be read.',
  options: {},
  reports: true,
  examples: [
    'tandem status',
    'tandem status --json | jq .speed.dlqCount',
    'watch -n2 packages/cli/bin/tandem status',
  ],
  async run(context) {
    return withPlatform(context, async (platform) => {
      const now = context.now();
      const redis = await platform.redis();
      const speedReader = await platform.speedReader();
      const namespace = await speedReader.namespace();
      let batchError: string | null = null;
      const batch = await platform.batch().catch((error: unknown) => {
        batchError = error instanceof Error ? error.message : String(error);
        return null;
      });
      const views: ViewStatus[] = [];
      for (const view of listViews()) {
        const live = await liveBuckets(redis, namespace, view.name);
        const entry: ViewStatus = {
          view: view.name,
          bucket: view.bucket,
          sealedThrough: null,
          sealedHours24h: 0,
          staleHours: [],
          lastRuns: [],
          speedBuckets: live.count,
          newestSpeedBucket: live.newest,
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
          } catch (error) {
            batchError = error instanceof Error ? error.message : String(error);
          }
        }
        views.push(entry);
      }
      let speed: StatusReport['speed'];
      try {
        speed = await speedReader.status();
      } catch (error) {
        speed = { error: error instanceof Error ? error.message : String(error) };
      }
      const report: StatusReport = {
        at: now,
        namespace,
        views,
        speed,
        batchError,
        kafkaProblem: platform.kafkaProblem,
      };

      const out = context.out;
      out.table(views, [
        { header: 'VIEW', cell: (s) => s.view },
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
        {
          header: 'LIVE (SPEED)',
          cell: (s) =>
            s.speedBuckets === 0
              ? out.style('none', 'dim')
              : `${s.speedBuckets} ${s.bucket} buckets, newest ${formatTime(s.newestSpeedBucket)}`,
        },
      ]);
      out.line('');
      if ('error' in speed && speed.error !== undefined) {
        out.line(`speed layer: ${out.style('unreadable', 'red')}: ${speed.error}`);
      } else {
        const s = speed as SpeedStatus;
        const lags = s.partitions.map((p) => p.lag).filter((lag): lag is number => lag !== null);
        const totalLag = lags.reduce((a, b) => a + b, 0);
        out.line(
          `speed layer (namespace ${namespace}): watermark ${formatTime(s.watermark)}` +
            (s.watermark === null ? '' : ` (${formatDuration(now - s.watermark)} behind now)`),
        );
        out.line(
          `  lag ${lags.length === 0 ? (platform.kafkaProblem ? out.style('unknown (Kafka unreachable)', 'yellow') : 'unknown') : `${totalLag} messages`} over ${s.partitions.length} partitions` +
            (s.partitions.length > 0
              ? `: ${s.partitions.map((p) => `p${p.partition}=${p.lag ?? '?'}`).join(' ')}`
              : ''),
        );
        out.line(
          `  applied ${s.eventsApplied}   duplicates ${s.duplicateCount}   ` +
            `late ${s.lateCount > 0 ? out.style(String(s.lateCount), 'yellow') : '0'}   ` +
            `DLQ ${s.dlqCount > 0 ? out.style(String(s.dlqCount), 'yellow') : '0'}`,
        );
      }
      if (batchError !== null) out.line(`batch layer: ${out.style('unreadable', 'red')}: ${batchError}`);
      out.result(report);
      return batchError !== null || 'error' in speed ? 1 : 0;
    });
  },
});

// The demo's promise, through the built command: past hours generated into the lake and sealed by
// `tandem backfill`, then `tandem up` with live traffic (late, duplicate and bad events included).
// Within a minute `tandem status` shows live speed views, sealed batch hours and non-zero DLQ and
// late counters; the API answers with both sources; Ctrl-C stops everything cleanly (exit 0).
import { HOUR_MS, hourStart } from '@tandem/core';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, World } from './cli/harness.ts';

interface StatusJson {
  views: Array<{ view: string; sealedHours24h: number; speedBuckets: number }>;
  speed: { eventsApplied: number; lateCount: number; dlqCount: number; duplicateCount: number };
}

describe('tandem up (the demo)', () => {
  const world = new World({
    PORT: '0',
    SPEED_OUT_OF_ORDERNESS_MS: '10000',
    SPEED_ALLOWED_LATENESS_MS: '20000',
    BATCH_LATENESS_MS: '120000',
  });

  afterAll(async () => {
    await world.cleanup();
  });

  it('shows live views, sealed hours, late and dead-lettered events within a minute, and stops cleanly', async () => {
    await world.json(['generate', '--to', 'lake', '--duration', '2h', '--rate', '3', '--seed', '3']);
    await world.json(['backfill'], { timeoutMs: 120_000 });
    const started = Date.now();
    const up = world.start([
      'up',
      '--traffic',
      '30',
      '--late',
      '2%',
      '--duplicates',
      '1%',
      '--bad',
      '1%',
      '--traffic-start',
      '-2m',
    ]);
    const url = await eventually(
      'the API address',
      async () => /API\s+(http:\/\/\S+)\/v1\/views/.exec(up.output())?.[1],
      60_000,
    );
    const status = await eventually(
      'live views, sealed hours, late and DLQ counters',
      async () => {
        const result = await world.run(['status', '--json']);
        const report = JSON.parse(result.stdout) as StatusJson;
        const byView = new Map(report.views.map((v) => [v.view, v]));
        return byView.get('endpoint_hourly')!.speedBuckets > 0 &&
          byView.get('trending_pages')!.speedBuckets > 0 &&
          byView.get('endpoint_hourly')!.sealedHours24h >= 1 &&
          report.speed.dlqCount > 0 &&
          report.speed.lateCount > 0 &&
          report.speed.duplicateCount > 0
          ? report
          : undefined;
      },
      60_000,
      1_000,
    );
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(status.speed.eventsApplied).toBeGreaterThan(0);

    for (const path of ['/v1/status', '/docs', '/', '/healthz']) {
      expect((await fetch(`${url}${path}`)).status, path).toBe(200);
    }
    const now = Date.now();
    const series = await fetch(
      `${url}/v1/views/endpoint_hourly/series?from=${new Date(hourStart(now) - 2 * HOUR_MS).toISOString()}&to=${new Date(hourStart(now) + HOUR_MS).toISOString()}&granularity=1h`,
    );
    expect(series.status).toBe(200);
    const body = (await series.json()) as { coverage: Array<{ source: string }> };
    const sources = new Set(body.coverage.map((c) => c.source));
    expect(sources.has('batch')).toBe(true);
    expect(sources.has('speed')).toBe(true);

    up.signal('SIGINT');
    expect(await up.stop()).toBe(0);
    expect(up.output()).toContain('stopped cleanly');
  });
});

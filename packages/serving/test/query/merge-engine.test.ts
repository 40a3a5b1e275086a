// Merge correctness over in-memory readers: random range queries against a truth folded straight
// from events, sources overlapping on purpose, and batch publishes landing in the middle of a query.
import { DAY_MS, finalizeStates, getView, HOUR_MS, MINUTE_MS } from '@tandem/core';
import { afterEach, describe, expect, test } from 'vitest';
import { mulberry32 } from '@tandem/test-support/random.ts';
import { partialsOf } from '../support/fixtures.ts';
import { diffSeries, type SeriesAnswer } from '../support/compare.ts';
import { type Seeded, seededServer, T0 } from '../support/server.ts';

const endpointView = getView('endpoint_hourly');
const emptyEndpoint = finalizeStates(endpointView, {});
let seeded: Seeded | undefined;

afterEach(async () => {
  await seeded?.app.close();
  seeded = undefined;
});

async function series(query: Record<string, string | number>): Promise<SeriesAnswer> {
  const search = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
  const response = await seeded!.app.inject({ url: `/v1/views/endpoint_hourly/series?${search}` });
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as SeriesAnswer;
}

describe('merge engine', () => {
  test('serves sealed hours from batch, the rest from speed, and marks each bucket', async () => {
    seeded = await seededServer({ hours: 48, sealedHours: 40 });
    const answer = await series({ from: T0 + 38 * HOUR_MS, to: T0 + 42 * HOUR_MS, groupBy: 'none' });
    expect(answer.coverage.map((entry) => entry.source)).toEqual(['batch', 'batch', 'speed', 'speed']);
    expect(answer.series[0]!.points.map((point) => point.source)).toEqual([
      'batch',
      'batch',
      'speed',
      'speed',
    ]);
    const daily = await series({
      from: T0 + 24 * HOUR_MS,
      to: T0 + 48 * HOUR_MS,
      granularity: '1d',
      groupBy: 'none',
    });
    expect(daily.series[0]!.points[0]!.source).toBe('mixed');
    expect((daily as unknown as { complete: boolean }).complete).toBe(false);
    expect(
      diffSeries(
        'endpoint_hourly',
        seeded.events,
        { granularity: '1d', filter: {}, groupBy: [] },
        daily,
        emptyEndpoint,
      ),
    ).toEqual([]);
    // Hours after the speed watermark are served by nobody.
    const beyond = await series({ from: T0 + 47 * HOUR_MS, to: T0 + 50 * HOUR_MS, groupBy: 'none' });
    expect(beyond.coverage.map((entry) => entry.source)).toEqual(['speed', 'none', 'none']);
    expect(beyond.series[0]!.points[2]!.values.requests).toBeNull();
  });

  test('1,000 random range queries equal the truth with both sources present', async () => {
    seeded = await seededServer({ hours: 72, sealedHours: 50, eventCount: 4000 });
    const random = mulberry32(11);
    const endpoints = ['/a', '/b', "/c'; DROP TABLE x;--", '/ü/ünïcode', '/e'];
    const granularities = ['1h', '1d', 'all'] as const;
    let compared = 0;
    for (let i = 0; i < 1000; i++) {
      const from = T0 + Math.floor(random() * 74 * HOUR_MS) - 2 * HOUR_MS;
      const to = from + 1 + Math.floor(random() * 80 * HOUR_MS);
      const granularity = granularities[Math.floor(random() * granularities.length)]!;
      const filter: Record<string, string> =
        random() < 0.3 ? { endpoint: endpoints[Math.floor(random() * 5)]! } : {};
      const groupBy = random() < 0.5 ? [] : ['endpoint'];
      const answer = await series({
        from: new Date(Math.max(0, from)).toISOString(),
        to,
        granularity,
        groupBy: groupBy.length === 0 ? 'none' : 'endpoint',
        ...filter,
      });
      const differences = diffSeries(
        'endpoint_hourly',
        seeded.events,
        { granularity, filter, groupBy },
        answer,
        emptyEndpoint,
      );
      expect(differences, `query ${i}`).toEqual([]);
      compared += answer.series.length;
    }
    expect(compared).toBeGreaterThan(500);
  }, 300_000);

  test('a batch publish during a query neither double-counts nor drops an hour', async () => {
    seeded = await seededServer({ hours: 12, sealedHours: 6 });
    const { batch, speed, events } = seeded;
    const rows = partialsOf(endpointView, events);
    let hour = 6;
    // Every batch read publishes the next hour (and republishes an old one under a new version),
    // and the speed janitor drops hours sealed earlier, as happens after the grace period.
    batch.onRead = () => {
      if (hour < 12) {
        batch.publish('endpoint_hourly', T0 + hour * HOUR_MS, rows);
        batch.publish('endpoint_hourly', T0 + (hour - 3) * HOUR_MS, rows);
        speed.dropHour('endpoint_hourly', T0 + (hour - 4) * HOUR_MS);
        hour++;
      }
    };
    for (let i = 0; i < 8; i++) {
      const answer = await series({
        from: T0,
        to: T0 + 12 * HOUR_MS,
        granularity: i % 2 === 0 ? '1h' : 'all',
        groupBy: 'endpoint',
      });
      const granularity = i % 2 === 0 ? '1h' : 'all';
      expect(
        diffSeries(
          'endpoint_hourly',
          events,
          { granularity, filter: {}, groupBy: ['endpoint'] },
          answer,
          emptyEndpoint,
        ),
      ).toEqual([]);
      expect(answer.coverage.every((entry) => entry.source !== 'none')).toBe(true);
    }
    expect(hour).toBe(12);
  });

  test('caches sealed buckets by pointer version and picks up a republished hour', async () => {
    seeded = await seededServer({ hours: 6, sealedHours: 6 });
    const { batch, events } = seeded;
    const query = { from: T0, to: T0 + 6 * HOUR_MS, groupBy: 'none' };
    const first = await series(query);
    const readsAfterFirst = batch.reads;
    const second = await series(query);
    expect(second).toEqual(first);
    expect(batch.reads).toBe(readsAfterFirst);
    // Republish hour 2 with only half the events: the new version must be served at once.
    const half = events.filter((_, index) => index % 2 === 0);
    batch.publish('endpoint_hourly', T0 + 2 * HOUR_MS, partialsOf(endpointView, half));
    const third = await series(query);
    expect(third.series[0]!.points[2]!.values.requests).toBeLessThan(
      first.series[0]!.points[2]!.values.requests as number,
    );
    expect(third.series[0]!.points[1]!.values).toEqual(first.series[0]!.points[1]!.values);
    expect(third.coverage[2]).not.toEqual(first.coverage[2]);
  });

  test('a live answer is reused only while its speed reads are, then reflects new speed data', async () => {
    let clock = T0 + 12 * HOUR_MS + 10 * MINUTE_MS;
    seeded = await seededServer({
      hours: 12,
      sealedHours: 8,
      now: () => clock,
      speedCacheTtlMs: 1000,
      closedSpeedCacheTtlMs: 1000,
      snapshotTtlMs: 1000,
    });
    const query = { from: T0 + 8 * HOUR_MS, to: T0 + 12 * HOUR_MS, groupBy: 'none', measures: 'requests' };
    const first = await series(query);
    const reads = seeded.speed.reads;
    const rows = seeded.speed.rows.get('endpoint_hourly')!;
    rows.push({ bucket: T0 + 11 * HOUR_MS, dims: ['/new'], states: { requests: { n: 5 } } });
    const second = await series(query);
    expect(second.series).toEqual(first.series);
    expect(seeded.speed.reads).toBe(reads);
    clock += 5000;
    const third = await series(query);
    expect(third.series[0]!.points[3]!.values.requests).toBe(
      (first.series[0]!.points[3]!.values.requests as number) + 5,
    );
  });

  test('minute granularity of a minute view and the trending window match the truth', async () => {
    seeded = await seededServer({ hours: 6, sealedHours: 3 });
    const trending = getView('trending_pages');
    const response = await seeded.app.inject({
      url: `/v1/views/trending_pages/series?from=${T0 + 2 * HOUR_MS + 30 * MINUTE_MS}&to=${T0 + 3 * HOUR_MS + 30 * MINUTE_MS}&granularity=1m&measures=views`,
    });
    expect(response.statusCode).toBe(200);
    const answer = response.json() as SeriesAnswer;
    expect(answer.series[0]!.points).toHaveLength(120);
    const empty = finalizeStates(trending, {});
    expect(
      diffSeries(
        'trending_pages',
        seeded.events,
        { granularity: '1m', filter: {}, groupBy: [] },
        answer,
        empty,
      ),
    ).toEqual([]);

    const top = await seeded.app.inject({ url: '/v1/trending?window=60m&k=5' });
    expect(top.statusCode).toBe(200);
    const body = top.json() as {
      from: string;
      to: string;
      total: number;
      items: Array<{ page: string; score: number }>;
    };
    const from = Date.parse(body.from);
    const to = Date.parse(body.to);
    expect(to - from).toBe(60 * MINUTE_MS);
    const counts = new Map<string, number>();
    let total = 0;
    for (const event of seeded.events) {
      if (event.timestamp < from || event.timestamp >= to || event.page_id === null) continue;
      counts.set(event.page_id, (counts.get(event.page_id) ?? 0) + 1);
      total++;
    }
    const expected = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);
    expect(body.items.map((item) => [item.page, item.score])).toEqual(expected);
    expect(body.total).toBe(total);
  });

  test('minute buckets of a sealed hour are served again after another query cached its first minute', async () => {
    seeded = await seededServer({ hours: 6, sealedHours: 3 });
    const trending = getView('trending_pages');
    const empty = finalizeStates(trending, {});
    // The first query caches the finished buckets of hour 1; the second, over a wider range, must
    // still read hour 1 for its other minutes (it once read only the hours of uncached buckets).
    for (const to of [T0 + 2 * HOUR_MS, T0 + 3 * HOUR_MS]) {
      const response = await seeded.app.inject({
        url: `/v1/views/trending_pages/series?from=${T0 + HOUR_MS}&to=${to}&granularity=1m&measures=views`,
      });
      expect(response.statusCode).toBe(200);
      const answer = response.json() as SeriesAnswer;
      expect(answer.series[0]!.points.every((point) => point.source === 'batch')).toBe(true);
      expect(
        diffSeries(
          'trending_pages',
          seeded.events,
          { granularity: '1m', filter: {}, groupBy: [] },
          answer,
          empty,
        ),
      ).toEqual([]);
    }
  });

  test('top ranks dimension values by a value over the range', async () => {
    seeded = await seededServer({ hours: 24, sealedHours: 20 });
    const response = await seeded.app.inject({
      url: `/v1/views/endpoint_hourly/top?from=${T0}&to=${T0 + DAY_MS}&by=errors_5xx&k=3`,
    });
    expect(response.statusCode).toBe(200);
    const body = response.json() as { items: Array<{ rank: number; value: string; score: number }> };
    const counts = new Map<string, number>();
    for (const event of seeded.events) {
      if (event.status_code >= 500) counts.set(event.endpoint, (counts.get(event.endpoint) ?? 0) + 1);
    }
    const expected = [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, 3);
    expect(body.items.map((item) => [item.value, item.score])).toEqual(expected);
    expect(body.items.map((item) => item.rank)).toEqual([1, 2, 3]);
  });
});

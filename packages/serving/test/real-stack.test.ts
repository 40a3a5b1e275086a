// The serving layer on the real stack: events are published hour by hour through the real batch
// layer (DuckDB → Parquet → pointers in a file:// lake) and written through the speed layer's own
// apply script into Redis; the real LakeBatchViewReader and RedisSpeedViewReader feed the server. 1,000
// random range queries, many while batch hours are being published, must equal a truth folded
// straight from the events.
import { finalizeStates, getView, HOUR_MS, type TandemEvent } from '@tandem/core';
import { dropHours } from '@tandem/speed';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mulberry32 } from '@tandem/test-support/random.ts';
import { buildServer } from '../src/index.ts';
import { diffSeries, type SeriesAnswer } from './support/compare.ts';
import { generateEvents } from './support/fixtures.ts';
import { openRealLayers, type RealLayers, SPEED_VIEWS, writeSpeed } from './support/real-layers.ts';

const HOURS = 8;
const base = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - (HOURS + 2) * HOUR_MS;
const endpointView = getView('endpoint_hourly');
const emptyEndpoint = finalizeStates(endpointView, {});

let layers: RealLayers;
let batch: RealLayers['batch'];
let app: FastifyInstance;
const events: TandemEvent[] = generateEvents({
  seed: 21,
  from: base,
  to: base + HOURS * HOUR_MS,
  count: 3000,
});

beforeAll(async () => {
  layers = await openRealLayers(events);
  batch = layers.batch;
  await writeSpeed(
    layers,
    0,
    events.filter((_, index) => index % 2 === 0),
  );
  await writeSpeed(
    layers,
    1,
    events.filter((_, index) => index % 2 === 1),
  );
  for (let hour = 0; hour < 4; hour++) {
    for (const view of SPEED_VIEWS) {
      const outcome = await batch.runHour(view, base + hour * HOUR_MS);
      expect(outcome.status, JSON.stringify(outcome)).toBe('published');
    }
  }
  app = await buildServer({
    batch: batch.reader,
    speed: layers.speed,
    redis: layers.redis,
    redisPrefix: layers.prefix,
    // The Redis-backed limiter stays on, with room for the test's queries.
    rateLimit: { max: 100_000, windowMs: 60_000 },
    logLevel: 'silent',
    dashboardDir: null,
    readinessProbes: { redis: () => layers.redis.ping() },
  });
}, 180_000);

afterAll(async () => {
  const errors: unknown[] = [];
  await app?.close().catch((error) => errors.push(error));
  await layers?.teardown().catch((error) => errors.push(error));
  if (errors.length > 0) throw new AggregateError(errors, 'teardown failed');
});

async function randomQuery(random: () => number, label: string): Promise<number> {
  const endpoints = ['/a', '/b', "/c'; DROP TABLE x;--", '/ü/ünïcode', '/e'];
  const granularities = ['1h', '1d', 'all'] as const;
  const from = base - HOUR_MS + Math.floor(random() * (HOURS + 1) * HOUR_MS);
  const to = from + 1 + Math.floor(random() * (HOURS + 1) * HOUR_MS);
  const granularity = granularities[Math.floor(random() * granularities.length)]!;
  const filter: Record<string, string> =
    random() < 0.3 ? { endpoint: endpoints[Math.floor(random() * 5)]! } : {};
  const groupBy = random() < 0.5 ? [] : ['endpoint'];
  const search = new URLSearchParams({
    from: new Date(from).toISOString(),
    to: String(to),
    granularity,
    groupBy: groupBy.length === 0 ? 'none' : 'endpoint',
    ...filter,
  });
  const response = await app.inject({ url: `/v1/views/endpoint_hourly/series?${search}` });
  expect(response.statusCode, `${label}: ${response.body}`).toBe(200);
  const answer = response.json() as SeriesAnswer;
  const differences = diffSeries(
    'endpoint_hourly',
    events,
    { granularity, filter, groupBy },
    answer,
    emptyEndpoint,
  );
  expect(differences, `${label}: ${search}`).toEqual([]);
  return answer.coverage.filter((entry) => entry.source === 'batch').length;
}

describe('serving on the real stack', () => {
  test('1,000 random queries equal the truth, 500 of them while batch hours are published', async () => {
    const random = mulberry32(5);
    let batchHours = 0;
    for (let i = 0; i < 500; i++) batchHours += await randomQuery(random, `query ${i}`);
    expect(batchHours).toBeGreaterThan(100);

    // Publish hours 4..6 (twice: a republish makes a new pointer version) while querying.
    let publishing = true;
    const publisher = (async () => {
      try {
        for (const force of [false, true]) {
          for (let hour = 4; hour < HOURS - 1; hour++) {
            for (const view of SPEED_VIEWS) await batch.runHour(view, base + hour * HOUR_MS, { force });
          }
        }
      } finally {
        publishing = false;
      }
    })();
    let during = 0;
    for (let i = 500; i < 1000; i++) {
      await randomQuery(random, `query ${i}`);
      if (publishing) during++;
    }
    await publisher;
    expect(during).toBeGreaterThan(0);
    const status = (await app.inject({ url: '/v1/status' })).json();
    const endpointStatus = status.views.find((view: { view: string }) => view.view === 'endpoint_hourly');
    expect(endpointStatus.sealedThrough).toBe(new Date(base + (HOURS - 1) * HOUR_MS).toISOString());
    expect(endpointStatus.lastRuns.length).toBeGreaterThan(0);
    expect(status.speed.watermark).not.toBeNull();
  }, 300_000);

  test('after the janitor drops sealed hours from speed, answers are unchanged and coverage says batch', async () => {
    const sealed = Array.from({ length: HOURS - 1 }, (_, hour) => base + hour * HOUR_MS);
    await dropHours({ redis: layers.redis, prefix: layers.prefix }, 'endpoint_hourly', sealed);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const response = await app.inject({
      url: `/v1/views/endpoint_hourly/series?from=${base}&to=${base + HOURS * HOUR_MS}&groupBy=endpoint`,
    });
    expect(response.statusCode).toBe(200);
    const answer = response.json() as SeriesAnswer;
    expect(answer.coverage.map((entry) => entry.source)).toEqual([
      ...Array(HOURS - 1).fill('batch'),
      'speed',
    ]);
    const differences = diffSeries(
      'endpoint_hourly',
      events,
      { granularity: '1h', filter: {}, groupBy: ['endpoint'] },
      answer,
      emptyEndpoint,
    );
    expect(differences).toEqual([]);
    const ready = await app.inject({ url: '/readyz' });
    expect(ready.json()).toMatchObject({ status: 'ready', checks: { redis: { ok: true } } });
  });
});

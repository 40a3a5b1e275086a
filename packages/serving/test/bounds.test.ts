// Bounded cost per request on the real stack (batch layer over a file lake, DuckDB, Parquet):
// a query over too many groups or values is refused after its first chunk of partials, not after
// all of them; /top ranks a dimension of more values than the answer limit with a heap of k; the
// batch reader's listing and pointer caches stay within their bounds and answers stay exact.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbEngine, LakeBatchViewReader } from '@tandem/batch';
import { builtinCatalog, finalizeStates, getView, HOUR_MS, type TandemEvent } from '@tandem/core';
import type { BatchViewReader } from '@tandem/core';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { mulberry32 } from '@tandem/test-support/random.ts';
import { buildServer } from '../src/index.ts';
import { defaultQueryLimits } from '../src/routes/query-params.ts';
import { diffSeries, type SeriesAnswer } from './support/compare.ts';
import { openRealLayers, type RealLayers } from './support/real-layers.ts';
import { truthValues } from './support/server.ts';

const HOURS = 36;
const base = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 48 * HOUR_MS;
const now = base + HOURS * HOUR_MS + 10 * 60_000;
const view = getView('endpoint_hourly');
const emptyEndpoint = finalizeStates(view, {});
/** More distinct endpoints than the answer limit of groups. */
const ENDPOINTS = defaultQueryLimits.maxGroups + 1000;

/**
 * Every endpoint gets one request somewhere in the 36 hours (so each hour holds about 170 of
 * them), a few get many more, so the top of the ranking is clear; latencies and users vary.
 */
function highCardinalityEvents(): TandemEvent[] {
  const random = mulberry32(51);
  const events: TandemEvent[] = [];
  const add = (endpoint: string) => {
    const i = events.length;
    events.push({
      event_id: `hc-${i}`,
      timestamp: base + Math.floor(random() * HOURS * HOUR_MS),
      endpoint,
      method: 'GET',
      status_code: random() < 0.9 ? 200 : 500,
      response_time_ms: 1 + Math.floor(random() * 500),
      bytes_sent: Math.floor(random() * 5000),
      user_id: `u${Math.floor(random() * 100)}`,
      session_id: null,
      page_id: null,
    });
  };
  for (let i = 0; i < ENDPOINTS; i++) add(`/e/${i}`);
  for (let hot = 1; hot <= 12; hot++) for (let n = 0; n < 5 * hot; n++) add(`/hot/${hot}`);
  // Ties at the cut: three endpoints with 3 requests each, ranked by value.
  for (const tied of ['/tie/b', '/tie/a', '/tie/c']) for (let n = 0; n < 3; n++) add(tied);
  return events.sort((a, b) => a.timestamp - b.timestamp);
}

const events = highCardinalityEvents();
const hours = Array.from({ length: HOURS }, (_, hour) => base + hour * HOUR_MS);
let layers: RealLayers;
let app: FastifyInstance | undefined;

beforeAll(async () => {
  layers = await openRealLayers(events);
  const outcomes = await layers.batch.runHours('endpoint_hourly', hours);
  expect(outcomes.map((outcome) => outcome.status)).toEqual(hours.map(() => 'published'));
}, 180_000);

afterEach(async () => {
  await app?.close();
  app = undefined;
});

afterAll(async () => {
  await layers?.teardown();
});

/** The batch reader, recording how many hours each readPartials call asked for. */
function countingReader(reader: BatchViewReader): { reader: BatchViewReader; hoursRead: number[] } {
  const hoursRead: number[] = [];
  return {
    hoursRead,
    reader: {
      sealedHours: (name, range) => reader.sealedHours(name, range),
      sealedThrough: (name) => reader.sealedThrough(name),
      staleHours: (name) => reader.staleHours(name),
      runHistory: (name, limit) => reader.runHistory(name, limit),
      readPartials: (name, sealed, filter) => {
        hoursRead.push(sealed.length);
        return reader.readPartials(name, sealed, filter);
      },
    },
  };
}

async function server(batch: BatchViewReader, limits: Parameters<typeof buildServer>[0]['limits'] = {}) {
  return buildServer({
    batch,
    speed: layers.speed,
    logLevel: 'silent',
    dashboardDir: null,
    rateLimit: false,
    now: () => now,
    limits,
  });
}

const range = `from=${base}&to=${base + HOURS * HOUR_MS}`;

describe('limits refuse a query before it reads every partial', () => {
  test('too many groups: refused after the first day of 36 hours, with the usual code', async () => {
    const counting = countingReader(layers.batch.reader);
    app = await server(counting.reader, { maxGroups: 100 });
    const response = await app.inject({ url: `/v1/views/endpoint_hourly/series?${range}&groupBy=endpoint` });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'TANDEM_ERR_QUERY_TOO_LARGE', parameter: 'groupBy' });
    expect(response.json().error.message).toMatch(
      /^the query yields at least \d+ groups, more than the limit of 100;/,
    );
    expect(counting.hoursRead).toEqual([24]);
  });

  test('too many values: refused as soon as groups x buckets x values passes the limit', async () => {
    const counting = countingReader(layers.batch.reader);
    // 36 hourly buckets x 1 value: 36,000 values pass at 1,001 groups, inside the first day.
    app = await server(counting.reader, { maxValues: 36_000 });
    const response = await app.inject({
      url: `/v1/views/endpoint_hourly/series?${range}&groupBy=endpoint&measures=requests`,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({
      code: 'TANDEM_ERR_QUERY_TOO_LARGE',
      parameter: 'granularity',
    });
    expect(counting.hoursRead).toEqual([24]);
  });

  test('a query within the limits reads every hour, in growing chunks, and equals the truth', async () => {
    const counting = countingReader(layers.batch.reader);
    app = await server(counting.reader, { maxGroups: 100 });
    const response = await app.inject({
      url: `/v1/views/endpoint_hourly/series?${range}&groupBy=endpoint&endpoint=/hot/7`,
    });
    expect(response.statusCode).toBe(200);
    expect(counting.hoursRead).toEqual([24, 12]);
    const answer = response.json() as SeriesAnswer;
    expect(answer.coverage.every((entry) => entry.source === 'batch')).toBe(true);
    const differences = diffSeries(
      'endpoint_hourly',
      events,
      { granularity: '1h', filter: { endpoint: '/hot/7' }, groupBy: ['endpoint'] },
      answer,
      emptyEndpoint,
    );
    expect(differences).toEqual([]);
  });
});

describe('/top on a high-cardinality dimension', () => {
  /** The ranking from the truth: every group finalized and sorted, which the server no longer does. */
  function truthTop(by: string, k: number) {
    const truth = truthValues(view, events, {
      range: { from: base, to: base + HOURS * HOUR_MS },
      granularity: 'all',
      filter: {},
      groupBy: ['endpoint'],
    });
    const ranked = [...truth].map(([key, buckets]) => {
      const values = buckets.get(base)!;
      const raw = values[by];
      return { value: JSON.parse(key)[0] as string, score: typeof raw === 'number' ? raw : null, values };
    });
    ranked.sort((a, b) =>
      a.score === b.score
        ? a.value.localeCompare(b.value)
        : a.score === null
          ? 1
          : b.score === null
            ? -1
            : b.score - a.score,
    );
    return { groups: ranked.length, top: ranked.slice(0, k) };
  }

  test(`ranks ${ENDPOINTS + 15} endpoints (the answer limit is ${defaultQueryLimits.maxGroups}) exactly`, async () => {
    app = await server(layers.batch.reader);
    for (const [by, k] of [
      ['requests', 15],
      ['p95_latency_ms', 5],
      ['unique_users', 1000],
    ] as const) {
      const response = await app.inject({
        url: `/v1/views/endpoint_hourly/top?${range}&dimension=endpoint&by=${by}&k=${k}`,
      });
      expect(response.statusCode, `${by}: ${response.body.slice(0, 300)}`).toBe(200);
      const body = response.json();
      const truth = truthTop(by, k);
      expect(truth.groups).toBe(ENDPOINTS + 15);
      expect(body.items).toHaveLength(k);
      body.items.forEach((item: Record<string, unknown>, index: number) => {
        const expected = truth.top[index]!;
        expect(item, `${by} rank ${index + 1}`).toMatchObject({
          rank: index + 1,
          value: expected.value,
          source: 'batch',
        });
        expect(item.score as number).toBeCloseTo(expected.score!, 9);
        for (const [name, value] of Object.entries(expected.values)) {
          if (typeof value === 'number')
            expect((item.values as Record<string, number>)[name]).toBeCloseTo(value, 9);
          else expect((item.values as Record<string, unknown>)[name]).toEqual(value);
        }
      });
    }
    const requestsTop = (
      await app.inject({ url: `/v1/views/endpoint_hourly/top?${range}&dimension=endpoint&by=requests&k=15` })
    ).json();
    expect(requestsTop.items.slice(0, 12).map((item: { value: string }) => item.value)).toEqual(
      Array.from({ length: 12 }, (_, i) => `/hot/${12 - i}`),
    );
    expect(requestsTop.items.slice(12).map((item: { value: string }) => item.value)).toEqual([
      '/tie/a',
      '/tie/b',
      '/tie/c',
    ]);
  });

  test('past maxTopGroups a top query is refused while reading, with the usual code', async () => {
    const counting = countingReader(layers.batch.reader);
    app = await server(counting.reader, { maxTopGroups: 2000 });
    const response = await app.inject({ url: `/v1/views/endpoint_hourly/top?${range}&dimension=endpoint` });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'TANDEM_ERR_QUERY_TOO_LARGE', parameter: 'groupBy' });
    expect(counting.hoursRead).toEqual([24]);
  });
});

describe("the batch reader's caches", () => {
  test('listings and pointers stay within their bounds, and answers stay exact', async () => {
    const engine = await DuckDbEngine.create({
      threads: 1,
      memoryLimit: '256MB',
      tempDirectory: join(tmpdir(), 'tandem-serving-reader'),
    });
    try {
      const reader = new LakeBatchViewReader({
        store: layers.store,
        engine,
        history: null,
        options: {
          pointerCacheTtlMs: 60_000,
          maxCachedStateBytes: 64 * 1024 * 1024,
          tempDirectory: join(tmpdir(), 'tandem-serving-reader'),
          downloadConcurrency: 4,
          catchUpMaxHours: 720,
        },
        now: () => now,
        logger: pino({ level: 'silent' }),
        catalog: builtinCatalog(),
        cacheEntries: { listings: 2, pointers: 5 },
      });
      // 36 hours over 2 or 3 UTC days, read twice: the second time, by a new server (no answer
      // cached in serving), past the reader's evictions.
      for (let round = 0; round < 2; round++) {
        await app?.close();
        app = await server(reader);
        const response = await app.inject({
          url: `/v1/views/endpoint_hourly/series?${range}&groupBy=none&granularity=1d`,
        });
        expect(response.statusCode).toBe(200);
        const differences = diffSeries(
          'endpoint_hourly',
          events,
          { granularity: '1d', filter: {}, groupBy: [] },
          response.json() as SeriesAnswer,
          emptyEndpoint,
        );
        expect(differences).toEqual([]);
        const cached = reader.cachedEntries();
        expect(cached.listings).toBeLessThanOrEqual(2);
        expect(cached.pointers).toBe(5);
      }
    } finally {
      await engine.close();
    }
  });
});

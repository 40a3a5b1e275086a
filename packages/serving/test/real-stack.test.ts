// The serving layer on the real stack: events are published hour by hour through the real batch
// layer (DuckDB → Parquet → pointers in a file:// lake) and written through the speed layer's own
// apply script into Redis; the real LakeBatchViewReader and SpeedViewReader feed the server. 1,000
// random range queries, many while batch hours are being published, must equal a truth folded
// straight from the events.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type BatchLayer, openBatchLayer } from '@tandem/batch';
import { compileReducer, finalizeStates, getView, HOUR_MS, type TandemEvent } from '@tandem/core';
import { logPartitionPrefix, type ObjectStore } from '@tandem/lake';
import { dropHours, SpeedViewReader, speedKeys } from '@tandem/speed';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestLake, type TestLake } from '../../../test/support/lake.ts';
import { mulberry32 } from '../../../test/support/random.ts';
import { deleteKeys } from '../../../test/support/redis.ts';
import { connectRedis, uniqueName } from '../../../test/support/stack.ts';
// The speed layer's write path is private to its package (its contract is the Redis layout);
// the test drives the very modules the worker uses, since a Kafka round trip adds nothing here.
import { BucketDeltaBuilder } from '../../speed/src/bucket-deltas.ts';
import { applyBatch, claimPartition } from '../../speed/src/scripts.ts';
import { buildServer } from '../src/index.ts';
import { diffSeries, type SeriesAnswer } from './support/compare.ts';
import { generateEvents } from './support/fixtures.ts';

const HOURS = 8;
const base = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - (HOURS + 2) * HOUR_MS;
const speedViews = ['endpoint_hourly', 'trending_pages'];
const endpointView = getView('endpoint_hourly');
const emptyEndpoint = finalizeStates(endpointView, {});

let redis: Redis;
let store: ObjectStore;
let lake: TestLake;
let tempDirectory: string;
let batch: BatchLayer;
let app: FastifyInstance;
const prefix = uniqueName();
const events: TandemEvent[] = generateEvents({
  seed: 21,
  from: base,
  to: base + HOURS * HOUR_MS,
  count: 3000,
});

async function writeLogs(): Promise<void> {
  for (let hour = 0; hour < HOURS; hour++) {
    const start = base + hour * HOUR_MS;
    const lines = events
      .filter((event) => event.timestamp >= start && event.timestamp < start + HOUR_MS)
      .map((event) => JSON.stringify({ ...event, timestamp: new Date(event.timestamp).toISOString() }));
    await store.put(
      `${logPartitionPrefix(start)}events+0+${hour * 1000}.json.gz`,
      gzipSync(`${lines.join('\n')}\n`),
    );
  }
}

/** Writes events of one Kafka partition through the speed layer's apply script. */
async function writeSpeed(partition: number, partitionEvents: TandemEvent[]): Promise<void> {
  const keys = speedKeys(prefix);
  const claim = await claimPartition(redis, keys.meta(partition), 'serving-test', Date.now());
  await redis.sadd(keys.partitions(), String(partition));
  const deltas = new BucketDeltaBuilder(keys, partition, 86_400_000);
  speedViews.forEach((name, index) => {
    const view = getView(name);
    const reducer = compileReducer(view);
    for (const event of partitionEvents) reducer.add(event);
    const ops = new Map(Object.entries(view.measures).map(([measure, spec]) => [measure, spec.op]));
    deltas.addRows(
      { name, version: view.version, bucketMs: view.bucketMs, measureOps: ops },
      index,
      reducer.rows(),
    );
  });
  const maxEventTime = Math.max(...partitionEvents.map((event) => event.timestamp));
  const result = await applyBatch(redis, {
    metaKey: keys.meta(partition),
    sessionsKey: keys.sessions(partition),
    epoch: claim.epoch,
    owner: 'serving-test',
    prevOffset: claim.appliedOffset,
    nextOffset: String(partitionEvents.length - 1),
    maxEventTime,
    watermark: maxEventTime - 30_000,
    nowMs: Date.now(),
    counters: { applied: partitionEvents.length, dlq: 0, late: 0, duplicates: 0 },
    indexes: speedViews.map((name) => ({
      key: keys.bucketIndex(partition, name, getView(name).version),
      trimBelowMs: 0,
      ttlMs: 2 * 86_400_000,
    })),
    sessionUpserts: [],
    sessionDeletions: [],
    buckets: deltas.build(),
  });
  expect(result.status).toBe('OK');
}

beforeAll(async () => {
  redis = connectRedis(undefined, { maxRetriesPerRequest: 2 });
  lake = await createTestLake('file');
  store = lake.store;
  tempDirectory = await mkdtemp(join(tmpdir(), 'tandem-serving-tmp-'));
  await writeLogs();
  await writeSpeed(
    0,
    events.filter((_, index) => index % 2 === 0),
  );
  await writeSpeed(
    1,
    events.filter((_, index) => index % 2 === 1),
  );
  batch = await openBatchLayer({
    store,
    redis,
    redisPrefix: prefix,
    tempDirectory,
    threads: 1,
    memoryLimit: '512MB',
    logger: pino({ level: 'silent' }),
    pointerCacheTtlMs: 0,
  });
  for (let hour = 0; hour < 4; hour++) {
    for (const view of speedViews) {
      const outcome = await batch.runHour(view, base + hour * HOUR_MS);
      expect(outcome.status, JSON.stringify(outcome)).toBe('published');
    }
  }
  app = await buildServer({
    batch: batch.reader,
    speed: new SpeedViewReader({ redis, prefix }),
    redis,
    redisPrefix: prefix,
    // The Redis-backed limiter stays on, with room for the test's queries.
    rateLimit: { max: 100_000, windowMs: 60_000 },
    logLevel: 'silent',
    dashboardDir: null,
    readinessProbes: { redis: () => redis.ping() },
  });
}, 180_000);

afterAll(async () => {
  const errors: unknown[] = [];
  await app?.close().catch((error) => errors.push(error));
  await batch?.close().catch((error) => errors.push(error));
  await deleteKeys(redis, `${prefix}*`);
  await redis.quit();
  await lake?.teardown();
  await rm(tempDirectory, { recursive: true, force: true });
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
            for (const view of speedViews) await batch.runHour(view, base + hour * HOUR_MS, { force });
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
    await dropHours({ redis, prefix }, 'endpoint_hourly', sealed);
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

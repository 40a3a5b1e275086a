// The admin recompute as jobs, through the HTTP routes, on the real stack: the batch layer's job
// queue in Redis, DuckDB and a file:// lake. POST answers 202 with a job id at once; GET follows the
// job to `done`, after which the series route serves every hour from batch with the exact counts;
// POST …/cancel cancels a queued job before it runs. /v1/status reads the batch layer's status record
// (with its computation time), and /healthz reports the scheduler loop it is given.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type BatchLayer, type BatchScheduler, openBatchLayer, type RecomputeJobs } from '@tandem/batch';
import { HOUR_MS, type TandemEvent } from '@tandem/core';
import { logPartitionPrefix } from '@tandem/lake';
import { RedisSpeedViewReader } from '@tandem/speed';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestLake, type TestLake } from '@tandem/test-support/lake.ts';
import { deleteKeys } from '@tandem/test-support/redis.ts';
import { connectRedis, uniqueName } from '@tandem/test-support/stack.ts';
import { buildServer } from '../src/index.ts';
import { generateEvents } from './support/fixtures.ts';

const HOURS = 3;
const base = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - (HOURS + 2) * HOUR_MS;
const ADMIN_KEY = 'ops-admin-key-0123456789abcdef0123456789';
const admin = { 'x-api-key': ADMIN_KEY };
const events: TandemEvent[] = generateEvents({
  seed: 31,
  from: base,
  to: base + HOURS * HOUR_MS,
  count: 900,
});

let redis: Redis;
let lake: TestLake;
let tempDirectory: string;
let layer: BatchLayer;
let jobs: RecomputeJobs;
let scheduler: BatchScheduler;
let app: FastifyInstance;
const prefix = uniqueName('ops');

beforeAll(async () => {
  redis = connectRedis(undefined, { maxRetriesPerRequest: 2 });
  lake = await createTestLake('file');
  tempDirectory = await mkdtemp(join(tmpdir(), 'tandem-serving-ops-'));
  for (let hour = 0; hour < HOURS; hour++) {
    const start = base + hour * HOUR_MS;
    const lines = events
      .filter((event) => event.timestamp >= start && event.timestamp < start + HOUR_MS)
      .map((event) => JSON.stringify({ ...event, timestamp: new Date(event.timestamp).toISOString() }));
    await lake.store.put(
      `${logPartitionPrefix(start)}events+0+${hour * 1000}.json.gz`,
      gzipSync(`${lines.join('\n')}\n`),
    );
  }
  layer = await openBatchLayer({
    store: lake.store,
    redis,
    redisPrefix: prefix,
    tempDirectory,
    threads: 1,
    memoryLimit: '512MB',
    logger: pino({ level: 'silent' }),
    pointerCacheTtlMs: 0,
  });
  jobs = layer.createRecomputeJobs({ heartbeatMs: 50 });
  // No periodic refresh: the records then change only when a job publishes, as the test expects.
  scheduler = layer.createScheduler({
    schedule: () => ({ stop: () => {} }),
    catchUpOnStart: false,
    statusRefreshMs: 0,
  });
  scheduler.start();
  const statusReader = layer.statusReader({ cacheTtlMs: 0 });
  app = await buildServer({
    batch: statusReader,
    batchStatus: (view) => statusReader.status(view),
    speed: new RedisSpeedViewReader({ redis, prefix }),
    redis,
    redisPrefix: prefix,
    apiKeys: [
      {
        name: 'ops',
        sha256: createHash('sha256').update(ADMIN_KEY).digest('hex'),
        scopes: ['read', 'admin'],
      },
    ],
    rateLimit: false,
    logLevel: 'silent',
    dashboardDir: null,
    snapshotTtlMs: 0,
    speedCacheTtlMs: 0,
    closedSpeedCacheTtlMs: 0,
    recomputeJobs: jobs,
    healthChecks: { 'batch scheduler': () => scheduler.health() },
    readinessProbes: { redis: () => redis.ping(), lake: () => lake.store.head('_tandem/readiness-probe') },
  });
}, 120_000);

afterAll(async () => {
  const errors: unknown[] = [];
  await app?.close().catch((error) => errors.push(error));
  await layer?.close().catch((error) => errors.push(error));
  await deleteKeys(redis, `${prefix}*`).catch((error) => errors.push(error));
  await redis?.quit().catch((error) => errors.push(error));
  await lake?.teardown().catch((error) => errors.push(error));
  await rm(tempDirectory, { recursive: true, force: true });
  if (errors.length > 0) throw new AggregateError(errors, 'teardown failed');
});

async function job(id: string): Promise<Record<string, unknown>> {
  const response = await app.inject({ url: `/v1/ops/jobs/${id}`, headers: admin });
  expect(response.statusCode).toBe(200);
  return response.json();
}

describe('recompute jobs over HTTP', () => {
  test('POST answers 202 with a job at once; the job runs to done and its hours are served from batch, exactly', async () => {
    const posted = await app.inject({
      method: 'POST',
      url: '/v1/ops/recompute',
      headers: admin,
      payload: {
        view: 'endpoint_hourly',
        from: new Date(base).toISOString(),
        to: String(base + HOURS * HOUR_MS),
      },
    });
    expect(posted.statusCode).toBe(202);
    const body = posted.json();
    expect(body).toMatchObject({ accepted: true, view: 'endpoint_hourly', hours: HOURS });
    expect(body.job).toMatchObject({ id: body.jobId, hours: { total: HOURS } });
    expect(['queued', 'running']).toContain(body.job.state);
    expect(posted.headers.location).toBe(`/v1/ops/jobs/${body.jobId}`);

    const deadline = Date.now() + 60_000;
    let current = await job(body.jobId);
    while (current.state !== 'done' && Date.now() < deadline) {
      expect(['queued', 'running']).toContain(current.state);
      await new Promise((resolve) => setTimeout(resolve, 50));
      current = await job(body.jobId);
    }
    expect(current).toMatchObject({
      state: 'done',
      hours: { total: HOURS, done: HOURS, published: HOURS, failed: 0, skipped: 0 },
      currentHour: null,
      errors: [],
      reason: null,
    });

    const series = await app.inject({
      url: `/v1/views/endpoint_hourly/series?from=${base}&to=${base + HOURS * HOUR_MS}&groupBy=none&measures=requests`,
      headers: admin,
    });
    expect(series.statusCode).toBe(200);
    const answer = series.json();
    expect(answer.coverage.map((entry: { source: string }) => entry.source)).toEqual(
      Array(HOURS).fill('batch'),
    );
    const expected = Array.from(
      { length: HOURS },
      (_, hour) =>
        events.filter(
          (event) =>
            event.timestamp >= base + hour * HOUR_MS && event.timestamp < base + (hour + 1) * HOUR_MS,
        ).length,
    );
    expect(
      answer.series[0].points.map((point: { values: { requests: number } }) => point.values.requests),
    ).toEqual(expected);

    const listed = await app.inject({ url: '/v1/ops/jobs?limit=5', headers: admin });
    expect(listed.json().jobs.map((entry: { id: string }) => entry.id)).toEqual([body.jobId]);
  });

  test('cancel stops a queued job before it runs; unknown and malformed ids answer 404 and 400', async () => {
    const submit = async () =>
      (
        await app.inject({
          method: 'POST',
          url: '/v1/ops/recompute',
          headers: admin,
          payload: { view: 'trending_pages', from: String(base), to: String(base + HOURS * HOUR_MS) },
        })
      ).json().jobId as string;
    const first = await submit();
    const second = await submit();
    const cancelled = await app.inject({
      method: 'POST',
      url: `/v1/ops/jobs/${second}/cancel`,
      headers: admin,
    });
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toMatchObject({ id: second, hours: { done: 0 } });
    // Queued behind the first (one job at a time), it is cancelled at once and never runs.
    expect(cancelled.json().state).toBe('cancelled');
    const deadline = Date.now() + 60_000;
    while ((await job(first)).state !== 'done' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await job(first)).toMatchObject({ state: 'done', hours: { published: HOURS } });
    expect(await job(second)).toMatchObject({ state: 'cancelled', startedAt: null, hours: { done: 0 } });

    const unknown = await app.inject({
      url: '/v1/ops/jobs/00000000-0000-4000-8000-000000000000',
      headers: admin,
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('TANDEM_ERR_NOT_FOUND');
    const malformed = await app.inject({
      method: 'POST',
      url: '/v1/ops/jobs/not-a-job/cancel',
      headers: admin,
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error).toMatchObject({ code: 'TANDEM_ERR_QUERY_INVALID', parameter: 'id' });
    expect((await app.inject({ url: `/v1/ops/jobs/${first}` })).statusCode).toBe(401);
    // Other methods on the job paths: 405 naming the allowed ones, as on every static path.
    for (const [method, url, allow] of [
      ['PUT', `/v1/ops/jobs/${first}`, 'GET, HEAD'],
      ['QUERY', `/v1/ops/jobs/${first}`, 'GET, HEAD'],
      ['GET', `/v1/ops/jobs/${first}/cancel`, 'POST'],
    ] as const) {
      const response = await app.inject({ method, url, headers: admin });
      expect(response.statusCode, `${method} ${url}`).toBe(405);
      expect(response.headers.allow).toBe(allow);
    }
  });

  test('status reads the batch layer’s record; health reports the scheduler; the spec lists the job routes', async () => {
    const status = (await app.inject({ url: '/v1/status', headers: admin })).json();
    const endpoint = status.views.find((view: { view: string }) => view.view === 'endpoint_hourly');
    const record = await layer.statusStore.read('endpoint_hourly', layer.view('endpoint_hourly').version);
    expect(record).not.toBeNull();
    expect(endpoint).toMatchObject({
      sealedThrough: new Date(base + HOURS * HOUR_MS).toISOString(),
      staleHours: [],
      statusComputedAt: new Date(record!.computedAt).toISOString(),
      error: null,
    });

    const healthy = await app.inject({ url: '/healthz' });
    expect(healthy.statusCode).toBe(200);
    expect(healthy.json()).toEqual({
      status: 'ok',
      checks: { 'batch scheduler': { ok: true, detail: 'idle' } },
    });
    expect((await app.inject({ url: '/readyz' })).json()).toMatchObject({
      status: 'ready',
      checks: { redis: { ok: true }, lake: { ok: true } },
    });

    const spec = (await app.inject({ url: '/docs/json' })).json();
    expect(spec.paths['/v1/ops/jobs/{id}'].get.parameters.map((p: { name: string }) => p.name)).toEqual([
      'id',
    ]);
    expect(spec.paths['/v1/ops/jobs/{id}/cancel'].post).toBeDefined();
    expect(spec.paths['/v1/ops/jobs'].get.parameters.map((p: { name: string }) => p.name)).toEqual(['limit']);
    expect(spec.paths['/v1/ops/recompute'].post.responses['202']).toBeDefined();

    await scheduler.stop();
    const stopped = await app.inject({ url: '/healthz' });
    expect(stopped.statusCode).toBe(503);
    expect(stopped.json()).toEqual({
      status: 'failing',
      checks: { 'batch scheduler': { ok: false, detail: 'stopped' } },
    });
  });
});

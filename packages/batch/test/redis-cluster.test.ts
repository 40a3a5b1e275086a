// The batch layer's Redis state on a real 3-master Redis Cluster (started for this file by
// scripts/stack): the hour leases and their fencing tokens (one script, two keys of one slot), the
// run history (MULTI on one key), the status records and the recompute job queue (index, records
// and cancel flags under one hash tag: MULTI and MGET in one slot). A layout that crossed slots
// would fail here with CROSSSLOT, as would the generation registry's scripts (one hash per view); the published hours must still equal the truth.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  builtinViews,
  defineView,
  HOUR_MS,
  loadConfig,
  type TandemEvent,
  viewSpecOf,
  webStream,
} from '@tandem/core';
import { connectRedis, type RedisClient } from '@tandem/connections';
import { createTestLake, type TestLake } from '@tandem/test-support/lake.ts';
import { PrivateRedisCluster } from '@tandem/test-support/private-cluster.ts';
import { uniqueName } from '@tandem/test-support/stack.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchLayer, GenerationRegistry, openBatchLayer } from '../src/index.ts';
import { expectEndpointTruth } from './support/assertions.ts';
import { endpointTruth, generateHour, quietLogger, writeHour } from './support/fixtures.ts';

const BASE = Date.UTC(2024, 2, 1);
const HOURS = 3;
const prefix = uniqueName('batch-cluster');
let cluster: PrivateRedisCluster;
let redis: RedisClient;
let lake: TestLake;
let tempDirectory: string;
const layers: BatchLayer[] = [];
const events: TandemEvent[] = [];

beforeAll(async () => {
  cluster = await PrivateRedisCluster.start();
  redis = await connectRedis(loadConfig({ REDIS_CLUSTER_NODES: cluster.nodes }).redis);
  lake = await createTestLake('file', { fsync: false });
  tempDirectory = await mkdtemp(join(tmpdir(), 'tandem-batch-cluster-'));
  for (let h = 0; h < HOURS; h++) {
    const data = generateHour(BASE + h * HOUR_MS, { seed: 70 + h, events: 40, badLines: 0 });
    events.push(...data.events);
    await writeHour(lake.store, data);
  }
}, 120_000);

afterAll(async () => {
  const errors: unknown[] = [];
  for (const layer of layers) await layer.close().catch((error: unknown) => errors.push(error));
  await redis?.quit().catch((error: unknown) => errors.push(error));
  await lake?.teardown().catch((error: unknown) => errors.push(error));
  if (tempDirectory) await rm(tempDirectory, { recursive: true, force: true });
  try {
    cluster?.stop();
  } catch (error) {
    errors.push(error);
  }
  if (errors.length > 0) throw new AggregateError(errors, 'batch redis-cluster teardown failed');
});

async function open(): Promise<BatchLayer> {
  const layer = await openBatchLayer({
    store: lake.store,
    redis,
    redisPrefix: prefix,
    tempDirectory,
    threads: 1,
    memoryLimit: '512MB',
    logger: quietLogger,
    pointerCacheTtlMs: 0,
    leaseTtlMs: 10_000,
    retryBaseMs: 10,
  });
  layers.push(layer);
  return layer;
}

describe('the batch layer on a Redis Cluster', () => {
  it('leases, publishes, records runs and status, and queues recompute jobs seen by another replica', async () => {
    const layer = await open();
    const replica = await open();
    const range = { from: BASE, to: BASE + HOURS * HOUR_MS };

    // a recompute job: the queue's MULTI/MGET, then the runner's leases and run history per hour
    const jobs = layer.createRecomputeJobs({ heartbeatMs: 50 });
    const elsewhere = replica.createRecomputeJobs({ heartbeatMs: 50 });
    const queued = await jobs.submit('endpoint_hourly', range);
    let done = await elsewhere.get(queued.id);
    for (let i = 0; i < 600 && (done === null || done.state !== 'done'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      done = await elsewhere.get(queued.id);
    }
    expect(done).toMatchObject({ state: 'done', hoursPublished: HOURS, hoursFailed: 0, errors: [] });
    expect((await elsewhere.list(10)).map((job) => job.id)).toEqual([queued.id]);

    const sealed = await replica.reader.sealedHours('endpoint_hourly', range);
    expect(sealed.map((hour) => hour.hour)).toEqual([0, 1, 2].map((h) => BASE + h * HOUR_MS));
    expectEndpointTruth(
      builtinViews.endpoint_hourly,
      await replica.reader.readPartials('endpoint_hourly', sealed, {}),
      endpointTruth(events),
    );
    const history = await replica.reader.runHistory('endpoint_hourly', 10);
    expect(
      history
        .filter((run) => run.status === 'published')
        .map((run) => run.hour)
        .sort(),
    ).toEqual(sealed.map((hour) => hour.hour));

    // each hour's lease is released and its fencing token advanced once, in the hour's own slot
    for (const { hour } of sealed) {
      const base = `${prefix}:batch:{endpoint_hourly:${hour}}`;
      expect(await redis.exists(`${base}:lease`)).toBe(0);
      expect(await redis.get(`${base}:token`)).toBe('1');
    }

    // the status record, written by one replica and read by the other
    const status = await layer.refreshStatus('endpoint_hourly');
    expect(status.sealedThrough).toBe(BASE + HOURS * HOUR_MS);
    expect(await replica.statusStore.read('endpoint_hourly', status.version)).toEqual(status);
  });

  it('registers and switches view generations, each view in its own slot', async () => {
    const registry = new GenerationRegistry(redis, prefix);
    const v1 = builtinViews.endpoint_hourly;
    const v2 = defineView({ ...viewSpecOf(v1), dimensions: ['endpoint', 'method'] }, webStream);
    expect(await registry.register(v1, BASE)).toEqual({ n: 1, state: 'active', created: true });
    expect(await registry.register(v2, BASE + 1)).toEqual({ n: 2, state: 'building', created: true });
    await registry.switch('endpoint_hourly', 1, 2, BASE + 2);
    expect(await registry.active('endpoint_hourly')).toMatchObject({ n: 2, fingerprint: v2.fingerprint });
    expect((await registry.list('endpoint_hourly')).generations.map((gen) => gen.state)).toEqual([
      'previous',
      'active',
    ]);
  });
});

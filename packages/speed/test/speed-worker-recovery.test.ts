// Exactly-once under failure, on the real stack: workers killed with SIGKILL mid-stream, workers
// joining and leaving the group, Redis losing everything mid-stream, and Redis coming back from an
// older snapshot. After each, the views must equal the compiled reducer applied once to the events
// the speed layer should accept.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { speedKeys } from '../src/key-schema.ts';
import type { SpeedTuning } from '../src/options.ts';
import { claimPartition } from '../src/scripts.ts';
import { RedisSpeedViewReader } from '../src/speed-view-reader.ts';
import { createTopics, deleteTopics, topicWithSideTopics } from '@tandem/test-support/kafka.ts';
import { deletePrefix } from '@tandem/test-support/redis.ts';
import { connectRedis, kafkaBrokers, kafkaClient, redisUrl, uniqueName } from '@tandem/test-support/stack.ts';
import { type GeneratedStream, generateStream } from './support/event-stream.ts';
import { produceStream, readTopic, waitUntilApplied } from './support/kafka-topics.ts';
import { type PrivateRedis, startPrivateRedis } from '@tandem/test-support/private-redis.ts';
import { canonicalRows, truthRows } from './support/truth.ts';
import { startWorkerProcess, type WorkerProcess } from './support/worker-process.ts';

const partitions = 6;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let kafka: Kafka;
let admin: Admin;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  kafka = kafkaClient('tandem-speed-test');
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  const errors: unknown[] = [];
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      errors.push(error);
    }
  }
  await admin.disconnect();
  if (errors.length > 0) throw new AggregateError(errors, 'recovery test cleanup failed');
});

/** A topic, a prefix and a group of this test's own, removed afterwards. */
async function setup(redis: Redis, kind: string) {
  const topic = uniqueName(kind);
  const prefix = uniqueName(kind);
  await createTopics(admin, [topic], partitions);
  cleanups.push(async () => {
    await deleteTopics(admin, topicWithSideTopics(topic));
    await deletePrefix(redis, prefix);
  });
  const tuning: Partial<SpeedTuning> = {
    topic,
    prefix,
    groupId: `${topic}-group`,
    maxBatchSize: 1000,
    maxBatchWaitMs: 100,
    dedupWindow: 2000,
    commitIntervalMs: 100,
    // the broker's minimum: a killed member is noticed within seconds, not the default 30 s
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 500,
    partitionsConsumedConcurrently: 3,
  };
  return { topic, prefix, tuning };
}

/** Produces the stream in small acked batches over roughly `durationMs`, so failures land mid-stream. */
function producePaced(topic: string, stream: GeneratedStream, durationMs: number): Promise<void> {
  const batchSize = 2000;
  const batches = Math.ceil(stream.messages.length / batchSize);
  return produceStream(kafka, topic, stream.messages, {
    batchSize,
    onBatch: async () => {
      await sleep(durationMs / batches);
    },
  });
}

async function expectExact(
  redis: Redis,
  prefix: string,
  topic: string,
  stream: GeneratedStream,
): Promise<void> {
  const reader = new RedisSpeedViewReader({ redis, prefix, topic, admin });
  await waitUntilApplied(admin, topic, async () => {
    const status = await reader.status();
    return new Map(status.partitions.map((p) => [p.partition, p.appliedOffset]));
  });
  const status = await reader.status();
  expect(status.eventsApplied).toBe(stream.accepted.length);
  expect(status.dlqCount).toBe(stream.counts.poison);
  expect(status.lateCount).toBe(stream.counts.late);
  expect(status.duplicateCount).toBe(stream.counts.duplicate);
  const range = { from: 0, to: Date.now() + 86_400_000 };
  for (const view of ['endpoint_hourly', 'trending_pages', 'sessions_hourly']) {
    const actual = await reader.readPartials(view, range, {});
    expect(canonicalRows(actual), view).toEqual(
      canonicalRows(truthRows(view, stream.accepted, stream.sentinelUsers)),
    );
  }
  // replays may repeat a dead letter, never under a new key
  const dlqKeys = new Set((await readTopic(kafka, admin, `${topic}.dlq`)).map((m) => m.key!.toString()));
  expect(dlqKeys.size).toBe(stream.counts.poison);
}

describe('SpeedWorker recovery', () => {
  it('stays exact when the worker is killed with SIGKILL six times during a 200k stream', async () => {
    const redis = connectRedis();
    cleanups.push(async () => void (await redis.quit()));
    const { topic, prefix, tuning } = await setup(redis, 'kill');
    const stream = generateStream({ count: 200_000, partitions, seed: 11 });
    const start = () => startWorkerProcess({ brokers: kafkaBrokers, redisUrl, tuning });

    let worker: WorkerProcess = await start();
    cleanups.push(() => worker.kill());
    const producing = producePaced(topic, stream, 20_000);
    let kills = 0;
    for (; kills < 6; kills++) {
      await sleep(1500 + ((kills * 700) % 2000));
      await worker.kill();
      worker = await start();
    }
    await producing;
    expect(kills).toBeGreaterThanOrEqual(5);
    await expectExact(redis, prefix, topic, stream);
    expect(await worker.stop()).toBe(0);
  });

  it('stays exact while two workers join and leave the group ten times', async () => {
    const redis = connectRedis();
    cleanups.push(async () => void (await redis.quit()));
    const { topic, prefix, tuning } = await setup(redis, 'rebalance');
    const stream = generateStream({ count: 100_000, partitions, seed: 13 });
    const start = () => startWorkerProcess({ brokers: kafkaBrokers, redisUrl, tuning });

    const workers: Array<WorkerProcess | null> = [await start(), null];
    cleanups.push(async () => {
      for (const worker of workers) await worker?.kill();
    });
    const producing = producePaced(topic, stream, 20_000);
    // alternate: the second joins, the first leaves, the first joins, the second leaves, ...
    for (let step = 0; step < 10; step++) {
      const joining = step % 2 === 0 ? 1 : 0;
      const leaving = 1 - joining;
      workers[joining] = await start();
      await sleep(1000);
      expect(await workers[leaving]!.stop()).toBe(0);
      workers[leaving] = null;
      await sleep(500);
    }
    await producing;
    await expectExact(redis, prefix, topic, stream);
    for (const worker of workers) {
      if (worker !== null) expect(await worker.stop()).toBe(0);
    }
  });

  it('fences a frozen worker that wakes up after its partitions moved on', async () => {
    const redis = connectRedis();
    cleanups.push(async () => void (await redis.quit()));
    const { topic, prefix, tuning } = await setup(redis, 'zombie');
    const stream = generateStream({ count: 100_000, partitions, seed: 19 });
    const backlog = { ...stream, messages: stream.messages.slice(0, 60_000) };
    const rest = { ...stream, messages: stream.messages.slice(60_000) };
    const start = () => startWorkerProcess({ brokers: kafkaBrokers, redisUrl, tuning });
    const reader = new RedisSpeedViewReader({ redis, prefix, topic });

    await produceStream(kafka, topic, backlog.messages);
    const zombie = await start();
    cleanups.push(() => zombie.kill());
    // freeze it while it is busy with the backlog: batches fetched, folded, not yet applied
    while ((await reader.status()).eventsApplied < 5000) await sleep(20);
    zombie.freeze();
    const successor = await start();
    cleanups.push(() => successor.kill());
    // the group evicts the frozen member after its session timeout; the successor claims everything
    await sleep(tuning.sessionTimeoutMs! + 4000);
    zombie.thaw();
    await producePaced(topic, rest, 4000);
    // where it froze decides what the woken worker meets first (the fence on a stale batch, or a
    // failed heartbeat and a rejoin); either way nothing stale may reach the views
    await expectExact(redis, prefix, topic, stream);
    expect(await zombie.stop()).toBe(0);
    expect(await successor.stop()).toBe(0);
  });

  it('refuses a batch once another owner has claimed the partition, and recovers on the next join', async () => {
    const redis = connectRedis();
    cleanups.push(async () => void (await redis.quit()));
    const { topic, prefix, tuning } = await setup(redis, 'rival');
    const stream = generateStream({ count: 60_000, partitions, seed: 23 });
    const start = () => startWorkerProcess({ brokers: kafkaBrokers, redisUrl, tuning });
    const reader = new RedisSpeedViewReader({ redis, prefix, topic });

    const first = await start();
    cleanups.push(() => first.kill());
    const producing = producePaced(topic, stream, 10_000);
    while ((await reader.status()).eventsApplied < 5000) await sleep(20);
    // a rival takes every partition in Redis behind the group's back, as a zombie would
    const keys = speedKeys(prefix);
    for (let partition = 0; partition < partitions; partition++) {
      await claimPartition(redis, keys.meta(partition), 'rival', Date.now());
    }
    await sleep(2000);
    const stalled = (await reader.status()).eventsApplied;
    await sleep(1000);
    expect((await reader.status()).eventsApplied).toBe(stalled); // paused, not fighting the rival
    expect(first.logs.some((line) => line.includes('"by":"rival"'))).toBe(true);
    // the next group join (a second worker) resumes the partitions, claimed afresh
    const second = await start();
    cleanups.push(() => second.kill());
    await producing;
    await expectExact(redis, prefix, topic, stream);
    expect(await first.stop()).toBe(0);
    expect(await second.stop()).toBe(0);
  });

  it('rebuilds the views from Kafka when Redis loses its data mid-stream', async () => {
    const server: PrivateRedis = await startPrivateRedis();
    cleanups.push(() => server.stop());
    const redis = connectRedis(server.url);
    cleanups.push(async () => redis.disconnect());
    const { topic, prefix, tuning } = await setup(redis, 'redis-loss');
    const stream = generateStream({ count: 60_000, partitions, seed: 17 });

    const worker = await startWorkerProcess({ brokers: kafkaBrokers, redisUrl: server.url, tuning });
    cleanups.push(() => worker.kill());
    const producing = producePaced(topic, stream, 10_000);
    await sleep(5000);
    const before = await new RedisSpeedViewReader({ redis, prefix, topic }).status();
    expect(before.eventsApplied).toBeGreaterThan(0);
    await server.restart(); // nothing on disk: every key is gone
    await producing;
    await expectExact(redis, prefix, topic, stream);
    expect(await worker.stop()).toBe(0);
  });

  it('lists its partitions again when the partition set alone is lost, as a Redis Cluster master restarted empty loses it', async () => {
    // The set is the one key outside the partitions' hash tags, so on a cluster it can sit on a
    // master that restarts empty while every partition's state lives on the others: nothing is
    // rebuilt and no rebalance comes, so only the worker's own check can list them again.
    const redis = connectRedis(redisUrl);
    cleanups.push(async () => void (await redis.quit()));
    const { topic, prefix, tuning } = await setup(redis, 'partition-set-loss');
    const stream = generateStream({ count: 20_000, partitions, seed: 41 });
    const worker = await startWorkerProcess({ brokers: kafkaBrokers, redisUrl, tuning });
    cleanups.push(() => worker.kill());
    const producing = producePaced(topic, stream, 8_000);
    const reader = new RedisSpeedViewReader({ redis, prefix, topic });
    while ((await reader.status()).partitions.length < partitions) await sleep(50);
    await redis.del(speedKeys(prefix).partitions());
    expect(await reader.partitions()).toEqual([]);
    await producing;
    await expectExact(redis, prefix, topic, stream);
    expect(await worker.stop()).toBe(0);
  });

  it('resumes from the restored offsets when Redis comes back from a snapshot older than a rebalance', async () => {
    // RDB persistence, or an AOF that missed its last second: Redis restarts at an earlier point in
    // time, where the partitions' meta hashes name owners and epochs from before the last claims.
    const dir = mkdtempSync(join(tmpdir(), 'tandem-speed-rdb-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const server = await startPrivateRedis({ dir });
    cleanups.push(() => server.stop());
    const redis = connectRedis(server.url);
    cleanups.push(async () => redis.disconnect());
    const { topic, prefix, tuning } = await setup(redis, 'redis-snapshot');
    const stream = generateStream({ count: 60_000, partitions, seed: 29 });
    const start = () => startWorkerProcess({ brokers: kafkaBrokers, redisUrl: server.url, tuning });
    const reader = new RedisSpeedViewReader({ redis, prefix, topic });
    const keys = speedKeys(prefix);
    const owners = async () =>
      Promise.all([...Array(partitions).keys()].map((p) => redis.hmget(keys.meta(p), 'owner', 'epoch')));

    const first = await start();
    cleanups.push(() => first.kill());
    const producing = producePaced(topic, stream, 12_000);
    while ((await reader.status()).partitions.length < partitions) await sleep(50);
    await redis.save(); // every partition claimed by the first worker
    const saved = await owners();
    expect(new Set(saved.map(([owner]) => owner)).size).toBe(1);

    // a second worker joins: the partitions are claimed again (higher epochs), half of them by it
    const second = await start();
    cleanups.push(() => second.kill());
    for (;;) {
      const now = await owners();
      if (new Set(now.map(([owner]) => owner)).size === 2) break;
      await sleep(50);
    }
    await sleep(1000); // both apply a few batches under their new epochs
    await server.restart(); // back to the snapshot: the first worker's owners and epochs
    // the second worker's batches now meet an older epoch of another owner: a Redis that went back
    // in time, not a newer claim, so it re-claims instead of waiting for a rebalance that never comes
    await producing;
    await expectExact(redis, prefix, topic, stream);
    expect(await first.stop()).toBe(0);
    expect(await second.stop()).toBe(0);
  });
});

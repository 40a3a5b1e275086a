// The speed worker on the real stack: 100k messages with duplicates, disorder within the bound,
// events beyond the allowed lateness and poison of every kind. The views must equal the compiled
// reducer applied once to exactly the events the speed layer should accept; every poison message
// must sit in the DLQ with its original bytes, every late event in the late topic.
import type { Redis } from 'ioredis';
import type { Admin, Kafka } from 'kafkajs';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterHeaders } from '../src/dead-letters.ts';
import { createSpeedMetrics } from '../src/metrics.ts';
import { RedisSpeedViewReader } from '../src/speed-view-reader.ts';
import { SpeedWorker } from '../src/speed-worker.ts';
import { createTopics, deleteTopics, topicWithSideTopics } from '@tandem/test-support/kafka.ts';
import { deletePrefix } from '@tandem/test-support/redis.ts';
import { connectRedis, kafkaClient, uniqueName } from '@tandem/test-support/stack.ts';
import { generateStream } from './support/event-stream.ts';
import { produceStream, readTopic, waitUntilApplied } from './support/kafka-topics.ts';
import { canonicalRows, truthRows } from './support/truth.ts';

const topic = uniqueName('speed');
const prefix = uniqueName('speed');
const partitions = 6;
let kafka: Kafka;
let admin: Admin;
let redis: Redis;

beforeAll(async () => {
  kafka = kafkaClient('tandem-speed-test');
  admin = kafka.admin();
  await admin.connect();
  redis = connectRedis();
  await createTopics(admin, [topic], partitions);
});

afterAll(async () => {
  await deleteTopics(admin, topicWithSideTopics(topic));
  await admin.disconnect();
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('SpeedWorker', () => {
  it('applies 100k messages exactly once: duplicates dropped, late and poison routed aside', async () => {
    const stream = generateStream({ count: 100_000, partitions, seed: 5 });
    expect(stream.counts.poison).toBeGreaterThan(900);
    expect(stream.counts.late).toBeGreaterThan(100);
    expect(stream.counts.duplicate).toBeGreaterThan(900);
    expect(Object.values(stream.poisonByKind).every((n) => n > 50)).toBe(true);

    const registry = new Registry();
    const metrics = createSpeedMetrics(registry);
    const worker = new SpeedWorker({
      kafka,
      redis,
      topic,
      prefix,
      groupId: `${topic}-group`,
      maxBatchSize: 2000,
      maxBatchWaitMs: 100,
      dedupWindow: 5000,
      commitIntervalMs: 200,
      metrics,
      logger: pino({ level: 'warn' }),
    });
    const reader = new RedisSpeedViewReader({ redis, prefix, topic, admin });
    await worker.start();
    try {
      await produceStream(kafka, topic, stream.messages);
      await waitUntilApplied(admin, topic, async () => {
        const status = await reader.status();
        return new Map(status.partitions.map((p) => [p.partition, p.appliedOffset]));
      });
    } finally {
      await worker.stop();
    }

    const status = await reader.status();
    expect(status.eventsApplied).toBe(stream.accepted.length);
    expect(status.dlqCount).toBe(stream.counts.poison);
    expect(status.lateCount).toBe(stream.counts.late);
    expect(status.duplicateCount).toBe(stream.counts.duplicate);
    expect(status.partitions.map((p) => p.lag)).toEqual(new Array(partitions).fill(0));
    expect(status.watermark).not.toBeNull();

    const range = { from: 0, to: Date.now() + 86_400_000 };
    for (const view of ['endpoint_hourly', 'trending_pages', 'sessions_hourly']) {
      const actual = await reader.readPartials(view, range, {});
      const expected = truthRows(view, stream.accepted, stream.sentinelUsers);
      expect(actual.length, view).toBe(expected.length);
      expect(canonicalRows(actual), view).toEqual(canonicalRows(expected));
    }

    // dead letters: one per poison message (replays would repeat a key), original bytes kept
    const dlq = await readTopic(kafka, admin, `${topic}.dlq`);
    const byKey = new Map(dlq.map((message) => [message.key!.toString(), message]));
    expect(byKey.size).toBe(stream.counts.poison);
    const offsets = new Map<string, Buffer>();
    const nextOffset = new Array<number>(partitions).fill(0);
    for (const message of stream.messages) {
      const offset = nextOffset[message.partition]!++;
      if (message.kind === 'poison') offsets.set(`${topic}:${message.partition}:${offset}`, message.value);
    }
    for (const [key, original] of offsets) {
      const letter = byKey.get(key);
      expect(letter, key).toBeDefined();
      expect(Buffer.compare(letter!.value ?? Buffer.alloc(0), original)).toBe(0);
      expect(letter!.headers?.[deadLetterHeaders.errorCode]?.toString()).toMatch(/^TANDEM_ERR_EVENT_/);
      expect(letter!.headers?.[deadLetterHeaders.errorRule]?.toString()).toBeTruthy();
      expect(letter!.headers?.[deadLetterHeaders.pipelineVersion]?.toString()).toMatch(/^tandem-speed\//);
    }
    const late = await readTopic(kafka, admin, `${topic}.late`);
    expect(new Set(late.map((message) => message.key!.toString())).size).toBe(stream.counts.late);

    const applied = await registry.getSingleMetric('tandem_speed_events_total')!.get();
    const byOutcome = Object.fromEntries(applied.values.map((v) => [v.labels.outcome, v.value]));
    expect(byOutcome).toEqual({
      applied: stream.accepted.length,
      duplicate: stream.counts.duplicate,
      late: stream.counts.late,
      dlq: stream.counts.poison,
    });
  });
});

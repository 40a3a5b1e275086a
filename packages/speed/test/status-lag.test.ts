// The speed layer's status against the shared Kafka: lag per partition is the topic's high
// watermark minus the applied offset, and a topic that does not exist (yet) gives an unknown lag
// within seconds. kafkajs retries the unknown-topic metadata error for minutes, which used to hang
// `/v1/status` and `tandem status` on a fresh stack (found only in CI, where no `events` topic exists).
import { HOUR_MS } from '@tandem/core';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopics, deleteTopics } from '@tandem/test-support/kafka.ts';
import { deletePrefix } from '@tandem/test-support/redis.ts';
import { connectRedis, kafkaClient, uniqueName } from '@tandem/test-support/stack.ts';
import { speedKeys } from '../src/key-schema.ts';
import { RedisSpeedViewReader } from '../src/speed-view-reader.ts';

const redis = connectRedis();
const prefix = uniqueName('status-lag');
const keys = speedKeys(prefix);
const topic = uniqueName('status-lag');
const kafka = kafkaClient('status-lag-test');
let admin: Admin;

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  await createTopics(admin, [topic], 2);
  // Idempotent: a retry after a partial failure (one partition refused while the new topic's
  // metadata settles, the other written) must not write the written partition's messages twice.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  // 5 messages on partition 0 and 3 on partition 1: high watermarks 5 and 3.
  await producer.send({
    topic,
    messages: [
      ...Array.from({ length: 5 }, (_, i) => ({ partition: 0, value: `a${i}` })),
      ...Array.from({ length: 3 }, (_, i) => ({ partition: 1, value: `b${i}` })),
    ],
  });
  await producer.disconnect();
  // The speed layer has applied offsets 1 (two messages) of partition 0 and 2 (all three) of 1.
  const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  await redis.sadd(keys.partitions(), '0', '1');
  await redis.hset(keys.meta(0), { offset: '1', watermark: String(hour), maxEventTime: String(hour) });
  await redis.hset(keys.meta(1), { offset: '2', watermark: String(hour), maxEventTime: String(hour) });
});

afterAll(async () => {
  await deleteTopics(admin, [topic]);
  await admin.disconnect();
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('speed status lag', () => {
  it("is the topic's high watermark minus the next offset to apply, per partition", async () => {
    const reader = new RedisSpeedViewReader({ redis, prefix, admin, topic });
    const status = await reader.status();
    expect(status.partitions.map((p) => [p.partition, p.appliedOffset, p.lag])).toEqual([
      [0, '1', 3],
      [1, '2', 0],
    ]);
  });

  it('is unknown, within seconds, while the topic does not exist', async () => {
    const missing = uniqueName('no-such-topic');
    const reader = new RedisSpeedViewReader({ redis, prefix, admin, topic: missing });
    const started = Date.now();
    const status = await reader.status();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(status.partitions.map((p) => [p.partition, p.appliedOffset, p.lag])).toEqual([
      [0, '1', null],
      [1, '2', null],
    ]);
    // Asking did not create it.
    expect(await admin.listTopics()).not.toContain(missing);
  });
});

// The speed layer keeps a view's serving version and its building one in the same exactly-once
// apply, on the real Kafka and Redis: the config changed endpoint_hourly (GET requests only), the
// registry numbered it v2 while v1 serves, and one worker over the platform's GenerationCatalog
// (after maintainServingVersions, as the cli's speed starter does) folds every event into both.
// Each version's real-time rows equal core's reducer over the accepted events, with its own definition.
import { GenerationCatalog, GenerationRegistry, maintainServingVersions } from '@tandem/batch';
import { builtinCatalog, defineView, viewSpecOf, where } from '@tandem/core';
import { RedisSpeedViewReader, SpeedWorker } from '@tandem/speed';
import type { Redis } from 'ioredis';
import type { Admin, Kafka } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopics, deleteTopics, topicWithSideTopics } from '@tandem/test-support/kafka.ts';
import { deletePrefix } from '@tandem/test-support/redis.ts';
import { connectRedis, kafkaClient, uniqueName } from '@tandem/test-support/stack.ts';
import { generateStream } from '../../../speed/test/support/event-stream.ts';
import { produceStream, waitUntilApplied } from '../../../speed/test/support/kafka-topics.ts';
import { canonicalRows, truthRows } from '../../../speed/test/support/truth.ts';

const topic = uniqueName('speed-versions');
const prefix = uniqueName('speed-versions');
const partitions = 2;
let kafka: Kafka;
let admin: Admin;
let redis: Redis;

beforeAll(async () => {
  kafka = kafkaClient('tandem-speed-versions-test');
  admin = kafka.admin();
  await admin.connect();
  await createTopics(admin, topicWithSideTopics(topic), partitions);
  redis = connectRedis();
}, 60_000);

afterAll(async () => {
  await deleteTopics(admin, topicWithSideTopics(topic)).catch(() => {});
  await admin.disconnect();
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('speed keeps the serving and the building version of a view', () => {
  it('folds every event into both, each by its own definition', async () => {
    const builtin = builtinCatalog({ topic, dlqTopic: `${topic}.dlq`, lateTopic: `${topic}.late` });
    const v1 = builtin.view('endpoint_hourly');
    const registry = new GenerationRegistry(redis, prefix);
    expect(await registry.register(v1, Date.now())).toMatchObject({ n: 1, state: 'active' });
    // The changed config, with its hand-set version still 1.
    const edited = defineView(
      { ...viewSpecOf(v1), filter: where.eq('method', 'GET') },
      builtin.stream('events'),
    );
    const catalog = new GenerationCatalog({
      ...builtin,
      views: builtin.views.map((view) => (view.name === 'endpoint_hourly' ? edited : view)),
      view: (name) => (name === 'endpoint_hourly' ? edited : builtin.view(name)),
      viewsOf: (stream) =>
        builtin.viewsOf(stream).map((view) => (view.name === 'endpoint_hourly' ? edited : view)),
    });
    const kept = await maintainServingVersions(
      registry,
      catalog,
      catalog.views.map((view) => view.name),
      Date.now(),
    );
    expect(kept).toEqual(['endpoint_hourly@v1']);
    expect(catalog.viewsOf('events').map((view) => `${view.name}@v${view.version}`)).toEqual([
      'endpoint_hourly@v2',
      'sessions_hourly@v1',
      'trending_pages@v1',
      'endpoint_hourly@v1',
    ]);

    const stream = generateStream({ count: 6000, partitions, seed: 11 });
    const worker = new SpeedWorker({
      kafka,
      redis,
      topic,
      prefix,
      catalog,
      groupId: `${topic}-group`,
      maxBatchSize: 1000,
      maxBatchWaitMs: 100,
      commitIntervalMs: 200,
      logger: pino({ level: 'warn' }),
    });
    const reader = new RedisSpeedViewReader({ redis, prefix, topic, admin, catalog });
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

    const range = { from: 0, to: Date.now() + 86_400_000 };
    const served = await reader.readPartials('endpoint_hourly@v1', range, {});
    expect(served.length).toBeGreaterThan(50);
    expect(canonicalRows(served)).toEqual(canonicalRows(truthRows(v1, stream.accepted)));
    const building = await reader.readPartials('endpoint_hourly', range, {});
    expect(canonicalRows(building)).toEqual(
      canonicalRows(truthRows(catalog.view('endpoint_hourly'), stream.accepted)),
    );
    // The two differ (POST requests count only in v1), so neither was written into the other.
    expect(canonicalRows(building)).not.toEqual(canonicalRows(served));
  });
});

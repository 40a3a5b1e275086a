// `tandem dlq` on the real stack, over a DLQ topic written here the way the speed layer writes it
// (one source message dead-lettered twice, as a replayed speed batch does): each source message is
// listed once, `list` keeps the newest --limit, `replay` re-injects the oldest first and never the
// same letter twice, and what a read remembers to list each message once is bounded.
import { loadConfig, webStreamOn } from '@tandem/core';
import { deadLetterHeaders } from '@tandem/speed';
import type { Redis } from 'ioredis';
import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeadLetter, forEachDeadLetterPage, replayedKey } from '../../src/commands/dlq.ts';
import { readTopicSnapshot } from '../../src/wiring/topic-reader.ts';
import { createTopics, deleteTopics, topicWithSideTopics } from '@tandem/test-support/kafka.ts';
import { deletePrefix } from '@tandem/test-support/redis.ts';
import { connectRedis, kafkaBrokers, kafkaClient, redisUrl, uniqueName } from '@tandem/test-support/stack.ts';
import { runTandem } from '../support/run-cli.ts';

const topic = uniqueName('dlq');
const prefix = uniqueName('dlq');
const env = {
  KAFKA_BROKERS: kafkaBrokers.join(','),
  REDIS_URL: redisUrl,
  REDIS_PREFIX: prefix,
  TANDEM_TOPIC: topic,
};
const config = loadConfig(env);
const stream = webStreamOn({ topic, dlqTopic: `${topic}.dlq`, lateTopic: `${topic}.late` });
let kafka: Kafka;
let admin: Admin;
let redis: Redis;

/** Source offset → [error code, original bytes]; routed one second apart, in offset order. */
const letters: Array<[string, string]> = [
  ['TANDEM_ERR_EVENT_TOO_LARGE', 'x'.repeat(40)],
  ['TANDEM_ERR_EVENT_TOO_LARGE', 'y'.repeat(41)],
  ['TANDEM_ERR_EVENT_TOO_LARGE', 'z'.repeat(42)],
  ['TANDEM_ERR_EVENT_INVALID_JSON', '{"a":'],
  ['TANDEM_ERR_EVENT_INVALID_JSON', '{"b":'],
  ['TANDEM_ERR_EVENT_TOO_LARGE', 'w'.repeat(43)],
];
const sourceKey = (offset: number) => `${topic}:0:${offset}`;

function deadLetter(offset: number) {
  const [code, value] = letters[offset]!;
  return {
    key: sourceKey(offset),
    value,
    headers: {
      [deadLetterHeaders.sourceTopic]: topic,
      [deadLetterHeaders.sourcePartition]: '0',
      [deadLetterHeaders.sourceOffset]: String(offset),
      [deadLetterHeaders.sourceKey]: `k${offset}`,
      [deadLetterHeaders.errorCode]: code,
      [deadLetterHeaders.errorMessage]: 'test',
      [deadLetterHeaders.errorRule]: code.endsWith('TOO_LARGE') ? 'size' : 'json',
      [deadLetterHeaders.routedAt]: new Date(Date.UTC(2026, 0, 1, 0, 0, offset)).toISOString(),
    },
  };
}

beforeAll(async () => {
  kafka = kafkaClient('tandem-cli-dlq-test');
  admin = kafka.admin();
  await admin.connect();
  redis = connectRedis();
  await createTopics(admin, [topic, `${topic}.dlq`], 1);
  const producer = kafka.producer();
  await producer.connect();
  // offset 1 is dead-lettered twice, as a speed batch replayed after a crash does
  await producer.send({ topic: `${topic}.dlq`, acks: -1, messages: [0, 1, 2, 1, 3, 4, 5].map(deadLetter) });
  await producer.disconnect();
});

afterAll(async () => {
  await deleteTopics(admin, topicWithSideTopics(topic));
  await admin.disconnect();
  await deletePrefix(redis, prefix);
  await redis.quit();
});

interface ListJson {
  total: number;
  matching: number;
  byCode: Record<string, number>;
  deadLetters: Array<{ sourceKey: string; replayed: boolean }>;
}

async function json<T>(argv: string[]): Promise<T> {
  const run = await runTandem([...argv, '--json'], env);
  expect(run.code, run.err).toBe(0);
  return JSON.parse(run.out) as T;
}

describe('tandem dlq', () => {
  it('lists each source message once and keeps only the newest --limit', async () => {
    const list = await json<ListJson>(['dlq', 'list', '--limit', '2']);
    expect(list).toMatchObject({
      total: 6,
      matching: 6,
      byCode: { TANDEM_ERR_EVENT_TOO_LARGE: 4, TANDEM_ERR_EVENT_INVALID_JSON: 2 },
    });
    expect(list.deadLetters.map((l) => l.sourceKey)).toEqual([sourceKey(4), sourceKey(5)]);
    const shown = await json<{ valueBase64: string }>(['dlq', 'show', sourceKey(3)]);
    expect(Buffer.from(shown.valueBase64, 'base64').toString()).toBe('{"a":');
  });

  it('replays the oldest first, each letter once, and records what it replayed', async () => {
    const dry = await json<{ wouldReplay: number }>(['dlq', 'replay', '--code', 'TOO_LARGE', '--dry-run']);
    expect(dry.wouldReplay).toBe(4);
    const first = await json<{ replayed: number; selected: number }>([
      'dlq',
      'replay',
      '--code',
      'TOO_LARGE',
      '--limit',
      '2',
    ]);
    expect(first).toMatchObject({ replayed: 2, selected: 2 });
    expect(Object.keys(await redis.hgetall(replayedKey(config, `${topic}.dlq`))).sort()).toEqual([
      sourceKey(0),
      sourceKey(1),
    ]);
    const listed = await json<ListJson>(['dlq', 'list', '--all', '--limit', '100']);
    expect(listed.deadLetters.map((l) => [l.sourceKey, l.replayed])).toEqual(
      [0, 1, 2, 3, 4, 5].map((offset) => [sourceKey(offset), offset < 2]),
    );
    // the rest, then nothing: no letter goes out twice, not even offset 1, which is in the DLQ twice
    expect((await json<{ replayed: number }>(['dlq', 'replay'])).replayed).toBe(4);
    expect((await json<{ replayed: number }>(['dlq', 'replay'])).replayed).toBe(0);
    const reinjected = await readTopicSnapshot(kafka, topic);
    expect(reinjected.map((m) => m.headers[deadLetterHeaders.replayedSource])).toEqual(
      [0, 1, 2, 3, 4, 5].map(sourceKey),
    );
    expect(reinjected.map((m) => m.value?.toString())).toEqual(letters.map(([, value]) => value));
    expect(reinjected.map((m) => m.key?.toString())).toEqual(letters.map((_, offset) => `k${offset}`));
  });

  it('remembers a bounded window of keys: a copy farther from its first is handed over again', async () => {
    const read = async (dedupWindow: number) => {
      const keys: string[] = [];
      await forEachDeadLetterPage(
        kafka,
        redis,
        config,
        stream,
        new AbortController().signal,
        async (page: DeadLetter[]) => {
          for (const letter of page) keys.push(letter.sourceKey);
        },
        { dedupWindow },
      );
      return keys;
    };
    // the DLQ holds 0 1 2 1 3 4 5: with room for two keys, the copy of 1 comes after 2 and is caught
    expect(await read(2)).toEqual([0, 1, 2, 3, 4, 5].map(sourceKey));
    // with room for one, 2 has pushed 1 out before its copy arrives
    expect(await read(1)).toEqual([0, 1, 2, 1, 3, 4, 5].map(sourceKey));
  });
});

// A micro-batch that Redis cannot apply does not hold its partition forever: the refused batch goes
// to the DLQ with the reason (TANDEM_ERR_SPEED_APPLY_REFUSED), its offsets are applied as dead
// letters, and the partition moves on. On the real stack, with both ways a batch is refused: Redis
// answering INVALID (a stored sum would leave the range of a double) and the worker refusing a
// batch whose own fold overflowed to Infinity before sending it.
import { resolveCatalog, type StreamEvent } from '@tandem/core';
import type { Redis } from 'ioredis';
import type { Admin, Kafka } from 'kafkajs';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterHeaders } from '../src/dead-letters.ts';
import { createSpeedMetrics } from '../src/metrics.ts';
import { RedisSpeedViewReader } from '../src/speed-view-reader.ts';
import { startSpeedWorker } from '../src/speed-worker.ts';
import { createTopics, deleteTopics, topicWithSideTopics } from '@tandem/test-support/kafka.ts';
import { deletePrefix } from '@tandem/test-support/redis.ts';
import { connectRedis, kafkaClient, uniqueName } from '@tandem/test-support/stack.ts';
import { readTopic } from './support/kafka-topics.ts';
import { canonicalRows, truthRows } from './support/truth.ts';

const topic = uniqueName('refused');
const prefix = uniqueName('refused');
let kafka: Kafka;
let admin: Admin;
let redis: Redis;

// `value` has no maximum, so sums of valid readings can leave the range of a double
const catalog = resolveCatalog(
  {
    streams: [
      {
        name: 'meter',
        topic,
        schema: {
          type: 'object',
          properties: {
            reading_id: { type: 'string', minLength: 1 },
            ts: { type: 'integer' },
            meter: { type: 'string', minLength: 1 },
            value: { type: 'number' },
          },
          required: ['reading_id', 'ts', 'meter', 'value'],
        },
        time: { field: 'ts', encoding: 'epoch_ms' },
        idField: 'reading_id',
      },
    ],
    views: [
      {
        name: 'meter_minutely',
        stream: 'meter',
        bucket: '1m',
        dimensions: ['meter'],
        measures: {
          readings: { kind: 'count' },
          total: { kind: 'sum', field: 'value' },
          peak: { kind: 'max', field: 'value' },
        },
      },
    ],
  },
  'refused test config',
);
const view = catalog.view('meter_minutely');

beforeAll(async () => {
  kafka = kafkaClient('tandem-speed-refused-test');
  admin = kafka.admin();
  await admin.connect();
  redis = connectRedis();
  await createTopics(admin, [topic], 1);
});

afterAll(async () => {
  await deleteTopics(admin, topicWithSideTopics(topic));
  await admin.disconnect();
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('a micro-batch Redis refuses', () => {
  it('is dead-lettered with its reason, and the partition moves on', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    const registry = new Registry();
    const worker = await startSpeedWorker({
      kafka,
      redis,
      catalog,
      stream: catalog.stream('meter'),
      prefix,
      groupId: uniqueName('refused-group'),
      maxBatchWaitMs: 100,
      commitIntervalMs: 100,
      sessionTimeoutMs: 6000,
      heartbeatIntervalMs: 500,
      metrics: createSpeedMetrics(registry),
      logger,
    });
    const reader = new RedisSpeedViewReader({ redis, prefix, catalog });
    const start = Date.now() - 120_000;
    const reading = (n: number, meter: string, value: number): StreamEvent => ({
      reading_id: `r${n}`,
      ts: start + n * 1000,
      meter,
      value,
    });
    const producer = kafka.producer();
    await producer.connect();
    // offsets follow the readings' numbers: one partition, produced in order
    const produced: StreamEvent[] = [];
    // one send is one record batch: the worker folds it as one micro-batch
    const send = (events: StreamEvent[]) => {
      produced.push(...events);
      return producer.send({
        topic,
        acks: -1,
        messages: events.map((event) => ({ key: String(event.meter), value: JSON.stringify(event) })),
      });
    };
    const appliedThrough = async (offset: number) => {
      for (let waited = 0; waited < 60_000; waited += 100) {
        const status = await reader.status('meter');
        if (Number(status.partitions[0]?.appliedOffset ?? -1) >= offset) return status;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`offset ${offset} was not applied within 60 s`);
    };
    try {
      const applied: StreamEvent[] = [];
      const first = [reading(0, 'a', 1e308), reading(1, 'b', 5)];
      await send(first);
      applied.push(...first);
      await appliedThrough(1);

      // Redis refuses: meter a's stored total 1e308 + 1e308 leaves the range of a double
      await send([reading(2, 'a', 1e308)]);
      await appliedThrough(2);
      // the worker refuses before sending: meter c's total overflows in the fold itself
      await send([reading(3, 'c', 1.5e308), reading(4, 'c', 1.5e308), reading(5, 'd', 7)]);
      await appliedThrough(5);
      // and the partition goes on applying
      const last = [reading(6, 'a', 2), reading(7, 'd', 3)];
      await send(last);
      applied.push(...last);
      const status = await appliedThrough(7);

      expect(status).toMatchObject({ eventsApplied: 4, dlqCount: 4, lateCount: 0, duplicateCount: 0 });
      const rows = await reader.readPartials(view.name, { from: start - 60_000, to: Date.now() }, {});
      expect(canonicalRows(rows)).toEqual(canonicalRows(truthRows(view, applied)));

      const letters = await readTopic(kafka, admin, `${topic}.dlq`);
      const header = (message: (typeof letters)[number], name: string) => message.headers?.[name]?.toString();
      expect(letters.map((m) => m.key?.toString()).sort()).toEqual(
        [2, 3, 4, 5].map((offset) => `${topic}:0:${offset}`),
      );
      for (const letter of letters) {
        const offset = Number(header(letter, deadLetterHeaders.sourceOffset));
        expect(letter.value?.toString()).toBe(JSON.stringify(produced[offset]));
        expect(header(letter, deadLetterHeaders.errorCode)).toBe('TANDEM_ERR_SPEED_APPLY_REFUSED');
        expect(header(letter, deadLetterHeaders.errorRule)).toBe('apply');
        expect(header(letter, deadLetterHeaders.errorMessage)).toContain(
          offset === 2 ? 'leaves the range of a double' : 'non-finite delta Infinity',
        );
        expect(header(letter, deadLetterHeaders.errorMessage)).toContain(
          'tandem dlq replay --code SPEED_APPLY_REFUSED',
        );
      }
      const refusals = logs.filter((line) => line.code === 'TANDEM_ERR_SPEED_APPLY_REFUSED');
      expect(refusals.map((line) => [line.firstOffset, line.lastOffset, line.deadLettered])).toEqual([
        ['2', '2', 1],
        ['3', '5', 3],
      ]);
      const rejected = await registry.getSingleMetric('tandem_speed_rejected_batches_total')!.get();
      expect(rejected.values.find((v) => v.labels.reason === 'refused')?.value).toBe(2);
    } finally {
      await producer.disconnect();
      await worker.stop();
    }
  });
});

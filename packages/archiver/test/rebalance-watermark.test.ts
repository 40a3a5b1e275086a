// A rebalance must not let a watermark pass events that Kafka is about to re-deliver. Archiver A
// consumes the whole topic into open segments (nothing uploaded yet), then a second archiver joins
// the group: A keeps one partition, and Kafka re-delivers it from the last commit — which is
// nothing. A watermark written then may only cover events that are in the lake, so none at all:
// every event of the partition is still to be re-read. The old rule kept the newest event time
// seen before the rewind and wrote a watermark past every event, and batch then sealed hours
// whose files did not exist yet (found by the topology test: an hour published with half of its
// partitions, then again).
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, it } from 'vitest';
import { kafkaBrokers } from '@tandem/test-support/stack.ts';
import { type Archiver, createArchiver } from '../src/index.ts';
import {
  compareWithTruth,
  generateStream,
  openArchiverTestStack,
  produce,
  readLake,
  waitForCommitted,
} from './support/archiver-world.ts';

const PARTITIONS = 2;
const VALID = 4_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('archiver watermark across a rebalance', () => {
  it('never covers events that Kafka re-delivers after a rebalance', { timeout: 120_000 }, async ({
    expect,
    onTestFinished,
  }) => {
    const { lake, kafka, admin, topic } = await openArchiverTestStack('file', PARTITIONS, onTestFinished);
    const stream = generateStream({ valid: VALID, partitions: PARTITIONS, hours: 2, jitterMs: 60_000 });
    const placed = await produce(kafka, topic, stream.messages);
    const byPartition = Array.from({ length: PARTITIONS }, (_, partition) =>
      placed.filter((message) => message.partition === partition && message.event !== null),
    );

    // Every watermark, when written, must be true: each event at or before it lies below the
    // offset written alongside it, so it is in the lake.
    const violations: string[] = [];
    const watermarks: string[] = [];
    const groupId = `test-${randomUUID()}`;
    const archiverOf = (name: string): Archiver => {
      const archiver = createArchiver({
        kafka: { brokers: kafkaBrokers },
        lake: lake.store,
        topic,
        groupId,
        // Nothing closes on its own while the test looks: segments stay open until stop().
        maxSegmentRecords: 1_000_000,
        maxWaitMs: 600_000,
        outOfOrdernessMs: 120_000,
        watermarkIntervalMs: 50,
        tickIntervalMs: 50,
        offsetsIntervalMs: 200,
        signals: [],
        registry: new Registry(),
        logger: pino({ level: 'warn' }),
        onWatermark: (watermark) => {
          watermarks.push(`${name} p${watermark.partition} ${watermark.watermark} @${watermark.offset}`);
          const below = BigInt(watermark.offset);
          const uncovered = byPartition[watermark.partition]!.find(
            (message) => message.event!.timestamp <= watermark.watermark && message.offset >= below,
          );
          if (uncovered !== undefined)
            violations.push(
              `${name}: p${watermark.partition} watermark ${new Date(watermark.watermark).toISOString()} covers offset ${uncovered.offset}, but only offsets below ${below} are in the lake`,
            );
        },
      });
      onTestFinished(async () => {
        await archiver.stop();
        await archiver.stopped;
      });
      return archiver;
    };

    const first = archiverOf('A');
    await first.start();
    // A has consumed every message into its open segments.
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((end) => [end.partition, end.high]));
    const consumedAll = () =>
      first.status().partitions.length === PARTITIONS &&
      first.status().partitions.every((p) => p.position === ends.get(p.partition) && p.bufferedMessages > 0);
    for (const deadline = Date.now() + 60_000; !consumedAll(); await sleep(100)) {
      if (Date.now() > deadline)
        throw new Error(`A did not consume the topic: ${JSON.stringify(first.status())}`);
    }

    const second = archiverOf('B');
    await second.start();
    const split = () => first.status().partitions.length === 1 && second.status().partitions.length === 1;
    for (const deadline = Date.now() + 60_000; !split(); await sleep(100)) {
      if (Date.now() > deadline) throw new Error('the group did not split the partitions between A and B');
    }
    // Many ticks of both archivers, while the re-delivered messages sit in open segments again.
    await sleep(2_000);
    expect(violations).toEqual([]);
    expect(first.status().partitions.every((p) => p.bufferedMessages > 0)).toBe(true);

    // Stopping flushes: everything is archived once, and the last watermarks are true as well.
    await Promise.all([first.stop(), second.stop()]);
    await waitForCommitted(admin, groupId, topic, 30_000);
    const comparison = compareWithTruth(await readLake(lake.store), stream.truth);
    expect(comparison.missing).toEqual([]);
    expect(comparison.duplicates).toBe(0);
    expect(violations).toEqual([]);
    expect(watermarks.length).toBeGreaterThan(0);
  });
});

// The archiver on the real stack: 100k out-of-order events over five hours land exactly once in
// their event-time hours, on a file:// and an s3:// lake; invalid messages are counted and skipped;
// every watermark it publishes is true at the moment it is written.
import { randomUUID } from 'node:crypto';
import { HOUR_MS, isTandemError, MINUTE_MS, webStream } from '@tandem/core';
import { listArchiverWatermarks } from '@tandem/lake';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, it } from 'vitest';
import { createTestLake, type LakeKind } from '@tandem/test-support/lake.ts';
import { kafkaBrokers } from '@tandem/test-support/stack.ts';
import { createArchiver } from '../src/index.ts';
import {
  batchAgainstTruth,
  compareWithTruth,
  generateStream,
  openArchiverTestStack,
  produce,
  readLake,
  waitForCommitted,
} from './support/archiver-world.ts';

const PARTITIONS = 3;
const JITTER_MS = 10 * MINUTE_MS;

async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((entry) => entry.name === name);
  const values = (metric?.values ?? []) as Array<{ value: number; labels: Record<string, string | number> }>;
  return values
    .filter((entry) => Object.entries(labels).every(([key, value]) => String(entry.labels[key]) === value))
    .reduce((sum, entry) => sum + entry.value, 0);
}

describe.concurrent('archiver', () => {
  it.concurrent.for<LakeKind>(['file', 's3'])(
    'archives 100k out-of-order events over 5 hours into their event-time hours, exactly once (%s lake)',
    { timeout: 150_000 },
    async (kind, { expect, onTestFinished }) => {
      const { lake, kafka, admin, topic } = await openArchiverTestStack(kind, PARTITIONS, onTestFinished);

      const stream = generateStream({
        valid: 100_000,
        partitions: PARTITIONS,
        jitterMs: JITTER_MS,
        invalidEvery: 200,
      });
      const placed = await produce(kafka, topic, stream.messages);
      const offsetOf = new Map(placed.filter((m) => m.event).map((m) => [m.event!.event_id, m]));
      const partitionEvents = Array.from({ length: PARTITIONS }, (_, partition) =>
        placed.filter((message) => message.partition === partition && message.event !== null),
      );

      // Every watermark, when written, must be true: each event of that partition at or before it
      // has an offset below the committed offset written alongside it (so it is in the lake).
      const violations: string[] = [];
      let watermarkWrites = 0;
      const groupId = `test-${randomUUID()}`;
      const registry = new Registry();
      const archiver = createArchiver({
        kafka: { brokers: kafkaBrokers },
        lake: lake.store,
        topic,
        groupId,
        maxSegmentRecords: 5_000,
        maxWaitMs: 1_000,
        // Production order bounds the disorder within a partition by twice the jitter.
        outOfOrdernessMs: 2 * JITTER_MS,
        watermarkIntervalMs: 100,
        tickIntervalMs: 100,
        offsetsIntervalMs: 300,
        signals: [],
        registry,
        logger: pino({ level: 'warn' }),
        onWatermark: (watermark) => {
          watermarkWrites++;
          const committed = BigInt(watermark.offset);
          for (const message of partitionEvents[watermark.partition]!) {
            if (message.event!.timestamp <= watermark.watermark && message.offset >= committed) {
              violations.push(
                `${watermark.partition}: ${message.event!.event_id} at offset ${message.offset} ≥ ${committed}`,
              );
              break;
            }
          }
        },
      });
      await archiver.start();
      await waitForCommitted(admin, groupId, topic, 90_000);
      await archiver.stop();
      await archiver.stopped;

      const files = await readLake(lake.store);
      const comparison = compareWithTruth(files, stream.truth);
      expect(comparison.missing).toEqual([]);
      expect(comparison.duplicates).toBe(0);
      expect(comparison.altered).toEqual([]);
      expect(comparison.unknown).toEqual([]);
      expect(comparison.misplaced).toEqual([]);
      expect(files.reduce((sum, file) => sum + file.events.length, 0)).toBe(100_000);
      // All five hours were written, nothing outside them.
      expect([...new Set(files.map((file) => file.hour))].sort((a, b) => a - b)).toEqual(
        Array.from({ length: 5 }, (_, index) => stream.firstHour + index * HOUR_MS),
      );
      // Each file holds one partition's events in offset order, named by its first offset.
      for (const file of files) {
        expect(file.topic).toBe(topic);
        const offsets = file.events.map((event) => offsetOf.get(event.event_id)!);
        expect(offsets.every((message) => message.partition === file.partition)).toBe(true);
        expect(offsets[0]!.offset.toString()).toBe(file.firstOffset);
        expect(
          offsets.every((message, index) => index === 0 || message.offset > offsets[index - 1]!.offset),
        ).toBe(true);
        // Its manifest describes exactly these bytes and lines, under the web stream's rules.
        expect(file.manifest).toEqual({
          version: 1,
          key: file.key,
          lines: file.events.length,
          bytes: file.bytes,
          sha256: file.sha256,
          validator: webStream.fingerprint,
          maxEventBytes: 65_536,
        });
      }

      // The batch layer over the archived hours equals the truth.
      const batch = await batchAgainstTruth(
        lake.store,
        topic,
        stream.truth.values(),
        stream.firstHour,
        stream.hours,
      );
      expect(batch.failedHours).toEqual([]);
      expect(batch.mismatches).toEqual([]);
      expect(batch.cells).toBe(stream.hours * 4);

      expect(violations).toEqual([]);
      expect(watermarkWrites).toBeGreaterThan(PARTITIONS);
      const watermarks = await listArchiverWatermarks(lake.store, topic);
      const ends = await admin.fetchTopicOffsets(topic);
      expect(watermarks.map((entry) => entry.partition)).toEqual([0, 1, 2]);
      for (const watermark of watermarks) {
        // Caught up and idle: the watermark passed every event of the partition.
        const newest = Math.max(
          ...partitionEvents[watermark.partition]!.map((message) => message.event!.timestamp),
        );
        expect(watermark.watermark).toBeGreaterThanOrEqual(newest);
        expect(watermark.offset).toBe(ends.find((end) => end.partition === watermark.partition)!.high);
      }

      expect(await metricValue(registry, 'tandem_archiver_events_total', { outcome: 'archived' })).toBe(
        100_000,
      );
      expect(await metricValue(registry, 'tandem_archiver_events_total', { outcome: 'invalid' })).toBe(
        stream.invalid,
      );
      expect(await metricValue(registry, 'tandem_archiver_files_total', { topic })).toBe(files.length);
      expect(await metricValue(registry, 'tandem_archiver_lag_messages', { topic })).toBe(0);
      expect(archiver.status()).toMatchObject({
        eventsArchived: 100_000,
        eventsInvalid: stream.invalid,
        running: false,
      });
    },
  );

  it('reports an unreachable Kafka as unavailable', async ({ expect }) => {
    const lake = await createTestLake('file');
    const archiver = createArchiver({
      kafka: new Kafka({
        brokers: ['127.0.0.1:9'],
        logLevel: logLevel.NOTHING,
        retry: { retries: 0 },
        connectionTimeout: 500,
      }),
      lake: lake.store,
      signals: [],
      logger: pino({ level: 'silent' }),
    });
    const error = await archiver.start().catch((caught: unknown) => caught);
    expect(isTandemError(error, 'TANDEM_ERR_SERVICE_UNAVAILABLE')).toBe(true);
    await expect(archiver.stopped).rejects.toBe(error);
    await lake.teardown();
  });

  it('validates its options once, naming the option', ({ expect }) => {
    expect(() =>
      createArchiver({ kafka: { brokers: ['localhost:9092'] }, lake: 'file:///tmp/x', maxSegmentRecords: 0 }),
    ).toThrow('archiver option maxSegmentRecords=0 is not valid; expected an integer ≥ 1');
    expect(() => createArchiver({ kafka: { brokers: ['localhost:9092'] }, lake: 'ftp://x' })).toThrow(
      'LAKE_URL "ftp://x" is not supported; use s3://bucket/prefix or file:///dir',
    );
  });
});

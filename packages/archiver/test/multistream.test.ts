// Two streams archived side by side in one process into one lake (file:// and s3://): the web
// stream under logs/ as always, an IoT stream under streams/iot/logs/. Every valid reading lands
// exactly once in its event-time hour as JSON.stringify of its normalized form (fields in
// declaration order, defaults filled in — computed by hand in iot.ts, not by core), poison is
// counted exactly and written nowhere, and each stream's manifests and watermarks lie under its
// own prefix and name its own validator fingerprint.
import { randomUUID } from 'node:crypto';
import { HOUR_MS, MINUTE_MS, webStream, webStreamOn } from '@tandem/core';
import { listAll, listArchiverWatermarks } from '@tandem/lake';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, it } from 'vitest';
import { createTopics, deleteTopics } from '@tandem/test-support/kafka.ts';
import type { LakeKind } from '@tandem/test-support/lake.ts';
import { kafkaBrokers, uniqueName } from '@tandem/test-support/stack.ts';
import { archiverGroupId, createArchiver, createArchivers } from '../src/index.ts';
import {
  compareWithTruth,
  generateStream,
  openArchiverTestStack,
  produce,
  readLake,
  readLakeLines,
  waitForCommitted,
} from './support/archiver-world.ts';
import { generateIotStream, iotLine, iotStream } from './iot.ts';

const PARTITIONS = 3;
const JITTER_MS = 5 * MINUTE_MS;
const IOT_PREFIX = 'streams/iot/logs';

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

describe.concurrent('archiver, several streams', () => {
  it.concurrent.for<LakeKind>(['file', 's3'])(
    'archives an IoT stream beside the web stream into one lake, each under its own prefix (%s lake)',
    { timeout: 150_000 },
    async (kind, { expect, onTestFinished }) => {
      const {
        lake,
        kafka,
        admin,
        topic: webTopic,
      } = await openArchiverTestStack(kind, PARTITIONS, onTestFinished);
      const iotTopic = uniqueName('iot');
      await createTopics(admin, [iotTopic], PARTITIONS);
      onTestFinished(() => deleteTopics(admin, [iotTopic]));
      const web = webStreamOn({
        topic: webTopic,
        dlqTopic: `${webTopic}.dlq`,
        lateTopic: `${webTopic}.late`,
      });
      const iot = iotStream(iotTopic);
      expect(iot.lakePrefix).toBe(IOT_PREFIX);

      const webData = generateStream({
        valid: 20_000,
        partitions: PARTITIONS,
        hours: 3,
        jitterMs: JITTER_MS,
        invalidEvery: 250,
      });
      const iotData = generateIotStream({
        valid: 30_000,
        partitions: PARTITIONS,
        jitterMs: JITTER_MS,
        poisonEvery: 97,
      });
      const [, iotPlaced] = await Promise.all([
        produce(kafka, webTopic, webData.messages),
        produce(
          kafka,
          iotTopic,
          iotData.messages.map((message) => ({ ...message, event: null })),
        ),
      ]);

      const base = `test-${randomUUID()}`;
      const registry = new Registry();
      const archivers = createArchivers(
        {
          kafka: { brokers: kafkaBrokers },
          lake: lake.store,
          groupId: base,
          maxSegmentRecords: 4_000,
          maxWaitMs: 1_000,
          outOfOrdernessMs: 2 * JITTER_MS,
          watermarkIntervalMs: 100,
          tickIntervalMs: 100,
          offsetsIntervalMs: 300,
          signals: [],
          registry,
          logger: pino({ level: 'warn' }),
        },
        [web, iot],
      );
      const [webArchiver, iotArchiver] = archivers as [
        ReturnType<typeof createArchiver>,
        ReturnType<typeof createArchiver>,
      ];
      onTestFinished(async () => {
        await Promise.allSettled(archivers.map((archiver) => archiver.stop({ flush: false })));
      });
      // One consumer group per stream: the web stream keeps its rule (suffixed by a non-default topic).
      expect(webArchiver.options.groupId).toBe(`${base}.${webTopic}`);
      expect(iotArchiver.options.groupId).toBe(`${base}.iot`);
      await Promise.all(archivers.map((archiver) => archiver.start()));
      await Promise.all([
        waitForCommitted(admin, webArchiver.options.groupId, webTopic, 100_000),
        waitForCommitted(admin, iotArchiver.options.groupId, iotTopic, 100_000),
      ]);
      await Promise.all(archivers.map((archiver) => archiver.stop()));
      await Promise.all(archivers.map((archiver) => archiver.stopped));

      // Nothing outside the two streams' trees.
      const keys = (await listAll(lake.store, '')).map((info) => info.key);
      expect(keys.filter((key) => !key.startsWith('logs/') && !key.startsWith(`${IOT_PREFIX}/`))).toEqual([]);

      // The web stream: as before, under logs/, with the web fingerprint.
      const webFiles = await readLake(lake.store);
      const webComparison = compareWithTruth(webFiles, webData.truth);
      expect(webComparison).toEqual({ missing: [], duplicates: 0, altered: [], unknown: [], misplaced: [] });
      for (const file of webFiles) {
        expect(file.topic).toBe(webTopic);
        expect(file.manifest?.validator).toBe(webStream.fingerprint);
      }

      // The IoT stream: every reading once, in its hour, exactly its normalized line.
      const iotFiles = await readLakeLines(lake.store, IOT_PREFIX);
      expect(iotFiles.length).toBeGreaterThan(0);
      const offsetOf = new Map(
        iotPlaced.flatMap((message, index) => {
          const reading = iotData.messages[index]!.reading;
          return reading === null ? [] : [[reading.reading_id, message] as const];
        }),
      );
      const seen = new Map<string, number>();
      const problems: string[] = [];
      for (const file of iotFiles) {
        expect(file.key.startsWith(`${IOT_PREFIX}/dt=`)).toBe(true);
        expect(file.topic).toBe(iotTopic);
        let previousOffset = -1n;
        for (const [index, line] of file.lines.entries()) {
          const id = (JSON.parse(line) as { reading_id: string }).reading_id;
          seen.set(id, (seen.get(id) ?? 0) + 1);
          const reading = iotData.truth.get(id);
          if (reading === undefined) {
            problems.push(`unknown ${id} in ${file.key}`);
            continue;
          }
          if (line !== iotLine(reading)) problems.push(`${file.key}: ${line} ≠ ${iotLine(reading)}`);
          if (Math.floor(reading.ts / HOUR_MS) * HOUR_MS !== file.hour)
            problems.push(`${id} misplaced in ${file.key}`);
          const placed = offsetOf.get(id)!;
          if (placed.partition !== file.partition)
            problems.push(`${id} from partition ${placed.partition} in ${file.key}`);
          if (index === 0 && placed.offset.toString() !== file.firstOffset)
            problems.push(`${file.key} misnamed`);
          if (placed.offset <= previousOffset) problems.push(`${file.key} out of offset order`);
          previousOffset = placed.offset;
        }
        // Its manifest lies under the stream's prefix and names the stream's rules.
        expect(file.manifest).toEqual({
          version: 1,
          key: file.key,
          lines: file.lines.length,
          bytes: file.bytes,
          sha256: file.sha256,
          validator: iot.fingerprint,
          maxEventBytes: 65_536,
        });
      }
      expect(problems).toEqual([]);
      expect([...iotData.truth.keys()].filter((id) => !seen.has(id))).toEqual([]);
      expect([...seen.values()].filter((count) => count > 1)).toEqual([]);
      expect(iotFiles.reduce((sum, file) => sum + file.lines.length, 0)).toBe(30_000);
      expect([...new Set(iotFiles.map((file) => file.hour))].sort((a, b) => a - b)).toEqual(
        Array.from({ length: iotData.hours }, (_, index) => iotData.firstHour + index * HOUR_MS),
      );

      // Poison: counted exactly, per stream, and written nowhere.
      expect(iotData.poison).toBeGreaterThan(300);
      expect(iotArchiver.status()).toMatchObject({
        stream: 'iot',
        topic: iotTopic,
        eventsArchived: 30_000,
        eventsInvalid: iotData.poison,
      });
      expect(webArchiver.status()).toMatchObject({
        stream: 'events',
        eventsArchived: 20_000,
        eventsInvalid: webData.invalid,
      });
      const events = 'tandem_archiver_events_total';
      expect(await metricValue(registry, events, { topic: iotTopic, outcome: 'invalid' })).toBe(
        iotData.poison,
      );
      expect(await metricValue(registry, events, { topic: iotTopic, outcome: 'archived' })).toBe(30_000);
      expect(await metricValue(registry, events, { topic: webTopic, outcome: 'invalid' })).toBe(
        webData.invalid,
      );
      expect(await metricValue(registry, 'tandem_archiver_files_total', { topic: iotTopic })).toBe(
        iotFiles.length,
      );

      // Watermarks: each stream's under its own prefix, caught up to the end offsets.
      const ends = new Map((await admin.fetchTopicOffsets(iotTopic)).map((end) => [end.partition, end.high]));
      const iotWatermarks = await listArchiverWatermarks(lake.store, iotTopic, IOT_PREFIX);
      expect(iotWatermarks.map((entry) => [entry.partition, entry.offset])).toEqual(
        [0, 1, 2].map((partition) => [partition, ends.get(partition)]),
      );
      for (const watermark of iotWatermarks) {
        const newest = Math.max(
          ...iotData.messages
            .filter(
              (message, index) =>
                message.reading !== null && iotPlaced[index]!.partition === watermark.partition,
            )
            .map((message) => message.reading!.ts),
        );
        expect(watermark.watermark).toBeGreaterThanOrEqual(newest);
      }
      expect(await listArchiverWatermarks(lake.store, iotTopic)).toEqual([]);
      expect((await listArchiverWatermarks(lake.store, webTopic)).map((entry) => entry.partition)).toEqual([
        0, 1, 2,
      ]);
      expect(await listArchiverWatermarks(lake.store, webTopic, IOT_PREFIX)).toEqual([]);
    },
  );

  it('gives each stream a consumer group of its own, the web stream keeping today’s', ({ expect }) => {
    expect(archiverGroupId(webStream)).toBe('tandem-archiver');
    expect(
      archiverGroupId(webStreamOn({ topic: 'clicks', dlqTopic: 'clicks.dlq', lateTopic: 'clicks.late' })),
    ).toBe('tandem-archiver.clicks');
    expect(archiverGroupId(iotStream('iot-readings'))).toBe('tandem-archiver.iot');
    expect(archiverGroupId(iotStream('iot-readings'), 'acme')).toBe('acme.iot');
    const lake = 'file:///tmp/tandem-unused';
    const kafka = { brokers: ['localhost:9092'] };
    const defaults = createArchiver({ kafka, lake, signals: [] });
    expect([defaults.options.stream, defaults.options.topic, defaults.options.groupId]).toEqual([
      webStream,
      'events',
      'tandem-archiver',
    ]);
    const iot = createArchiver({ kafka, lake, stream: iotStream('iot-readings'), signals: [] });
    expect([iot.options.topic, iot.options.groupId]).toEqual(['iot-readings', 'tandem-archiver.iot']);
    expect(() => createArchivers({ kafka, lake }, [iotStream('a'), iotStream('b')])).toThrow(
      'two archived streams share the name "iot"; each stream needs its own',
    );
  });
});

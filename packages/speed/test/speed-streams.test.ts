// Several declared streams through the real workers on Kafka and Redis, in one process and one
// Redis prefix: the web stream, an IoT stream with an id field and one without. Each stream's
// views must equal a truth computed here from the readings that should be accepted (counts,
// averages, maxima and distinct devices checked value by value, and every view's cells against
// core's reducer applied once), duplicates dropped by id or by normalized content — also across a
// restart, where the dedup window is refilled from Kafka — late readings in that stream's late
// topic, poison in that stream's DLQ, and no key or consumer group shared between streams.
import {
  type Catalog,
  type ConfigViewSpec,
  finalizeStates,
  hllAdd,
  hllEstimate,
  type PartialRow,
  resolveCatalog,
  type StreamEvent,
  webStreamSpec,
  webViewSpecs,
} from '@tandem/core';
import type { Redis } from 'ioredis';
import type { Admin, Kafka } from 'kafkajs';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterHeaders } from '../src/dead-letters.ts';
import { speedKeys } from '../src/key-schema.ts';
import { createSpeedMetrics } from '../src/metrics.ts';
import { RedisSpeedViewReader } from '../src/speed-view-reader.ts';
import { SpeedWorkerGroup } from '../src/speed-workers.ts';
import { createTopics, deleteTopics, topicWithSideTopics } from '@tandem/test-support/kafka.ts';
import { deletePrefix } from '@tandem/test-support/redis.ts';
import { connectRedis, kafkaClient, uniqueName } from '@tandem/test-support/stack.ts';
import { generateStream } from './support/event-stream.ts';
import { generateIotStream, iotStreamSpec } from './support/iot-stream.ts';
import { produceStream, readTopic, waitUntilApplied } from './support/kafka-topics.ts';
import { canonicalRows, truthRows } from './support/truth.ts';

const prefix = uniqueName('streams');
const groupId = uniqueName('streams-group');
const webTopic = uniqueName('streams-web');
const iotTopic = uniqueName('streams-iot');
const noidTopic = uniqueName('streams-noid');
const partitions = { events: 3, iot: 4, iot_noid: 4 } as const;
const nowMs = Date.now();
const startMs = nowMs - 4 * 3_600_000;
let kafka: Kafka;
let admin: Admin;
let redis: Redis;

const siteMinutely = (name: string, stream: string): ConfigViewSpec => ({
  name,
  stream,
  bucket: '1m',
  dimensions: ['site'],
  measures: {
    readings: { kind: 'count' },
    avg_temperature_c: { kind: 'avg', field: 'temperature_c' },
    max_temperature_c: { kind: 'max', field: 'temperature_c' },
    devices: { kind: 'distinct', field: 'device' },
  },
});

const catalog: Catalog = resolveCatalog(
  {
    streams: [
      { ...webStreamSpec, topic: webTopic },
      iotStreamSpec('iot', iotTopic, true),
      iotStreamSpec('iot_noid', noidTopic, false),
    ],
    views: [
      ...webViewSpecs,
      siteMinutely('iot_site_minutely', 'iot'),
      {
        name: 'iot_device_sessions',
        stream: 'iot',
        bucket: '1h',
        sessionize: { by: 'device', gapMs: 5 * 60_000, page: 'site' },
        measures: {
          sessions: { kind: 'count' },
          avg_duration_ms: { kind: 'avg', field: 'duration_ms' },
          avg_readings: { kind: 'avg', field: 'events' },
        },
      },
      siteMinutely('noid_site_minutely', 'iot_noid'),
      {
        name: 'noid_device_5m',
        stream: 'iot_noid',
        bucket: '5m',
        dimensions: ['site', 'device'],
        measures: {
          readings: { kind: 'count' },
          min_temperature_c: { kind: 'min', field: 'temperature_c' },
          firmware_v2: { kind: 'count', where: { op: 'eq', field: 'firmware', value: 'v2' } },
        },
      },
    ],
  },
  'test config',
);

beforeAll(async () => {
  kafka = kafkaClient('tandem-speed-streams-test');
  admin = kafka.admin();
  await admin.connect();
  redis = connectRedis();
  await createTopics(admin, [webTopic], partitions.events);
  await createTopics(admin, [iotTopic, noidTopic], partitions.iot);
});

afterAll(async () => {
  for (const topic of [webTopic, iotTopic, noidTopic]) await deleteTopics(admin, topicWithSideTopics(topic));
  await admin.disconnect();
  await deletePrefix(redis, prefix);
  await redis.quit();
});

/** Minute × site figures computed directly from the accepted readings. */
function siteTruth(accepted: readonly StreamEvent[]) {
  const groups = new Map<string, { n: number; sum: number; max: number; devices: Set<string> }>();
  for (const event of accepted) {
    const minute = Math.floor((event.ts as number) / 60_000) * 60_000;
    const key = JSON.stringify([minute, event.site]);
    let group = groups.get(key);
    if (group === undefined) {
      group = { n: 0, sum: 0, max: Number.NEGATIVE_INFINITY, devices: new Set() };
      groups.set(key, group);
    }
    group.n++;
    group.sum += event.temperature_c as number;
    group.max = Math.max(group.max, event.temperature_c as number);
    group.devices.add(event.device as string);
  }
  return groups;
}

/** Checks a site_minutely view's rows against the direct truth, value by value. */
function expectSiteFigures(viewName: string, rows: PartialRow[], accepted: readonly StreamEvent[]): void {
  const view = catalog.view(viewName);
  const truth = siteTruth(accepted);
  expect(rows.length, viewName).toBe(truth.size);
  let distinctExact = 0;
  for (const row of rows) {
    const expected = truth.get(JSON.stringify([row.bucket, row.dims[0]]));
    expect(expected, `${viewName} ${row.bucket} ${row.dims[0]}`).toBeDefined();
    const values = finalizeStates(view, row.states);
    expect(values.readings).toBe(expected!.n);
    expect(values.avg_temperature_c).toBe(expected!.sum / expected!.n);
    expect(values.max_temperature_c).toBe(expected!.max);
    // the distinct state is exactly the registers of the distinct devices, however often each came
    let registers = {};
    for (const device of expected!.devices) registers = hllAdd(registers, device);
    expect(row.states.devices).toEqual(registers);
    if (Math.round(hllEstimate(row.states.devices!)) === expected!.devices.size) distinctExact++;
    expect(Math.abs((values.devices as number) - expected!.devices.size)).toBeLessThan(1);
  }
  expect(distinctExact).toBe(rows.length);
}

/** Source offsets, per kind, of a stream produced partition by partition in order. */
function positions(
  topic: string,
  messages: ReadonlyArray<{ partition: number; kind: string; value: Buffer }>,
) {
  const next = new Map<number, number>();
  const byKind = new Map<string, Map<string, Buffer>>();
  for (const message of messages) {
    const offset = next.get(message.partition) ?? 0;
    next.set(message.partition, offset + 1);
    let entries = byKind.get(message.kind);
    if (entries === undefined) {
      entries = new Map();
      byKind.set(message.kind, entries);
    }
    entries.set(`${topic}:${message.partition}:${offset}`, message.value);
  }
  return byKind;
}

async function expectRoutedAside(
  topic: string,
  suffix: 'dlq' | 'late',
  expected: Map<string, Buffer> | undefined,
): Promise<void> {
  const routed = await readTopic(kafka, admin, `${topic}.${suffix}`);
  const byKey = new Map(routed.map((message) => [message.key!.toString(), message]));
  expect(byKey.size, `${topic}.${suffix}`).toBe(expected?.size ?? 0);
  for (const [key, original] of expected ?? []) {
    const message = byKey.get(key);
    expect(message, key).toBeDefined();
    expect(Buffer.compare(message!.value ?? Buffer.alloc(0), original), key).toBe(0);
    expect(message!.headers?.[deadLetterHeaders.sourceTopic]?.toString()).toBe(topic);
    if (suffix === 'dlq') {
      expect(message!.headers?.[deadLetterHeaders.errorCode]?.toString()).toMatch(/^TANDEM_ERR_EVENT_/);
    }
  }
}

describe('SpeedWorkerGroup with several streams', () => {
  it('keeps an IoT stream (with and without an id field) exact beside the web stream, in one prefix', async () => {
    const web = generateStream({ count: 15_000, partitions: partitions.events, seed: 11, nowMs });
    const iot = generateIotStream({ withId: true, count: 20_000, seed: 3, startMs, nowMs });
    const noid = generateIotStream({ withId: false, count: 20_000, seed: 4, startMs, nowMs });
    for (const stream of [iot, noid]) {
      expect(stream.counts.duplicate).toBeGreaterThan(400);
      expect(stream.counts.late).toBeGreaterThan(30);
      expect(stream.counts.poison).toBeGreaterThan(150);
      expect(stream.nearDuplicates).toBeGreaterThan(200);
      expect(Object.values(stream.poisonByKind).every((n) => n > 10)).toBe(true);
    }

    const registry = new Registry();
    const metrics = createSpeedMetrics(registry);
    const logger = pino({ level: 'warn' });
    const groupOptions = {
      catalog,
      kafka,
      redis,
      prefix,
      groupId,
      maxBatchSize: 1500,
      maxBatchWaitMs: 100,
      dedupWindow: 5000,
      commitIntervalMs: 200,
      metrics,
      logger,
    };
    const reader = new RedisSpeedViewReader({ redis, prefix, catalog, admin });
    const appliedOf = (stream: string) => async () => {
      const status = await reader.status(stream);
      return new Map(status.partitions.map((p) => [p.partition, p.appliedOffset]));
    };
    const produceAll = async (from: number, to: number) => {
      const slice = <T>(messages: T[]) =>
        messages.slice(Math.floor(messages.length * from), Math.floor(messages.length * to));
      await Promise.all([
        produceStream(kafka, webTopic, slice(web.messages)),
        produceStream(kafka, iotTopic, slice(iot.messages)),
        produceStream(kafka, noidTopic, slice(noid.messages)),
      ]);
      await waitUntilApplied(admin, webTopic, appliedOf('events'));
      await waitUntilApplied(admin, iotTopic, appliedOf('iot'));
      await waitUntilApplied(admin, noidTopic, appliedOf('iot_noid'));
    };

    // First half, then a new group (new owners: each partition is claimed again and its dedup
    // window refilled from Kafka), then the rest: duplicates across the restart are still dropped.
    const first = new SpeedWorkerGroup(groupOptions);
    expect(first.workers.map((worker) => [worker.stream.name, worker.groupId])).toEqual([
      ['events', groupId],
      ['iot', `${groupId}.iot`],
      ['iot_noid', `${groupId}.iot_noid`],
    ]);
    await first.start();
    try {
      await produceAll(0, 0.5);
    } finally {
      await first.stop();
    }
    const second = new SpeedWorkerGroup(groupOptions);
    await second.start();
    try {
      await produceAll(0.5, 1);
    } finally {
      await second.stop();
    }

    const range = { from: 0, to: nowMs + 86_400_000 };
    const cases = [
      { stream: 'events', topic: webTopic, generated: web, open: web.sentinelUsers },
      { stream: 'iot', topic: iotTopic, generated: iot, open: iot.sentinelDevices },
      { stream: 'iot_noid', topic: noidTopic, generated: noid, open: noid.sentinelDevices },
    ];
    for (const { stream, topic, generated, open } of cases) {
      const status = await reader.status(stream);
      expect(status.stream).toBe(stream);
      expect(status.eventsApplied, stream).toBe(generated.accepted.length);
      expect(status.duplicateCount, stream).toBe(generated.counts.duplicate);
      expect(status.lateCount, stream).toBe(generated.counts.late);
      expect(status.dlqCount, stream).toBe(generated.counts.poison);
      expect(status.partitions.map((p) => p.partition)).toEqual(
        Array.from({ length: partitions[stream as keyof typeof partitions] }, (_, i) => i),
      );
      expect(status.partitions.map((p) => p.lag)).toEqual(status.partitions.map(() => 0));
      expect(status.watermark).not.toBeNull();

      for (const view of catalog.viewsOf(stream)) {
        const actual = await reader.readPartials(view.name, range, {});
        const expected = truthRows(view, generated.accepted, open);
        expect(actual.length, view.name).toBe(expected.length);
        expect(canonicalRows(actual), view.name).toEqual(canonicalRows(expected));
      }

      const sources = positions(
        topic,
        generated.messages as Array<{ partition: number; kind: string; value: Buffer }>,
      );
      await expectRoutedAside(topic, 'dlq', sources.get('poison'));
      await expectRoutedAside(topic, 'late', sources.get('late'));
    }
    expect((await reader.statuses()).map((status) => status.stream)).toEqual(['events', 'iot', 'iot_noid']);

    expectSiteFigures(
      'iot_site_minutely',
      await reader.readPartials('iot_site_minutely', range, {}),
      iot.accepted,
    );
    expectSiteFigures(
      'noid_site_minutely',
      await reader.readPartials('noid_site_minutely', range, {}),
      noid.accepted,
    );
    // the sessions view cut by `device`, a field the web stream does not have
    const sessions = await reader.readPartials('iot_device_sessions', range, {});
    const sessionCount = sessions.reduce((sum, row) => sum + (row.states.sessions!.n ?? 0), 0);
    expect(sessionCount).toBeGreaterThan(100);

    // filters on an IoT dimension
    const site0 = await reader.readPartials('noid_device_5m', range, { site: 'site-0' });
    expect(site0.length).toBeGreaterThan(0);
    expect(site0.every((row) => row.dims[0] === 'site-0')).toBe(true);

    // one prefix, three layouts: every key belongs to exactly one stream's partitions
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const owners = new Map<string, number>();
    for (const key of keys) {
      const matching = cases.filter(({ stream }) => {
        const layout = speedKeys(prefix, stream);
        if (key === layout.partitions()) return true;
        return Array.from({ length: partitions[stream as keyof typeof partitions] }, (_, p) =>
          layout.partitionPattern(p).slice(0, -1),
        ).some((start) => key.startsWith(start));
      });
      expect(matching.length, key).toBe(1);
      const stream = matching[0]!.stream;
      owners.set(stream, (owners.get(stream) ?? 0) + 1);
      const view = /:[vb]:([a-z0-9_]+):/.exec(key)?.[1];
      if (view !== undefined) expect(catalog.view(view).stream, key).toBe(stream);
    }
    expect([...owners.keys()].sort()).toEqual(['events', 'iot', 'iot_noid']);
    expect(await redis.exists(`${prefix}:speed:partitions`, `${prefix}:speed:iot:partitions`)).toBe(2);

    // each stream consumed in its own group
    for (const [stream, topic] of [
      ['events', webTopic],
      ['iot', iotTopic],
      ['iot_noid', noidTopic],
    ] as const) {
      const group = stream === 'events' ? groupId : `${groupId}.${stream}`;
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      expect(
        committed!.partitions.some((p) => Number(p.offset) > 0),
        group,
      ).toBe(true);
    }

    // shared metrics, one series per stream
    const events = await registry.getSingleMetric('tandem_speed_events_total')!.get();
    const byStream = (stream: string) =>
      Object.fromEntries(
        events.values.filter((v) => v.labels.stream === stream).map((v) => [v.labels.outcome, v.value]),
      );
    for (const { stream, generated } of cases) {
      expect(byStream(stream), stream).toEqual({
        applied: generated.accepted.length,
        duplicate: generated.counts.duplicate,
        late: generated.counts.late,
        dlq: generated.counts.poison,
      });
    }
  });
});

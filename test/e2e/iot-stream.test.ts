// Two streams in one deployment, through the built command on the real stack: a config file with
// the web stream and an IoT stream (examples/iot/tandem.config.ts, on this test's own topics, lake
// and Redis prefix). One `tandem speed` process runs a worker per stream, one `tandem archiver` an
// archiver per stream, `tandem serve` serves every view. IoT readings (with duplicates, disorder,
// late readings beyond the allowed lateness and 1% poison of every kind) and web traffic go to
// Kafka; the IoT answers over HTTP must equal a truth computed here with plain loops — count,
// average and maximum temperature, distinct devices, low-battery count — first from speed, then,
// once `tandem recompute` has sealed the past hours, from batch (late readings included; equal to
// speed where none were late). Each stream's DLQ and counters are exact, and `tandem replay
// --stream` rebuilds the IoT views alone.
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStreamTraffic, resolveStreamTrafficOptions, truthEvents } from '@tandem/cli';
import { HOUR_MS, hourStart, resolveCatalog, type Stream, webStreamSpec, webViewSpecs } from '@tandem/core';
import { listArchiverWatermarks, openObjectStore } from '@tandem/lake';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.ts';
import { eventually, World } from './cli/harness.ts';
import { differences, regenerate } from './cli/truth.ts';

const MINUTE = 60_000;
const PARTITIONS = 6;

interface SeriesBody {
  coverage: Array<{ bucket: string; source: string; runId: string | null }>;
  series: Array<{
    dims: Record<string, string>;
    points: Array<{ bucket: string; source: string; values: Record<string, number | null> }>;
  }>;
}

interface StreamStatus {
  stream: string;
  namespace: string;
  eventsApplied: number;
  lateCount: number;
  dlqCount: number;
  duplicateCount: number;
  error?: string;
}

interface StatusJson {
  namespace: string;
  views: Array<{ view: string; stream: string }>;
  streams: StreamStatus[];
}

interface VerifyJson {
  namespace: string;
  maxRelativeDrift: number | null;
  measures: Array<{ measure: string; batch: number | null; speed: number | null; drift: number | null }>;
}

/** A reading as the test builds it, and what the layers must make of it. */
interface Reading {
  reading_id: string;
  ts: number;
  site: string;
  device: string;
  temperature_c: number;
  /** Undefined: left out (the default false applies). */
  battery_low?: boolean;
  kind?: string;
  humidity?: number | null;
}

/** Per (minute, site): what the view must say. */
interface Cell {
  readings: number;
  sum: number;
  max: number;
  devices: Set<string>;
  lowBattery: number;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function truthOf(readings: Reading[]): Map<string, Cell> {
  const cells = new Map<string, Cell>();
  for (const r of readings) {
    const key = `${Math.floor(r.ts / MINUTE) * MINUTE}|${r.site}`;
    const cell = cells.get(key) ?? { readings: 0, sum: 0, max: -Infinity, devices: new Set(), lowBattery: 0 };
    cell.readings += 1;
    cell.sum += r.temperature_c;
    cell.max = Math.max(cell.max, r.temperature_c);
    cell.devices.add(r.device);
    if (r.battery_low === true) cell.lowBattery += 1;
    cells.set(key, cell);
  }
  return cells;
}

/** Every difference between the served points of [from, to) and the truth; empty when they agree. */
function compare(body: SeriesBody, truth: Map<string, Cell>, from: number, to: number): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const group of body.series) {
    for (const point of group.points) {
      const bucket = Date.parse(point.bucket);
      if (bucket < from || bucket >= to) continue;
      const key = `${bucket}|${group.dims.site}`;
      const cell = truth.get(key);
      const v = point.values;
      if (cell === undefined) {
        if ((v.readings ?? 0) !== 0) problems.push(`${key}: ${v.readings} readings, expected none`);
        continue;
      }
      seen.add(key);
      const expected = {
        readings: cell.readings,
        max_temperature_c: cell.max,
        devices: cell.devices.size,
        low_battery: cell.lowBattery,
      };
      for (const [name, value] of Object.entries(expected)) {
        if (v[name] !== value) problems.push(`${key} ${name}: ${v[name]} ≠ ${value}`);
      }
      const avg = cell.sum / cell.readings;
      if (
        v.avg_temperature_c === null ||
        Math.abs(v.avg_temperature_c! - avg) > 1e-9 * Math.abs(avg) + 1e-12
      ) {
        problems.push(`${key} avg_temperature_c: ${v.avg_temperature_c} ≠ ${avg}`);
      }
    }
  }
  for (const key of truth.keys()) {
    const bucket = Number(key.split('|')[0]);
    if (bucket >= from && bucket < to && !seen.has(key)) problems.push(`${key}: not served`);
  }
  return problems;
}

describe('a web stream and an IoT stream in one deployment', () => {
  let world: World;
  let baseUrl: string;
  let iot: Stream;
  let iotName: string;
  const now = Date.now();
  const currentHour = hourStart(now);
  const h1 = currentHour - 2 * HOUR_MS;
  const h2 = currentHour - HOUR_MS;
  const onTime: Reading[] = [];
  const late: Reading[] = [];
  let duplicates = 0;
  const poisonCodes: Record<string, number> = {};
  let poison = 0;
  let messages = 0;
  let webTruth: { valid: number; late: number; duplicates: number; bad: number; messages: number };
  let webSpeedEvents: number;
  const stops: Array<() => Promise<number | null>> = [];
  let speedSeries: SeriesBody;
  let configFile: string | undefined;

  async function series(view: string, from: number, to: number, granularity: string): Promise<SeriesBody> {
    const params = new URLSearchParams({
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      granularity,
    });
    const response = await fetch(`${baseUrl}/v1/views/${view}/series?${params}`);
    expect(response.status, await response.clone().text()).toBe(200);
    return (await response.json()) as SeriesBody;
  }

  async function status(): Promise<StatusJson> {
    const result = await world.run(['status', '--json']);
    return JSON.parse(result.stdout) as StatusJson;
  }

  const streamStatus = (s: StatusJson, name: string) => s.streams.find((entry) => entry.stream === name)!;

  beforeAll(async () => {
    const port = await freePort();
    world = new World({
      PORT: String(port),
      SPEED_OUT_OF_ORDERNESS_MS: '10000',
      SPEED_ALLOWED_LATENESS_MS: '20000',
      SPEED_SEALED_GRACE_MS: String(HOUR_MS),
    });
    baseUrl = `http://127.0.0.1:${port}`;
    // The IoT stream's name carries the test's id: its archiver's consumer group is named after the
    // stream (tandem-archiver.<stream>), and no other run may share it.
    iotName = `iot_${world.id}`;
    const iotTopic = `e2e-${world.id}-iot`;
    const config = {
      streams: [
        { ...webStreamSpec, topic: world.env.TANDEM_TOPIC },
        {
          name: iotName,
          topic: iotTopic,
          schema: {
            type: 'object',
            properties: {
              reading_id: { type: 'string', minLength: 1, maxLength: 64 },
              ts: { type: 'integer', description: 'epoch milliseconds' },
              site: { type: 'string', minLength: 1, maxLength: 64 },
              device: { type: 'string', minLength: 1, maxLength: 64 },
              kind: { type: 'string', enum: ['thermo', 'hygro', 'combo'], default: 'thermo' },
              temperature_c: { type: 'number', minimum: -90, maximum: 150 },
              humidity: { type: ['number', 'null'], minimum: 0, maximum: 100 },
              battery_low: { type: 'boolean', default: false },
            },
            required: ['reading_id', 'ts', 'site', 'device', 'temperature_c'],
          },
          time: { field: 'ts', encoding: 'epoch_ms' },
          idField: 'reading_id',
        },
      ],
      views: [
        ...webViewSpecs,
        {
          name: 'site_minutely',
          stream: iotName,
          bucket: '1m',
          dimensions: ['site'],
          measures: {
            readings: { kind: 'count' },
            avg_temperature_c: { kind: 'avg', field: 'temperature_c' },
            max_temperature_c: { kind: 'max', field: 'temperature_c' },
            temperature_c: { kind: 'quantiles', field: 'temperature_c', qs: [0.95] },
            devices: { kind: 'distinct', field: 'device' },
            low_battery: { kind: 'count', where: { op: 'eq', field: 'battery_low', value: true } },
          },
        },
      ],
    };
    configFile = join(tmpdir(), `tandem-e2e-${world.id}.config.json`);
    const file = configFile;
    writeFileSync(file, JSON.stringify(config, null, 2));
    world.env.TANDEM_CONFIG = file;
    iot = resolveCatalog(config, file).stream(iotName);

    // Web traffic over the same hours, through the command.
    const web = await world.json<{ options: Parameters<typeof regenerate>[0]; truth: typeof webTruth }>([
      'generate',
      '--to',
      'kafka',
      '--burst',
      '--start',
      String(h1),
      '--duration',
      `${Math.floor((now - MINUTE - h1) / 1000)}s`,
      '--rate',
      '0.3',
      '--late',
      '1%',
      '--duplicates',
      '2%',
      '--bad',
      '2%',
      '--seed',
      '5',
    ]);
    webTruth = web.truth;
    webSpeedEvents = truthEvents(regenerate(web.options), 'speed').filter(
      (e) => e.timestamp >= h1 && e.timestamp < currentHour,
    ).length;

    // IoT readings: every 2 s over both past hours, up to 6 s out of order, from 3 sites × 8
    // devices, keyed by device; byte-identical resends and re-serialized copies; late readings of
    // the first hour sent during the second; 1% poison of every kind the schema can break.
    const random = mulberry32(42);
    const sites = { berlin: 18, lima: 24, oslo: 6 } as Record<string, number>;
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const reading = (id: string, ts: number): Reading => {
      const site = pick(Object.keys(sites));
      const r: Reading = {
        reading_id: id,
        ts,
        site,
        device: `${site}-d${Math.floor(random() * 8)}`,
        temperature_c: Math.round((sites[site]! + (random() - 0.5) * 12) * 10) / 10,
      };
      const battery = random();
      if (battery < 0.15) r.battery_low = true;
      else if (battery < 0.6) r.battery_low = false;
      if (random() < 0.7) r.kind = pick(['thermo', 'hygro', 'combo']);
      const humidity = random();
      if (humidity < 0.1) r.humidity = null;
      else if (humidity < 0.7) r.humidity = Math.round(random() * 1000) / 10;
      return r;
    };
    const encode = (r: Reading, shuffled = false): Buffer => {
      const entries = Object.entries(r);
      if (shuffled) entries.reverse();
      return Buffer.from(JSON.stringify(Object.fromEntries(entries)));
    };
    const out: Array<{ key: string; value: Buffer }> = [];
    const lateFrom = h2 + 5 * MINUTE;
    for (let i = 0; i < 3590; i++) {
      const r = reading(`r-${i}`, h1 + 1000 + i * 2000 + Math.floor(random() * 6000));
      onTime.push(r);
      out.push({ key: r.device, value: encode(r) });
      if (random() < 0.02) {
        out.push({ key: r.device, value: encode(r) });
        duplicates += 1;
      }
      if (random() < 0.01) {
        out.push({ key: r.device, value: encode(r, true) });
        duplicates += 1;
      }
      // a reading of the first hour, at least 7 minutes behind its partition: late for speed
      if (r.ts >= lateFrom && late.length < 40 && random() < 0.05) {
        const l = reading(`late-${late.length}`, h1 + MINUTE + Math.floor(random() * 57 * MINUTE));
        late.push(l);
        out.push({ key: l.device, value: encode(l) });
      }
    }
    const poisonCount = Math.round(out.length / 99);
    const bad = generateStreamTraffic(
      iot,
      resolveStreamTrafficOptions({ seed: 9, start: h1, count: poisonCount, rate: 1, onlyBad: true }),
    );
    const poisonKinds = new Set<string>();
    let at = 0;
    const step = Math.floor(out.length / poisonCount);
    for (const record of bad) {
      at += step;
      out.splice(at, 0, { key: record.key, value: Buffer.from(record.value) });
      poisonCodes[record.bad!.code] = (poisonCodes[record.bad!.code] ?? 0) + 1;
      poisonKinds.add(record.bad!.kind);
      poison += 1;
    }
    messages = out.length;
    expect(late.length).toBe(40);
    expect(poisonKinds.size).toBeGreaterThan(10);

    const kafka = new Kafka({
      clientId: `e2e-${world.id}`,
      brokers: world.env.KAFKA_BROKERS!.split(','),
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [iot.topic, iot.dlqTopic, iot.lateTopic].map((topic) => ({ topic, numPartitions: PARTITIONS })),
    });
    await admin.disconnect();
    // Idempotent: a send retried after a timeout on a loaded machine must not write the batch twice,
    // or the topic holds more duplicates and dead letters than the truth says.
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    for (let i = 0; i < out.length; i += 500) {
      await producer.send({ topic: iot.topic, acks: -1, messages: out.slice(i, i + 500) });
    }
    await producer.disconnect();

    // One process per layer; speed and archiver each run both streams (flag repeated / comma list).
    for (const args of [
      ['speed', '--stream', 'events', '--stream', iotName],
      ['archiver', '--stream', `events,${iotName}`],
      ['serve'],
    ]) {
      const child = world.start(args);
      stops.push(() => child.stop());
    }
    await eventually(
      'the speed layer to consume both streams',
      async () => {
        const s = await status();
        const done = (entry: StreamStatus, total: number) =>
          entry.eventsApplied + entry.lateCount + entry.dlqCount + entry.duplicateCount >= total;
        return done(streamStatus(s, iotName), messages) && done(streamStatus(s, 'events'), webTruth.messages)
          ? true
          : undefined;
      },
      90_000,
    );
  }, 240_000);

  afterAll(async () => {
    const codes = await Promise.all(stops.map((stop) => stop()));
    const admin = new Kafka({
      brokers: world.env.KAFKA_BROKERS!.split(','),
      logLevel: logLevel.NOTHING,
    }).admin();
    try {
      await admin.connect();
      await admin.deleteTopics({ topics: [iot.topic, iot.dlqTopic, iot.lateTopic] });
    } catch {
      // topics of this test only; left behind they cost disk, not correctness
    } finally {
      await admin.disconnect();
    }
    await world?.cleanup();
    if (configFile) rmSync(configFile, { force: true });
    expect(codes.every((code) => code === 0)).toBe(true);
  });

  it('counts each stream exactly: applied, late, duplicates and dead letters, each DLQ on its own', async () => {
    const s = await status();
    expect(s.views.map((v) => [v.view, v.stream])).toEqual([
      ['endpoint_hourly', 'events'],
      ['sessions_hourly', 'events'],
      ['trending_pages', 'events'],
      ['site_minutely', iotName],
    ]);
    expect(streamStatus(s, iotName)).toMatchObject({
      eventsApplied: onTime.length,
      lateCount: late.length,
      duplicateCount: duplicates,
      dlqCount: poison,
    });
    expect(streamStatus(s, 'events')).toMatchObject({
      eventsApplied: webTruth.valid,
      lateCount: webTruth.late,
      duplicateCount: webTruth.duplicates,
      dlqCount: webTruth.bad,
    });
    const dlq = await world.json<{ topic: string; total: number; byCode: Record<string, number> }>([
      'dlq',
      'list',
      '--stream',
      iotName,
      '--limit',
      '100000',
    ]);
    expect(dlq.topic).toBe(iot.dlqTopic);
    expect(dlq.total).toBe(poison);
    expect(dlq.byCode).toEqual(poisonCodes);
    const webDlq = await world.json<{ total: number }>(['dlq', 'list', '--limit', '100000']);
    expect(webDlq.total).toBe(webTruth.bad);
  });

  it('serves the IoT views from speed, exact per minute and site; the web views alongside', async () => {
    speedSeries = await series('site_minutely', h1, currentHour, '1m');
    expect(new Set(speedSeries.coverage.map((c) => c.source))).toEqual(new Set(['speed']));
    expect(compare(speedSeries, truthOf(onTime), h1, currentHour)).toEqual([]);
    const web = await series('endpoint_hourly', h1, currentHour, 'all');
    const total = web.series.reduce((sum, group) => sum + (group.points[0]?.values.requests ?? 0), 0);
    expect(total).toBe(webSpeedEvents);
  });

  it('after sealing the past hours, serves them from batch: late readings included, equal to speed elsewhere', async () => {
    const lake = openObjectStore(world.config.lake);
    await eventually(
      'the archiver to archive both past hours of the IoT stream',
      async () => {
        const marks = await listArchiverWatermarks(lake, iot.topic, iot.lakePrefix);
        return marks.length === PARTITIONS && marks.every((m) => m.watermark >= currentHour)
          ? true
          : undefined;
      },
      150_000,
      1_000,
    );
    await lake.close();
    const sealed = await world.json<{ counts: Record<string, number>; hours: Array<{ status: string }> }>(
      ['recompute', '--view', 'site_minutely', '--from', String(h1), '--to', String(currentHour)],
      { timeoutMs: 120_000 },
    );
    expect(sealed.counts).toMatchObject({ published: 2, failed: 0 });

    const body = await eventually('the serving layer to see both sealed hours', async () => {
      const answer = await series('site_minutely', h1, currentHour, '1m');
      return answer.coverage.every((c) => c.source === 'batch') ? answer : undefined;
    });
    for (const group of body.series) for (const point of group.points) expect(point.source).toBe('batch');
    // the first hour: every on-time and every late reading
    expect(compare(body, truthOf([...onTime, ...late]), h1, h2)).toEqual([]);
    // the second hour had no late reading: batch says what speed said, every measure (sums of
    // temperatures folded in another order may differ in the last bits of a double)
    const valuesOf = (answer: SeriesBody) =>
      Object.fromEntries(
        answer.series.flatMap((group) =>
          group.points
            .filter((point) => Date.parse(point.bucket) >= h2)
            .map((point) => [`${point.bucket} ${group.dims.site}`, point.values]),
        ),
      );
    expect(Object.keys(valuesOf(body)).length).toBe(60 * 3);
    expect(differences(valuesOf(body), valuesOf(speedSeries))).toEqual([]);
    expect(compare(body, truthOf(onTime), h2, currentHour)).toEqual([]);

    // verify: the drift of the first hour is exactly its late readings, the second has none
    const first = await world.json<VerifyJson>(['verify', '--view', 'site_minutely', '--hour', String(h1)]);
    const readings = first.measures.find((m) => m.measure === 'readings')!;
    expect(readings).toMatchObject({
      batch: onTime.filter((r) => r.ts < h2).length + late.length,
      drift: -late.length,
    });
    const second = await world.json<VerifyJson>(['verify', '--view', 'site_minutely', '--hour', String(h2)]);
    expect(second.maxRelativeDrift).toBe(0);
  });

  it('replay --stream rebuilds the IoT views alone, and the IoT worker follows; the web stream stays', async () => {
    const before = await status();
    const replay = await world.json<{ outcome: string; stream: string; previous: string; active: string }>(
      ['replay', '--stream', iotName, '--from', String(h1)],
      { timeoutMs: 120_000 },
    );
    expect(replay).toMatchObject({ outcome: 'switched', stream: iotName, previous: before.namespace });
    const after = await status();
    expect(streamStatus(after, iotName)).toMatchObject({
      namespace: replay.active,
      eventsApplied: onTime.length,
      lateCount: late.length,
      duplicateCount: duplicates,
      dlqCount: poison,
    });
    expect(streamStatus(after, 'events')).toMatchObject({
      namespace: before.namespace,
      eventsApplied: webTruth.valid,
      dlqCount: webTruth.bad,
    });
    // the old namespace lost the IoT keys only
    const redis = await world.redis();
    const keysOf = async (pattern: string) => {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 10_000);
        cursor = next;
        found.push(...keys);
      } while (cursor !== '0');
      return found;
    };
    expect(await keysOf(`${before.namespace}:{${iotName}:p*`)).toEqual([]);
    expect((await keysOf(`${before.namespace}:{p*`)).length).toBeGreaterThan(0);
    expect((await keysOf(`${replay.active}:{${iotName}:p*`)).length).toBeGreaterThan(0);
    // the live IoT worker moved: a new reading lands in the new namespace
    const kafka = new Kafka({ brokers: world.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
    // Idempotent: a send retried after a timeout on a loaded machine must not write the batch twice,
    // or the topic holds more duplicates and dead letters than the truth says.
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    await producer.send({
      topic: iot.topic,
      acks: -1,
      messages: [
        {
          key: 'oslo-d1',
          value: JSON.stringify({
            reading_id: `after-${randomUUID()}`,
            ts: Date.now(),
            site: 'oslo',
            device: 'oslo-d1',
            temperature_c: 4.5,
          }),
        },
      ],
    });
    await producer.disconnect();
    await eventually('the live IoT worker to apply in the new namespace', async () => {
      const s = streamStatus(await status(), iotName);
      return s.namespace === replay.active && s.eventsApplied === onTime.length + 1 ? true : undefined;
    });
    const verified = await world.json<VerifyJson>([
      'verify',
      '--view',
      'site_minutely',
      '--hour',
      String(h2),
    ]);
    expect(verified.namespace).toBe(replay.active);
    expect(verified.maxRelativeDrift).toBe(0);
  });
});

// Registry-backed streams through the built command on the real stack (Kafka, the schema registry,
// Redis, the lake, DuckDB): an Avro stream and a JSON Schema stream whose schemas live in the
// registry, produced with the Confluent client (@kafkajs/confluent-schema-registry). The Lambda path
// runs end to end — `tandem speed`, `tandem archiver`, `tandem serve`, then `tandem recompute` seals
// the past hours — and the answers equal a truth computed here with plain loops, batch = speed.
// Evolution in the middle of the stream: Avro v2 adds an optional coupon a view reads (v1 orders
// count with it absent); after the components started, a JSON v2 adds an optional field (accepted by
// speed and archiver, looked up at run time) and an Avro v3 retypes a field a view reads — refused
// by the registry under BACKWARD, registered anyway with the check off, and every message of it
// dead-lettered with its reason and counted by the metric. Poison framing (no magic byte, an unknown
// schema id, a cut body, a body that breaks the schema) gives exact DLQ counts per code.
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { HOUR_MS, hourStart } from '@tandem/core';
import { openObjectStore, listArchiverWatermarks } from '@tandem/lake';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.ts';
import { mulberry32 } from '../support/random.ts';
import { eventually, World } from './cli/harness.ts';
import { schemaRegistryUrl } from '../support/stack.ts';

const MINUTE = 60_000;
const PARTITIONS = 3;
const COUNTRIES = ['DE', 'FR', 'JP'] as const;
const PAGES = ['/home', '/pricing', '/docs', '/blog'] as const;
const COUPONS = ['XMAS', 'SPRING'] as const;

interface Order {
  order_id: string;
  ts: number;
  country: (typeof COUNTRIES)[number];
  amount: number;
  /** Absent in v1 messages. */
  coupon?: string | null;
}
interface Visit {
  visit_id: string;
  ts: number;
  page: string;
  ms: number;
  referrer?: string;
}

interface SeriesBody {
  coverage: Array<{ bucket: string; source: string }>;
  series: Array<{
    dims: Record<string, string>;
    points: Array<{ bucket: string; source: string; values: Record<string, number | null> }>;
  }>;
}
interface StreamStatus {
  stream: string;
  eventsApplied: number;
  lateCount: number;
  dlqCount: number;
  duplicateCount: number;
}

/** The Confluent frame around a body, written by hand for the poison the client would refuse to make. */
function frame(id: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(id, 1);
  return Buffer.concat([header, body]);
}

const orderV1 = {
  type: 'record',
  name: 'Order',
  namespace: 'dev.tandem.e2e',
  fields: [
    { name: 'order_id', type: 'string' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'country', type: { type: 'enum', name: 'Country', symbols: [...COUNTRIES] } },
    { name: 'amount', type: 'double' },
  ],
};
const orderV2 = {
  ...orderV1,
  fields: [...orderV1.fields, { name: 'coupon', type: ['null', 'string'], default: null }],
};
// v3 retypes amount (a string): BACKWARD-incompatible, and the revenue view sums it.
const orderV3 = {
  ...orderV2,
  fields: orderV2.fields.map((field) =>
    field.name === 'amount' ? { name: 'amount', type: 'string' } : field,
  ),
};
// A closed content model: under BACKWARD, adding an optional property to an open one narrows it.
const visitV1 = {
  type: 'object',
  additionalProperties: false,
  required: ['visit_id', 'ts', 'page', 'ms'],
  properties: {
    visit_id: { type: 'string', minLength: 1 },
    ts: { type: 'string', format: 'date-time' },
    page: { type: 'string', minLength: 1 },
    ms: { type: 'integer', minimum: 0 },
  },
};
const visitV2 = { ...visitV1, properties: { ...visitV1.properties, referrer: { type: 'string' } } };

describe('registry-backed streams (Avro and JSON Schema) on the Lambda path', () => {
  let world: World;
  let baseUrl: string;
  let metricsUrl: string;
  let configFile: string;
  let orders: string;
  let visits: string;
  let orderTopic: string;
  let visitTopic: string;
  let orderSubject: string;
  let visitSubject: string;
  const registry = new SchemaRegistry(
    { host: schemaRegistryUrl, clientId: 'tandem-e2e' },
    { [SchemaType.JSON]: { formats: fullFormats } },
  );
  const now = Date.now();
  const currentHour = hourStart(now);
  const h1 = currentHour - 2 * HOUR_MS;
  const h2 = currentHour - HOUR_MS;
  const acceptedOrders: Order[] = [];
  const acceptedVisits: Visit[] = [];
  const orderCodes: Record<string, number> = {};
  const visitCodes: Record<string, number> = {};
  let orderMessages = 0;
  let visitMessages = 0;
  /** The v3 orders as written (amount a string), by id. */
  const incompatibleOrders = new Map<string, Record<string, unknown>>();
  let orderV2Id = 0;
  let orderV3Id = 0;
  const stops: Array<() => Promise<number | null>> = [];
  let kafka: Kafka;
  let speedOrders: SeriesBody;
  let speedCoupons: SeriesBody;
  let speedPages: SeriesBody;

  async function series(view: string): Promise<SeriesBody> {
    const params = new URLSearchParams({
      from: new Date(h1).toISOString(),
      to: new Date(currentHour).toISOString(),
      granularity: '1h',
    });
    const response = await fetch(`${baseUrl}/v1/views/${view}/series?${params}`);
    expect(response.status, await response.clone().text()).toBe(200);
    return (await response.json()) as SeriesBody;
  }

  async function streamStatus(name: string): Promise<StreamStatus> {
    const result = await world.run(['status', '--json']);
    const body = JSON.parse(result.stdout) as { streams: StreamStatus[] };
    return body.streams.find((entry) => entry.stream === name)!;
  }

  /** Sends messages in order, keyed, idempotently (a retried send must not land twice). */
  async function produce(topic: string, messages: Array<{ key: string; value: Buffer }>): Promise<void> {
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    for (let i = 0; i < messages.length; i += 500) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 500) });
    }
    await producer.disconnect();
  }

  beforeAll(async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    world = new World({
      PORT: String(port),
      SCHEMA_REGISTRY_URL: schemaRegistryUrl,
      SPEED_OUT_OF_ORDERNESS_MS: '10000',
      SPEED_ALLOWED_LATENESS_MS: '20000',
      SPEED_SEALED_GRACE_MS: String(HOUR_MS),
    });
    baseUrl = `http://127.0.0.1:${port}`;
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    orders = `orders_${world.id}`;
    visits = `visits_${world.id}`;
    orderTopic = `e2e-${world.id}-orders`;
    visitTopic = `e2e-${world.id}-visits`;
    orderSubject = `e2e-${world.id}-orders-value`;
    visitSubject = `e2e-${world.id}-visits-value`;
    kafka = new Kafka({
      clientId: `e2e-${world.id}`,
      brokers: world.env.KAFKA_BROKERS!.split(','),
      logLevel: logLevel.NOTHING,
    });

    // Avro v1 and v2 (the optional coupon) and JSON v1 before the components start.
    const v1 = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(orderV1) },
      { subject: orderSubject, compatibility: COMPATIBILITY.BACKWARD },
    );
    const v2 = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(orderV2) },
      { subject: orderSubject },
    );
    orderV2Id = v2.id;
    const visitV1Id = (
      await registry.register(
        { type: SchemaType.JSON, schema: JSON.stringify(visitV1) },
        { subject: visitSubject, compatibility: COMPATIBILITY.BACKWARD },
      )
    ).id;

    const config = {
      streams: [
        {
          name: orders,
          topic: orderTopic,
          registry: { subject: orderSubject, format: 'avro' },
          time: { field: 'ts' },
          idField: 'order_id',
        },
        {
          name: visits,
          topic: visitTopic,
          registry: { subject: visitSubject, format: 'json' },
          time: { field: 'ts' },
          idField: 'visit_id',
        },
      ],
      views: [
        {
          name: `revenue_${world.id}`,
          stream: orders,
          bucket: '1h',
          dimensions: ['country'],
          measures: {
            orders: { kind: 'count' },
            revenue: { kind: 'sum', field: 'amount' },
            largest: { kind: 'max', field: 'amount' },
          },
        },
        {
          // the new view over v2's optional field
          name: `coupons_${world.id}`,
          stream: orders,
          bucket: '1h',
          dimensions: ['country'],
          measures: {
            xmas: { kind: 'count', where: { op: 'eq', field: 'coupon', value: 'XMAS' } },
            spring: { kind: 'count', where: { op: 'eq', field: 'coupon', value: 'SPRING' } },
          },
        },
        {
          name: `pages_${world.id}`,
          stream: visits,
          bucket: '1h',
          dimensions: ['page'],
          measures: { visits: { kind: 'count' }, avg_ms: { kind: 'avg', field: 'ms' } },
        },
      ],
    };
    configFile = join(tmpdir(), `tandem-e2e-${world.id}.config.json`);
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    world.env.TANDEM_CONFIG = configFile;

    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [orderTopic, visitTopic].flatMap((topic) =>
        [topic, `${topic}.dlq`, `${topic}.late`].map((name) => ({ topic: name, numPartitions: PARTITIONS })),
      ),
    });
    await admin.disconnect();

    // Phase 1: [h1, h2 + 25 min), every 10 s an order and a visit; orders are v1 for the first 40
    // minutes, then v2 (a third with a coupon); poison of every framing kind mixed in.
    const random = mulberry32(19);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const orderOut: Array<{ key: string; value: Buffer }> = [];
    const visitOut: Array<{ key: string; value: Buffer }> = [];
    const poison = async (
      out: Array<{ key: string; value: Buffer }>,
      codes: Record<string, number>,
      id: number,
      breaking: () => Promise<Buffer>,
      i: number,
    ) => {
      const kinds: Array<[string, () => Promise<Buffer> | Buffer]> = [
        ['TANDEM_ERR_EVENT_FRAMING', () => Buffer.from('{"not":"framed"}')],
        ['TANDEM_ERR_EVENT_SCHEMA_UNKNOWN', () => frame(0x7ffffff0, Buffer.from('{}'))],
        ['TANDEM_ERR_EVENT_UNDECODABLE', () => frame(id, Buffer.from('{"'))],
        ['TANDEM_ERR_EVENT_INVALID', breaking],
      ];
      const [code, make] = kinds[i % kinds.length]!;
      out.push({ key: `poison-${i}`, value: await make() });
      codes[code] = (codes[code] ?? 0) + 1;
    };
    let n = 0;
    for (let ts = h1 + 5_000; ts < h2 + 25 * MINUTE; ts += 10_000, n++) {
      const order: Order = {
        order_id: `o-${n}`,
        ts,
        country: pick(COUNTRIES),
        amount: Math.round(random() * 50_000) / 100,
      };
      if (ts < h1 + 40 * MINUTE) {
        orderOut.push({ key: order.country, value: await registry.encode(v1.id, order) });
      } else {
        order.coupon = random() < 0.33 ? pick(COUPONS) : null;
        orderOut.push({ key: order.country, value: await registry.encode(v2.id, order) });
      }
      acceptedOrders.push(order);
      const visit: Visit = { visit_id: `v-${n}`, ts, page: pick(PAGES), ms: Math.floor(random() * 900) };
      visitOut.push({
        key: visit.page,
        value: await registry.encode(visitV1Id, { ...visit, ts: new Date(ts).toISOString() }),
      });
      acceptedVisits.push(visit);
      if (n % 37 === 5) {
        const i = Math.floor(n / 37);
        // an Avro order that decodes but lies an hour in the future; a visit with a negative ms
        await poison(
          orderOut,
          orderCodes,
          v2.id,
          () => registry.encode(v2.id, { ...order, order_id: `f-${n}`, ts: now + HOUR_MS, coupon: null }),
          i,
        );
        await poison(
          visitOut,
          visitCodes,
          visitV1Id,
          async () =>
            frame(
              visitV1Id,
              Buffer.from(
                JSON.stringify({ ...visit, visit_id: `bad-${n}`, ts: new Date(ts).toISOString(), ms: -5 }),
              ),
            ),
          i,
        );
      }
    }
    await produce(orderTopic, orderOut);
    await produce(visitTopic, visitOut);
    orderMessages = orderOut.length;
    visitMessages = visitOut.length;

    for (const args of [
      ['speed', '--stream', orders, '--stream', visits, '--metrics-port', String(metricsPort)],
      ['archiver', '--stream', `${orders},${visits}`],
      ['serve'],
    ]) {
      const child = world.start(args);
      stops.push(() => child.stop());
    }
    const consumed = async (name: string, total: number) => {
      const s = await streamStatus(name);
      return s !== undefined && s.eventsApplied + s.dlqCount + s.lateCount + s.duplicateCount >= total;
    };
    await eventually(
      'the speed layer to consume both streams (phase 1)',
      async () =>
        (await consumed(orders, orderMessages)) && (await consumed(visits, visitMessages)) ? true : undefined,
      120_000,
    );

    // Phase 2, the components running: JSON v2 adds an optional referrer (compatible, learned at run
    // time); Avro v3 retypes amount — the registry refuses it under BACKWARD, a producer that
    // switches the check off registers it anyway, and its orders must be dead-lettered.
    const visitV2Id = (
      await registry.register(
        { type: SchemaType.JSON, schema: JSON.stringify(visitV2) },
        { subject: visitSubject },
      )
    ).id;
    await expect(
      registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(orderV3) },
        { subject: orderSubject },
      ),
    ).rejects.toThrow(/409|ompatib/);
    const none = await fetch(`${schemaRegistryUrl}/config/${encodeURIComponent(orderSubject)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: 'NONE' }),
    });
    expect(none.status).toBe(200);
    orderV3Id = (
      await registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(orderV3) },
        { subject: orderSubject, compatibility: COMPATIBILITY.NONE },
      )
    ).id;
    const phase2Orders: Array<{ key: string; value: Buffer }> = [];
    const phase2Visits: Array<{ key: string; value: Buffer }> = [];
    for (let ts = h2 + 30 * MINUTE; ts < h2 + 55 * MINUTE; ts += 10_000, n++) {
      const order: Order = {
        order_id: `o-${n}`,
        ts,
        country: pick(COUNTRIES),
        amount: Math.round(random() * 50_000) / 100,
      };
      if (n % 5 === 0) {
        const v3Order = { ...order, amount: String(order.amount), coupon: null };
        phase2Orders.push({ key: order.country, value: await registry.encode(orderV3Id, v3Order) });
        orderCodes.TANDEM_ERR_EVENT_SCHEMA_INCOMPATIBLE =
          (orderCodes.TANDEM_ERR_EVENT_SCHEMA_INCOMPATIBLE ?? 0) + 1;
        incompatibleOrders.set(order.order_id, v3Order);
      } else {
        order.coupon = random() < 0.5 ? pick(COUPONS) : null;
        phase2Orders.push({ key: order.country, value: await registry.encode(orderV2Id, order) });
        acceptedOrders.push(order);
      }
      const visit: Visit = {
        visit_id: `v-${n}`,
        ts,
        page: pick(PAGES),
        ms: Math.floor(random() * 900),
        referrer: 'news',
      };
      phase2Visits.push({
        key: visit.page,
        value: await registry.encode(visitV2Id, { ...visit, ts: new Date(ts).toISOString() }),
      });
      acceptedVisits.push(visit);
    }
    await produce(orderTopic, phase2Orders);
    await produce(visitTopic, phase2Visits);
    orderMessages += phase2Orders.length;
    visitMessages += phase2Visits.length;
    await eventually(
      'the speed layer to consume both streams (phase 2)',
      async () =>
        (await consumed(orders, orderMessages)) && (await consumed(visits, visitMessages)) ? true : undefined,
      120_000,
    );
  }, 400_000);

  afterAll(async () => {
    const codes = await Promise.all(stops.map((stop) => stop()));
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.deleteTopics({
        topics: [orderTopic, visitTopic].flatMap((topic) => [topic, `${topic}.dlq`, `${topic}.late`]),
      });
    } catch {
      // topics of this test only; left behind they cost disk, not correctness
    } finally {
      await admin.disconnect();
    }
    for (const subject of [orderSubject, visitSubject]) {
      await fetch(`${schemaRegistryUrl}/subjects/${encodeURIComponent(subject)}`, { method: 'DELETE' }).catch(
        () => undefined,
      );
    }
    await world?.cleanup();
    if (configFile) rmSync(configFile, { force: true });
    expect(codes.every((code) => code === 0)).toBe(true);
  });

  it('counts each stream exactly, and dead-letters every bad message with its code', async () => {
    const poisonOrders = Object.values(orderCodes).reduce((a, b) => a + b, 0);
    const poisonVisits = Object.values(visitCodes).reduce((a, b) => a + b, 0);
    expect(await streamStatus(orders)).toMatchObject({
      eventsApplied: acceptedOrders.length,
      dlqCount: poisonOrders,
      lateCount: 0,
      duplicateCount: 0,
    });
    expect(await streamStatus(visits)).toMatchObject({
      eventsApplied: acceptedVisits.length,
      dlqCount: poisonVisits,
      lateCount: 0,
      duplicateCount: 0,
    });
    for (const [stream, codes] of [
      [orders, orderCodes],
      [visits, visitCodes],
    ] as const) {
      const dlq = await world.json<{ total: number; byCode: Record<string, number> }>([
        'dlq',
        'list',
        '--stream',
        stream,
        '--limit',
        '100000',
      ]);
      expect(dlq.byCode).toEqual(codes);
    }
    expect(orderCodes).toMatchObject({
      TANDEM_ERR_EVENT_FRAMING: expect.any(Number),
      TANDEM_ERR_EVENT_SCHEMA_UNKNOWN: expect.any(Number),
      TANDEM_ERR_EVENT_UNDECODABLE: expect.any(Number),
      TANDEM_ERR_EVENT_INVALID: expect.any(Number),
      TANDEM_ERR_EVENT_SCHEMA_INCOMPATIBLE: expect.any(Number),
    });
    // the metric shows the orders of the version that broke a view
    const metrics = await (await fetch(metricsUrl)).text();
    const line = metrics
      .split('\n')
      .find(
        (l) =>
          l.startsWith('tandem_speed_dead_letters_total{') &&
          l.includes(`stream="${orders}"`) &&
          l.includes('SCHEMA_INCOMPATIBLE'),
      );
    expect(line?.split(' ').at(-1)).toBe(String(orderCodes.TANDEM_ERR_EVENT_SCHEMA_INCOMPATIBLE));
    // and the status warns, naming the version (the only one that breaks a view)
    const status = (await (await fetch(`${baseUrl}/v1/status`)).json()) as {
      streams: Array<{ stream: string; speed: { schemaWarnings: string[] } }>;
    };
    const warnings = status.streams.find((s) => s.stream === orders)?.speed.schemaWarnings;
    expect(warnings).toHaveLength(1);
    expect(warnings![0]).toMatch(
      /^schema version 3 of ".+" breaks a view \(.*amount.*\); its messages go to the dead-letter topic$/,
    );
    expect(status.streams.find((s) => s.stream === visits)?.speed.schemaWarnings).toEqual([]);
  });

  it('dlq show gives the original bytes, the writer and the decoded body where it decodes', async () => {
    const list = await world.json<{
      deadLetters: Array<{ id: string; error: { code: string } }>;
    }>(['dlq', 'list', '--stream', orders, '--limit', '100000']);
    const incompatible = list.deadLetters.filter(
      (l) => l.error.code === 'TANDEM_ERR_EVENT_SCHEMA_INCOMPATIBLE',
    );
    expect(incompatible.length).toBe(incompatibleOrders.size);
    const first = await world.json<{
      valueBase64: string;
      error: { message: string };
      decoded: { schemaId: number; version: number; body: Record<string, unknown> };
    }>(['dlq', 'show', incompatible[0]!.id, '--stream', orders]);
    const written = incompatibleOrders.get(first.decoded.body.order_id as string);
    expect(written).toBeDefined();
    expect(first.decoded).toEqual({ schemaId: orderV3Id, version: 3, body: written });
    expect(first.error.message).toBe(
      `view "revenue_${world.id}" reads field "amount" as number, but version 3 of subject "${orderSubject}" makes it string`,
    );
    expect(Buffer.from(first.valueBase64, 'base64').subarray(0, 5)).toEqual(
      frame(orderV3Id, Buffer.alloc(0)),
    );
    const unframed = list.deadLetters.find((l) => l.error.code === 'TANDEM_ERR_EVENT_FRAMING')!;
    const plain = await world.json<{
      valueBase64: string;
      decoded: { schemaId: null; error: { rule: string } };
    }>(['dlq', 'show', unframed.id, '--stream', orders]);
    expect(Buffer.from(plain.valueBase64, 'base64').toString()).toBe('{"not":"framed"}');
    expect(plain.decoded).toMatchObject({ schemaId: null, error: { rule: 'framing' } });
  });

  /** Per (hour, dimension): the truth of each view, from the accepted events with plain loops. */
  function ordersTruth() {
    const cells = new Map<
      string,
      { orders: number; revenue: number; largest: number; xmas: number; spring: number }
    >();
    for (const order of acceptedOrders) {
      const key = `${hourStart(order.ts)}|${order.country}`;
      const cell = cells.get(key) ?? { orders: 0, revenue: 0, largest: -Infinity, xmas: 0, spring: 0 };
      cell.orders += 1;
      cell.revenue += order.amount;
      cell.largest = Math.max(cell.largest, order.amount);
      if (order.coupon === 'XMAS') cell.xmas += 1;
      if (order.coupon === 'SPRING') cell.spring += 1;
      cells.set(key, cell);
    }
    return cells;
  }
  function visitsTruth() {
    const cells = new Map<string, { visits: number; sum: number }>();
    for (const visit of acceptedVisits) {
      const key = `${hourStart(visit.ts)}|${visit.page}`;
      const cell = cells.get(key) ?? { visits: 0, sum: 0 };
      cell.visits += 1;
      cell.sum += visit.ms;
      cells.set(key, cell);
    }
    return cells;
  }

  /** Every difference between served points and the expected values per `hour|dim`; empty when equal. */
  function compare(
    body: SeriesBody,
    dim: string,
    expected: Map<string, Record<string, number>>,
    close: readonly string[] = [],
  ): string[] {
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const group of body.series) {
      for (const point of group.points) {
        const key = `${Date.parse(point.bucket)}|${group.dims[dim]}`;
        const want = expected.get(key);
        if (want === undefined) {
          if (Object.values(point.values).some((v) => v !== null && v !== 0))
            problems.push(`${key}: unexpected`);
          continue;
        }
        seen.add(key);
        for (const [name, value] of Object.entries(want)) {
          const got = point.values[name];
          const ok = close.includes(name)
            ? got !== null && got !== undefined && Math.abs(got - value) <= 1e-9 * Math.abs(value) + 1e-9
            : got === value;
          if (!ok) problems.push(`${key} ${name}: ${got} ≠ ${value}`);
        }
      }
    }
    for (const key of expected.keys()) if (!seen.has(key)) problems.push(`${key}: not served`);
    return problems;
  }

  const ordersExpected = () =>
    new Map(
      [...ordersTruth()].map(([k, c]) => [k, { orders: c.orders, revenue: c.revenue, largest: c.largest }]),
    );
  const couponsExpected = () =>
    new Map([...ordersTruth()].map(([k, c]) => [k, { xmas: c.xmas, spring: c.spring }]));
  const pagesExpected = () =>
    new Map([...visitsTruth()].map(([k, c]) => [k, { visits: c.visits, avg_ms: c.sum / c.visits }]));

  it('serves every view from speed, equal to the truth (v1 orders count with the coupon absent)', async () => {
    speedOrders = await series(`revenue_${world.id}`);
    speedCoupons = await series(`coupons_${world.id}`);
    speedPages = await series(`pages_${world.id}`);
    for (const body of [speedOrders, speedCoupons, speedPages]) {
      expect(new Set(body.coverage.map((c) => c.source))).toEqual(new Set(['speed']));
    }
    expect(compare(speedOrders, 'country', ordersExpected(), ['revenue'])).toEqual([]);
    expect(compare(speedCoupons, 'country', couponsExpected())).toEqual([]);
    expect(compare(speedPages, 'page', pagesExpected(), ['avg_ms'])).toEqual([]);
    // v1 orders (no coupon) are in the first hour: counted, none with a coupon
    const firstHourOrders = acceptedOrders.filter((o) => o.ts < h1 + 40 * MINUTE).length;
    expect(firstHourOrders).toBeGreaterThan(200);
  });

  it('after sealing the past hours, serves them from batch: equal to the truth and to speed; manifests name the schema', async () => {
    const lake = openObjectStore(world.config.lake);
    for (const [topic, prefix] of [
      [orderTopic, `streams/${orders}/logs`],
      [visitTopic, `streams/${visits}/logs`],
    ] as const) {
      await eventually(
        `the archiver to archive both past hours of ${topic}`,
        async () => {
          const marks = await listArchiverWatermarks(lake, topic, prefix);
          return marks.length === PARTITIONS && marks.every((m) => m.watermark >= currentHour)
            ? true
            : undefined;
        },
        150_000,
        1_000,
      );
    }
    // every archive file's manifest names the schema its lines were decoded to
    let manifests = 0;
    for await (const object of lake.list(`streams/${orders}/logs/_manifests/`)) {
      const manifest = JSON.parse(new TextDecoder().decode((await lake.get(object.key))!)) as Record<
        string,
        unknown
      >;
      expect(manifest.registry).toEqual({ subject: orderSubject, version: 2, schemaId: orderV2Id });
      manifests++;
    }
    expect(manifests).toBeGreaterThan(0);
    await lake.close();

    for (const view of [`revenue_${world.id}`, `coupons_${world.id}`, `pages_${world.id}`]) {
      const sealed = await world.json<{ counts: Record<string, number> }>(
        ['recompute', '--view', view, '--from', String(h1), '--to', String(currentHour)],
        { timeoutMs: 120_000 },
      );
      expect(sealed.counts, view).toMatchObject({ published: 2, failed: 0 });
    }
    const sealedSeries = (view: string) =>
      eventually(`the serving layer to see ${view} sealed`, async () => {
        const answer = await series(view);
        return answer.coverage.every((c) => c.source === 'batch') ? answer : undefined;
      });
    const batchOrders = await sealedSeries(`revenue_${world.id}`);
    const batchCoupons = await sealedSeries(`coupons_${world.id}`);
    const batchPages = await sealedSeries(`pages_${world.id}`);
    expect(compare(batchOrders, 'country', ordersExpected(), ['revenue'])).toEqual([]);
    expect(compare(batchCoupons, 'country', couponsExpected())).toEqual([]);
    expect(compare(batchPages, 'page', pagesExpected(), ['avg_ms'])).toEqual([]);
    // batch = speed, point for point (counts and maxima exactly; sums and averages to the last bits)
    const asExpected = (body: SeriesBody, dim: string) =>
      new Map(
        body.series.flatMap((group) =>
          group.points.map(
            (point) =>
              [
                `${Date.parse(point.bucket)}|${group.dims[dim]}`,
                Object.fromEntries(Object.entries(point.values).map(([k, v]) => [k, v ?? 0])),
              ] as const,
          ),
        ),
      );
    expect(compare(batchOrders, 'country', asExpected(speedOrders, 'country'), ['revenue'])).toEqual([]);
    expect(compare(batchCoupons, 'country', asExpected(speedCoupons, 'country'))).toEqual([]);
    expect(compare(batchPages, 'page', asExpected(speedPages, 'page'), ['avg_ms'])).toEqual([]);
  });
});

// Registry-backed streams against the stack's registry: the config's subjects are fetched (latest or
// pinned) and every mistake names the stream, the subject and SCHEMA_REGISTRY_URL; messages framed by
// the Confluent client decode to the stream's normalized events, and each kind of bad input gets its
// dead-letter rule — no magic byte, an unknown id, a body that does not decode, a body that breaks
// the schema, and a version registered after load that drops a field a view reads.
import { randomUUID } from 'node:crypto';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { type Catalog, loadConfig, resolveCatalog, TandemError } from '@tandem/core';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { describe, expect, it } from 'vitest';
import { compileFramedStreamParser, type FramedStreamParser } from '../src/framed-stream.ts';
import { createSchemaRegistryClient, fetchRegistryVersions } from '../src/schema-registry.ts';
import { schemaRegistryUrl } from '@tandem/test-support/stack.ts';

const config = loadConfig({
  SCHEMA_REGISTRY_URL: schemaRegistryUrl,
  SCHEMA_REGISTRY_USERNAME: process.env.SCHEMA_REGISTRY_USERNAME,
  SCHEMA_REGISTRY_PASSWORD: process.env.SCHEMA_REGISTRY_PASSWORD,
}).schemaRegistry;
// The client's Ajv is strict: a JSON Schema with a format it does not know (date-time) is refused.
const confluent = new SchemaRegistry(
  {
    host: config.url as string,
    clientId: 'tandem-test',
    ...(config.auth === null ? {} : { auth: config.auth }),
  },
  { [SchemaType.JSON]: { formats: fullFormats } },
);
const client = createSchemaRegistryClient(config);
const prefix = `test-${randomUUID()}`;
const NOW = Date.UTC(2026, 11, 3, 12);
const options = { maxBytes: 65_536, futureToleranceMs: 300_000, now: () => NOW };

const orderV1 = {
  type: 'record',
  name: 'Order',
  namespace: 'dev.tandem.test',
  fields: [
    { name: 'order_id', type: 'string' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'amount', type: 'double' },
    { name: 'country', type: 'string' },
  ],
};
const orderV2 = {
  ...orderV1,
  fields: [...orderV1.fields, { name: 'coupon', type: ['null', 'string'], default: null }],
};
const orderV3 = { ...orderV2, fields: orderV2.fields.filter((field) => field.name !== 'amount') };

const revenueView = {
  name: 'revenue',
  bucket: '1h',
  dimensions: ['country'],
  measures: { total: { kind: 'sum', field: 'amount' } },
};
const couponsView = {
  name: 'coupons',
  bucket: '1h',
  dimensions: ['coupon'],
  measures: { n: { kind: 'count' } },
};

function ordersConfig(
  subject: string,
  extra: Record<string, unknown> = {},
  views: unknown[] = [revenueView, couponsView],
) {
  return {
    streams: [
      {
        name: 'orders',
        registry: { subject, format: 'avro', ...extra },
        time: { field: 'ts' },
        idField: 'order_id',
      },
    ],
    views,
  };
}

async function loadCatalogOf(raw: unknown): Promise<Catalog> {
  return resolveCatalog(raw, 'cfg', await fetchRegistryVersions(raw, config));
}

/** `code/rule/field` of a rejected message, or `ok`. */
function verdictOf(parser: FramedStreamParser, bytes: Buffer): string {
  const result = parser.parse(bytes, options);
  return result.ok ? 'ok' : `${result.error.code}/${result.error.rule}/${result.error.field}`;
}

async function refusal(promise: Promise<unknown>): Promise<TandemError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TandemError);
  return error as TandemError;
}

/** Order v1, then v2 (the optional coupon) under BACKWARD; their ids. */
async function registerOrders(subject: string): Promise<[{ id: number }, { id: number }]> {
  const v1 = await confluent.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(orderV1) },
    { subject, compatibility: COMPATIBILITY.BACKWARD },
  );
  const v2 = await confluent.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(orderV2) },
    { subject },
  );
  return [v1, v2];
}

describe('registry-backed streams on the stack registry', () => {
  it('load the latest or pinned version and refuse a missing registry or subject by name', async () => {
    const subject = `${prefix}-orders-value`;
    const [v1, v2] = await registerOrders(subject);
    const latest = (await loadCatalogOf(ordersConfig(subject))).stream('orders');
    expect([latest.registry?.version, latest.registry?.schemaId, latest.timeEncoding]).toEqual([
      2,
      v2.id,
      'epoch_ms',
    ]);
    expect(latest.fields.map((field) => field.name)).toEqual([
      'order_id',
      'ts',
      'amount',
      'country',
      'coupon',
    ]);
    // Pinned to v1, which has no coupon: only the view that does not read it can be declared.
    const pinned = (await loadCatalogOf(ordersConfig(subject, { version: 1 }, [revenueView]))).stream(
      'orders',
    );
    const refused = await refusal(loadCatalogOf(ordersConfig(subject, { version: 1 })));
    expect(refused.message).toMatch(/view "coupons": unknown dimension "coupon"/);
    expect([pinned.registry?.version, pinned.registry?.schemaId]).toEqual([1, v1.id]);

    const noUrl = await refusal(fetchRegistryVersions(ordersConfig(subject), { url: null, auth: null }));
    expect(noUrl.code).toBe('TANDEM_ERR_CONFIG_INVALID');
    expect(noUrl.message).toBe(
      `stream "orders" takes its schema from registry subject "${subject}", but SCHEMA_REGISTRY_URL is not set; set SCHEMA_REGISTRY_URL to the Confluent API of a schema registry (the local stack runs one: \`TANDEM_STACK_REGISTRY=1 scripts/stack up\`, then SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7)`,
    );
    const missing = await refusal(fetchRegistryVersions(ordersConfig(`${prefix}-nope`), config));
    expect(missing.message).toBe(
      `stream "orders" (registry subject "${prefix}-nope"): the subject does not exist in the schema registry at ${config.url}; register the stream's schema under it first`,
    );
    const down = await refusal(
      fetchRegistryVersions(ordersConfig(subject), { url: 'http://127.0.0.1:1', auth: null }),
    );
    expect(down.code).toBe('TANDEM_ERR_SERVICE_UNAVAILABLE');
    expect(down.retryable).toBe(true);
    expect(down.message).toMatch(
      /^the schema registry at SCHEMA_REGISTRY_URL=http:\/\/127\.0\.0\.1:1 is not reachable .*TANDEM_STACK_REGISTRY=1 scripts\/stack up/,
    );
    // A plain config asks nothing of the registry, even when none is configured.
    expect(
      (await fetchRegistryVersions({ streams: [{ name: 'x', schema: {} }] }, { url: null, auth: null })).size,
    ).toBe(0);
  });

  it('decode Avro messages of every version, and refuse each kind of bad input with its rule', async () => {
    const subject = `${prefix}-orders2-value`;
    const [v1, v2] = await registerOrders(subject);
    const stream = (await loadCatalogOf(ordersConfig(subject))).stream('orders');
    const parser = compileFramedStreamParser(stream, (id) => client.schemaById(id, subject));

    const old = await confluent.encode(v1.id, {
      order_id: 'o-1',
      ts: NOW - 1000,
      amount: 12.5,
      country: 'FR',
    });
    const current = await confluent.encode(v2.id, {
      order_id: 'o-2',
      ts: NOW,
      amount: 3,
      country: 'DE',
      coupon: 'XMAS',
    });
    expect(parser.prepare([old, current])).toBeNull();
    expect(parser.parse(old, options)).toEqual({
      ok: true,
      event: { order_id: 'o-1', ts: NOW - 1000, amount: 12.5, country: 'FR', coupon: null },
    });
    expect(parser.parse(current, options)).toEqual({
      ok: true,
      event: { order_id: 'o-2', ts: NOW, amount: 3, country: 'DE', coupon: 'XMAS' },
    });

    const verdict = (bytes: Buffer) => verdictOf(parser, bytes);
    expect(verdict(Buffer.from('{"order_id":"o-3"}'))).toBe('TANDEM_ERR_EVENT_FRAMING/framing/null');
    expect(verdict(Buffer.from([0, 0, 0]))).toBe('TANDEM_ERR_EVENT_FRAMING/framing/null');
    const unknown = Buffer.from(current);
    unknown.writeUInt32BE(0x7ffffff0, 1);
    await parser.prepare([unknown]);
    expect(verdict(unknown)).toBe('TANDEM_ERR_EVENT_SCHEMA_UNKNOWN/schema_id/null');
    expect(verdict(current.subarray(0, current.length - 3))).toBe('TANDEM_ERR_EVENT_UNDECODABLE/decode/null');
    expect(verdict(Buffer.concat([current, Buffer.from([1])]))).toBe(
      'TANDEM_ERR_EVENT_UNDECODABLE/decode/null',
    );
    const future = await confluent.encode(v2.id, {
      order_id: 'o-4',
      ts: NOW + 3_600_000,
      amount: 1,
      country: 'FR',
      coupon: null,
    });
    expect(verdict(future)).toBe('TANDEM_ERR_EVENT_INVALID/future/ts');

    // v3 drops amount, which "revenue" reads, registered after load: BACKWARD-compatible for Avro (a
    // reader of v3 ignores the field in older data), so the registry takes it.
    const v3 = await confluent.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(orderV3) },
      { subject },
    );
    const dropped = await confluent.encode(v3.id, { order_id: 'o-5', ts: NOW, country: 'FR', coupon: null });
    expect(verdict(dropped)).toBe('TANDEM_ERR_EVENT_SCHEMA_UNKNOWN/schema_id/null'); // not learned yet
    const wait = parser.prepare([dropped, current]);
    expect(wait).not.toBeNull();
    await wait;
    const result = parser.parse(dropped, options);
    expect(result).toEqual({
      ok: false,
      error: {
        code: 'TANDEM_ERR_EVENT_SCHEMA_INCOMPATIBLE',
        field: null,
        rule: 'schema_compat',
        message: `view "revenue" reads field "amount", which version 3 of subject "${subject}" does not have`,
      },
    });
    expect(
      parser
        .incompatibleWriters()
        .map(({ writer, problems }) => [writer.version, problems.map((p) => p.field)]),
    ).toEqual([[3, ['amount']]]);
    // The DLQ tools still show what such a message holds.
    expect(parser.decode(dropped)).toEqual({
      ok: true,
      schemaId: v3.id,
      version: 3,
      body: { order_id: 'o-5', ts: NOW, country: 'FR', coupon: null },
    });
    expect(parser.decode(Buffer.from('x'))).toMatchObject({
      ok: false,
      schemaId: null,
      error: { rule: 'framing' },
    });
  });

  it('decode JSON Schema messages, and refuse bodies that are not JSON or break the schema', async () => {
    const subject = `${prefix}-views-value`;
    const schema = {
      type: 'object',
      required: ['view_id', 'ts', 'page'],
      properties: {
        view_id: { type: 'string' },
        ts: { type: 'string', format: 'date-time' },
        page: { type: 'string', minLength: 1 },
        ms: { type: 'integer', minimum: 0 },
      },
    };
    const { id } = await confluent.register(
      { type: SchemaType.JSON, schema: JSON.stringify(schema) },
      { subject },
    );
    const raw = {
      streams: [
        { name: 'views', registry: { subject, format: 'json' }, time: { field: 'ts' }, idField: 'view_id' },
      ],
      views: [{ name: 'pages', bucket: '1m', dimensions: ['page'], measures: { n: { kind: 'count' } } }],
    };
    const stream = (await loadCatalogOf(raw)).stream('views');
    expect(stream.timeEncoding).toBe('iso8601');
    const parser = compileFramedStreamParser(stream);
    const good = await confluent.encode(id, {
      view_id: 'v-1',
      ts: '2026-12-03T11:59:00.000Z',
      page: '/a',
      ms: 5,
    });
    expect(parser.parse(good, options)).toEqual({
      ok: true,
      event: { view_id: 'v-1', ts: NOW - 60_000, page: '/a', ms: 5 },
    });
    const header = good.subarray(0, 5);
    const framed = (text: string) => Buffer.concat([header, Buffer.from(text)]);
    const verdict = (bytes: Buffer) => verdictOf(parser, bytes);
    expect(verdict(framed('{"view_id":"v-2",'))).toBe('TANDEM_ERR_EVENT_UNDECODABLE/decode/null');
    expect(verdict(framed('{"view_id":"v-2","ts":"2026-12-03T11:59:00Z","page":""}'))).toBe(
      'TANDEM_ERR_EVENT_INVALID/minLength/page',
    );
    expect(verdict(framed('{"view_id":"v-2","ts":"2026-12-03T11:59:00Z","page":"/b","ms":1.5}'))).toBe(
      'TANDEM_ERR_EVENT_INVALID/integer/ms',
    );
    // No lookup: an id the stream did not load is unknown.
    const other = Buffer.from(good);
    other.writeUInt32BE(id + 100_000, 1);
    expect(parser.prepare([other])).not.toBeNull();
    expect(verdict(other)).toBe('TANDEM_ERR_EVENT_SCHEMA_UNKNOWN/schema_id/null');
  });
});

// Registry-backed streams in a config file: the schema comes from the fetched versions of the subject
// (latest or pinned), the time encoding from the writer's types, and every mistake is a coded error
// naming the stream and the subject. viewsBrokenByWriter names each (view, field) a writer drops.
import { describe, expect, it } from 'vitest';
import { resolveCatalog } from '../src/catalog.ts';
import { TandemError } from '../src/errors.ts';
import { type RegistryVersion, viewsBrokenByWriter, writerFields } from '../src/registry-stream.ts';

const v1 = {
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  fields: [
    { name: 'order_id', type: 'string' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'amount', type: 'double' },
  ],
};
const v2 = { ...v1, fields: [...v1.fields, { name: 'coupon', type: ['null', 'string'], default: null }] };
const v3 = { ...v1, fields: v1.fields.filter((field) => field.name !== 'amount') };

function version(n: number, id: number, schema: unknown, schemaType = 'AVRO'): RegistryVersion {
  return { subject: 'orders-value', version: n, id, schemaType, schema: JSON.stringify(schema) };
}
const versions = new Map([['orders-value', [version(2, 12, v2), version(1, 11, v1)]]]);

function config(registry: Record<string, unknown>, views?: unknown[]) {
  return {
    streams: [{ name: 'orders', registry, time: { field: 'ts' }, idField: 'order_id' }],
    views: views ?? [
      { name: 'revenue', bucket: '1h', measures: { total: { kind: 'sum', field: 'amount' } } },
    ],
  };
}

function refusal(run: () => unknown): TandemError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TandemError);
    return error as TandemError;
  }
  throw new Error('expected a refusal');
}

describe('registry-backed streams', () => {
  it('take the latest version, its fields and the encoding its types imply', () => {
    const catalog = resolveCatalog(config({ subject: 'orders-value', format: 'avro' }), 'cfg', versions);
    const stream = catalog.stream('orders');
    expect(stream.fields.map((field) => field.name)).toEqual(['order_id', 'ts', 'amount', 'coupon']);
    expect(stream.timeEncoding).toBe('epoch_ms');
    expect(stream.registry).toMatchObject({
      subject: 'orders-value',
      format: 'avro',
      pinnedVersion: null,
      version: 2,
      schemaId: 12,
    });
    expect(stream.registry?.writers.map((writer) => [writer.version, writer.id])).toEqual([
      [1, 11],
      [2, 12],
    ]);
  });

  it('take a pinned version', () => {
    const catalog = resolveCatalog(
      config({ subject: 'orders-value', format: 'avro', version: 1 }),
      'cfg',
      versions,
    );
    expect(catalog.stream('orders').fields.map((field) => field.name)).toEqual(['order_id', 'ts', 'amount']);
    expect(catalog.stream('orders').registry?.schemaId).toBe(11);
  });

  it('keep the fingerprint of plain streams and give registry streams their own', () => {
    const a = resolveCatalog(config({ subject: 'orders-value', format: 'avro', version: 1 }), 'c', versions);
    const b = resolveCatalog(config({ subject: 'orders-value', format: 'avro' }), 'c', versions);
    expect(a.stream('orders').fingerprint).not.toBe(b.stream('orders').fingerprint);
  });

  it('refuse mistakes naming the stream and subject', () => {
    const cases: Array<
      [Record<string, unknown>, ReadonlyMap<string, RegistryVersion[]> | undefined, RegExp]
    > = [
      [
        { subject: 'orders-value', format: 'avro' },
        undefined,
        /stream "orders" \(registry subject "orders-value"\): its schema was not fetched.*SCHEMA_REGISTRY_URL.*TANDEM_STACK_REGISTRY=1 scripts\/stack up/,
      ],
      [
        { subject: 'orders-value', format: 'avro', version: 7 },
        versions,
        /stream "orders" \(registry subject "orders-value"\): version 7 does not exist; the subject has versions 1, 2/,
      ],
      [
        { subject: 'orders-value', format: 'json' },
        versions,
        /version 2 is a AVRO schema but the stream declares format "json"/,
      ],
      [
        { subject: 'orders-value', format: 'protobuf' },
        versions,
        /cfg\.streams\[0\]\.registry\.format: "protobuf" is not supported/,
      ],
      [
        { subject: 'orders-value', format: 'avro', extra: 1 },
        versions,
        /cfg\.streams\[0\]\.registry\.extra: unknown setting/,
      ],
      [
        { subject: 'orders-value', format: 'avro' },
        new Map([['orders-value', []]]),
        /the subject has no versions/,
      ],
    ];
    for (const [registry, fetched, message] of cases) {
      const error = refusal(() => resolveCatalog(config(registry), 'cfg', fetched));
      expect(error.code).toBe('TANDEM_ERR_CONFIG_INVALID');
      expect(error.message).toMatch(message);
    }
    const both = config({ subject: 'orders-value', format: 'avro' });
    (both.streams[0] as Record<string, unknown>).schema = { properties: { ts: { type: 'integer' } } };
    expect(refusal(() => resolveCatalog(both, 'cfg', versions)).message).toMatch(
      /give schema or registry, not both/,
    );
    const nested = new Map([
      [
        'orders-value',
        [
          version(1, 11, {
            ...v1,
            fields: [...v1.fields, { name: 'tags', type: { type: 'array', items: 'string' } }],
          }),
        ],
      ],
    ]);
    const error = refusal(() =>
      resolveCatalog(config({ subject: 'orders-value', format: 'avro' }), 'cfg', nested),
    );
    expect(error.details.construct).toBe('array');
    expect(error.message).toMatch(
      /subject "orders-value" version 1.*fields\[3\]\.type: an Avro array is not supported/,
    );
  });

  it('fall back to the newest version every view can read when the latest breaks one', () => {
    const retyped = {
      ...v2,
      fields: v2.fields.map((f) => (f.name === 'amount' ? { ...f, type: 'string' } : f)),
    };
    const withV3 = new Map([['orders-value', [...versions.get('orders-value')!, version(3, 13, retyped)]]]);
    const stream = resolveCatalog(config({ subject: 'orders-value', format: 'avro' }), 'cfg', withV3).stream(
      'orders',
    );
    expect([stream.registry?.version, stream.registry?.schemaId]).toEqual([2, 12]);
    expect(stream.registry?.writers.map((writer) => writer.version)).toEqual([1, 2, 3]);
    expect(stream.registry?.skipped).toEqual([
      { version: 3, reason: expect.stringMatching(/cfg\.views\[0\]: view "revenue": .*amount/) },
    ]);
    // Pinned, nothing to fall back from: the error stands.
    expect(() =>
      resolveCatalog(config({ subject: 'orders-value', format: 'avro', version: 3 }), 'cfg', withV3),
    ).toThrow(/cfg\.views\[0\]/);
  });

  it('find the views a writer version breaks', () => {
    const catalog = resolveCatalog(
      config({ subject: 'orders-value', format: 'avro' }, [
        { name: 'revenue', bucket: '1h', measures: { total: { kind: 'sum', field: 'amount' } } },
        { name: 'coupons', bucket: '1h', dimensions: ['coupon'], measures: { n: { kind: 'count' } } },
      ]),
      'cfg',
      versions,
    );
    const stream = catalog.stream('orders');
    expect(stream.registry?.viewsRead).toEqual({
      revenue: ['ts', 'order_id', 'amount'],
      coupons: ['ts', 'coupon', 'order_id'],
    });
    const check = (schema: unknown, n: number) =>
      viewsBrokenByWriter(stream, writerFields(version(n, 10 + n, schema)), n);
    // v1 is older than the stream's v2: its events count with the optional coupon absent.
    expect(check(v1, 1)).toEqual([]);
    expect(check(v2, 2)).toEqual([]);
    // A version newer than the stream's that lacks coupon dropped it.
    expect(check(v1, 5).map((p) => [p.view, p.field, p.found])).toEqual([['coupons', 'coupon', null]]);
    expect(check(v3, 3).map((p) => p.message)).toEqual([
      'view "revenue" reads field "amount", which version 3 of subject "orders-value" does not have',
      'view "coupons" reads field "coupon", which version 3 of subject "orders-value" does not have',
    ]);
    const retyped = {
      ...v2,
      fields: v2.fields.map((f) => (f.name === 'amount' ? { ...f, type: 'string' } : f)),
    };
    expect(check(retyped, 4).map((p) => p.message)).toEqual([
      'view "revenue" reads field "amount" as number, but version 4 of subject "orders-value" makes it string',
    ]);
  });
});

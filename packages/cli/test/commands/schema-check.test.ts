// `tandem schema check` and `tandem config check` against the stack's registry: a candidate that
// keeps every field the views read passes (exit 0) and one that retypes a field a view sums fails,
// naming the view, the field and the version, with the registry's own BACKWARD verdict beside it; a
// subset construct is refused by code. `config check` fails on a stream whose subject's latest
// version breaks a view (the stream falls back to the version before it) and on a pinned stream
// whose subject moved on to a version that drops a field a view reads.
import { randomUUID } from 'node:crypto';
import { loadConfig } from '@tandem/core';
import { createSchemaRegistryClient } from '@tandem/connections';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigCheckReport } from '../../src/commands/config-check.ts';
import type { SchemaCheckReport } from '../../src/commands/schema-check.ts';
import { runTandem, tempDir } from '../support/run-cli.ts';
import { schemaRegistryUrl } from '@tandem/test-support/stack.ts';

const registry = createSchemaRegistryClient(
  loadConfig({ SCHEMA_REGISTRY_URL: schemaRegistryUrl }).schemaRegistry,
);
const temp = tempDir();
const subject = `test-${randomUUID()}-orders-value`;
const env = { SCHEMA_REGISTRY_URL: schemaRegistryUrl };

const v1 = {
  type: 'record',
  name: 'Order',
  namespace: 'dev.tandem.test',
  fields: [
    { name: 'order_id', type: 'string' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'country', type: 'string' },
    { name: 'amount', type: 'double' },
  ],
};
const v2 = { ...v1, fields: [...v1.fields, { name: 'coupon', type: ['null', 'string'], default: null }] };
const retyped = {
  ...v2,
  fields: v2.fields.map((f) => (f.name === 'amount' ? { name: 'amount', type: 'string' } : f)),
};
// coupon dropped, a channel added (not v1 again: the registry answers a schema it holds with that version)
const withoutCoupon = {
  ...v1,
  fields: [...v1.fields, { name: 'channel', type: ['null', 'string'], default: null }],
};

function configFile(registrySpec: Record<string, unknown>): string {
  return temp.write(`config-${randomUUID()}.json`, {
    streams: [
      {
        name: 'orders',
        registry: { subject, format: 'avro', ...registrySpec },
        time: { field: 'ts' },
        idField: 'order_id',
      },
    ],
    views: [
      {
        name: 'revenue',
        bucket: '1h',
        dimensions: ['country'],
        measures: { total: { kind: 'sum', field: 'amount' } },
      },
      { name: 'coupons', bucket: '1h', dimensions: ['coupon'], measures: { n: { kind: 'count' } } },
    ],
  });
}

async function setCompatibility(level: string): Promise<void> {
  const response = await fetch(`${schemaRegistryUrl}/config/${encodeURIComponent(subject)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: level }),
  });
  expect(response.status).toBe(200);
}

beforeAll(async () => {
  await registry.register(subject, 'AVRO', JSON.stringify(v1));
  await setCompatibility('BACKWARD');
  await registry.register(subject, 'AVRO', JSON.stringify(v2));
});
afterAll(async () => {
  temp.cleanup();
  await fetch(`${schemaRegistryUrl}/subjects/${encodeURIComponent(subject)}`, { method: 'DELETE' });
});

async function schemaCheck(
  candidate: unknown,
): Promise<{ code: number; out: string; report: SchemaCheckReport }> {
  const config = configFile({});
  const file = temp.write(`candidate-${randomUUID()}.avsc`, candidate);
  const args = ['schema', 'check', '--subject', subject, '--file', file];
  const run = await runTandem(args, { ...env, TANDEM_CONFIG: config });
  const json = await runTandem([...args, '--json'], { ...env, TANDEM_CONFIG: config });
  expect(json.code).toBe(run.code);
  return { code: run.code, out: run.out, report: JSON.parse(json.out) as SchemaCheckReport };
}

describe('tandem schema check', () => {
  it('passes a candidate that adds an optional field', async () => {
    const candidate = {
      ...v2,
      fields: [...v2.fields, { name: 'channel', type: ['null', 'string'], default: null }],
    };
    const { code, report } = await schemaCheck(candidate);
    expect(code).toBe(0);
    expect(report).toMatchObject({
      subject,
      schemaType: 'AVRO',
      streams: ['orders'],
      candidateVersion: 3,
      problems: [],
      registry: { compatible: true },
      ok: true,
    });
  });

  it('fails a candidate that retypes a field a view reads, naming view, field and version; the registry agrees', async () => {
    const { code, out, report } = await schemaCheck(retyped);
    expect(code).toBe(1);
    expect(report.problems).toEqual([
      {
        code: 'TANDEM_ERR_EVENT_SCHEMA_INCOMPATIBLE',
        view: 'revenue',
        field: 'amount',
        message: `view "revenue" reads field "amount" as number, but the candidate (version 3) of subject "${subject}" makes it string (messages of it would be dead-lettered)`,
      },
    ]);
    expect(report.registry.compatible).toBe(false);
    expect(out).toContain('registry: ✗ incompatible with the latest version');
  });

  it('fails a candidate that drops a field a view reads, and one the subset can not express', async () => {
    const dropped = await schemaCheck(withoutCoupon);
    expect(dropped.code).toBe(1);
    expect(dropped.report.problems.map((p) => [p.view, p.field])).toEqual([['coupons', 'coupon']]);
    const nested = await schemaCheck({
      ...v2,
      fields: [...v2.fields, { name: 'tags', type: { type: 'array', items: 'string' } }],
    });
    expect(nested.code).toBe(1);
    expect(nested.report.problems).toEqual([
      {
        code: 'TANDEM_ERR_CONFIG_INVALID',
        message: expect.stringMatching(/fields\[5\]\.type: an Avro array is not supported/),
      },
    ]);
  });
});

describe('tandem config check with registry-backed streams', () => {
  it('fails when the subject moved on to a version that breaks a view; valid before', async () => {
    const pinned = configFile({ version: 2 });
    const before = await runTandem(['config', 'check', pinned, '--json'], env);
    expect(before.code).toBe(0);
    // a producer drops coupon (BACKWARD allows removing a field): the pinned stream's coupons view breaks
    await registry.register(subject, 'AVRO', JSON.stringify(withoutCoupon));
    const after = await runTandem(['config', 'check', pinned, '--json'], env);
    expect(after.code).toBe(1);
    const report = JSON.parse(after.out) as ConfigCheckReport;
    expect(report.problems).toEqual([
      {
        code: 'TANDEM_ERR_EVENT_SCHEMA_INCOMPATIBLE',
        path: '$.streams[0].registry',
        message: `view "coupons" reads field "coupon", which version 3 of subject "${subject}" does not have (the stream is pinned to version 2; messages of version 3 are dead-lettered)`,
      },
    ]);
    // following the latest, the stream falls back to version 2 (coupons can not read v3): reported too
    const latest = await runTandem(['config', 'check', configFile({}), '--json'], env);
    expect(latest.code).toBe(1);
    expect((JSON.parse(latest.out) as ConfigCheckReport).problems.map((p) => p.message)).toEqual([
      `view "coupons" reads field "coupon", which version 3 of subject "${subject}" does not have (the stream falls back to version 2; messages of version 3 are dead-lettered)`,
    ]);
  });
});

// The per-stream message rules the fold applies: validation by the stream's own schema, and the
// dedup identity — the id field's value, or the whole normalized event when there is none.
import { confluentFrame } from '@tandem/connections';
import { defineStream, type RegistryVersion, resolveCatalog } from '@tandem/core';
import { describe, expect, it } from 'vitest';
import { compileStreamEventRules, MAX_CONTENT_IDENTITY_CHARS } from '../src/stream-events.ts';
import { iotStreamSpec } from './support/iot-stream.ts';

const nowMs = Date.UTC(2026, 0, 1);
const options = { maxBytes: 65_536, futureToleranceMs: 300_000, now: () => nowMs };

describe('compileStreamEventRules', () => {
  it('identifies events by the id field when the stream has one, whatever else differs', () => {
    const rules = compileStreamEventRules(defineStream(iotStreamSpec('iot', 'iot', true)), options);
    const a = rules.parse(
      Buffer.from(`{"reading_id":"r1","ts":${nowMs},"site":"s","device":"d","temperature_c":1}`),
    );
    const b = rules.parse(
      Buffer.from(`{"reading_id":"r1","ts":${nowMs - 5},"site":"t","device":"e","temperature_c":2}`),
    );
    expect(a.ok && b.ok).toBe(true);
    if (!a.ok || !b.ok) return;
    expect(rules.identity(a.event)).toBe('r1');
    expect(rules.identity(b.event)).toBe('r1');

    const integerIds = compileStreamEventRules(
      defineStream({
        name: 'counters',
        schema: {
          type: 'object',
          properties: { n: { type: 'integer' }, t: { type: 'integer' } },
          required: ['n', 't'],
        },
        time: { field: 't', encoding: 'epoch_ms' },
        idField: 'n',
      }),
      options,
    );
    const c = integerIds.parse(Buffer.from(`{"n":42,"t":${nowMs}}`));
    expect(c.ok && integerIds.identity(c.event)).toBe('42');
  });

  it('identifies events by their normalized content when there is no id field', () => {
    const rules = compileStreamEventRules(
      defineStream(iotStreamSpec('iot_noid', 'iot-noid', false)),
      options,
    );
    const identity = (text: string) => {
      const parsed = rules.parse(Buffer.from(text));
      if (!parsed.ok) throw new Error(parsed.error.message);
      return rules.identity(parsed.event);
    };
    const base = identity(`{"ts":${nowMs},"site":"s","device":"d","temperature_c":21.5,"firmware":"v1"}`);
    // the same normalized event written another way: key order, time as digits, trailing zeros, the default left out
    expect(identity(`{"temperature_c":21.500,"device":"d","site":"s","ts":"${nowMs}"}`)).toBe(base);
    // one field differs: another event
    expect(identity(`{"ts":${nowMs},"site":"s","device":"d","temperature_c":21.75}`)).not.toBe(base);
    expect(identity(`{"ts":${nowMs},"site":"s","device":"d","temperature_c":21.5,"firmware":"v2"}`)).not.toBe(
      base,
    );
    expect(identity(`{"ts":${nowMs + 1},"site":"s","device":"d","temperature_c":21.5}`)).not.toBe(base);
    expect(base.startsWith('[')).toBe(true);

    // a long content is kept as its digest: bounded memory, still equal for equal events
    const long = 'x'.repeat(MAX_CONTENT_IDENTITY_CHARS);
    const digest = identity(`{"ts":${nowMs},"site":"${long}","device":"d","temperature_c":1}`);
    expect(digest).toHaveLength(44);
    expect(digest.startsWith('[')).toBe(false);
    expect(
      identity(`{"device":"d","site":"${long}","temperature_c":1.0,"ts":${nowMs},"firmware":"v1"}`),
    ).toBe(digest);
    expect(identity(`{"ts":${nowMs},"site":"${long}","device":"e","temperature_c":1}`)).not.toBe(digest);
  });

  it('validates by the stream schema, with the coded rejection a dead letter carries', () => {
    const rules = compileStreamEventRules(defineStream(iotStreamSpec('iot', 'iot', true)), options);
    const parsed = rules.parse(
      Buffer.from(`{"reading_id":"r1","ts":${nowMs},"site":"s","device":"d","temperature_c":"1"}`),
    );
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error).toMatchObject({
      code: 'TANDEM_ERR_EVENT_INVALID',
      field: 'temperature_c',
      rule: 'type',
    });
    const future = rules.parse(
      Buffer.from(`{"reading_id":"r1","ts":${nowMs + 400_000},"site":"s","device":"d","temperature_c":1}`),
    );
    expect(!future.ok && future.error.rule).toBe('future');
    const normalized = rules.parse(
      Buffer.from(`{"reading_id":"r1","ts":"${nowMs}","site":"s","device":"d","temperature_c":1}`),
    );
    expect(normalized.ok && normalized.event).toEqual({
      reading_id: 'r1',
      ts: nowMs,
      site: 's',
      device: 'd',
      temperature_c: 1,
      firmware: 'v1',
    });
  });

  it('decodes a registry-backed stream, and warns once of a known version that breaks a view', () => {
    const record = (fields: unknown[]) => JSON.stringify({ type: 'record', name: 'Order', fields });
    const base = [
      { name: 'order_id', type: 'string' },
      { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    ];
    const versions: RegistryVersion[] = [
      {
        subject: 'orders-value',
        version: 1,
        id: 7,
        schemaType: 'AVRO',
        schema: record([...base, { name: 'amount', type: 'double' }]),
      },
      {
        subject: 'orders-value',
        version: 2,
        id: 9,
        schemaType: 'AVRO',
        schema: record([...base, { name: 'amount', type: 'string' }]),
      },
    ];
    // following the latest, the stream falls back to version 1 (the view sums amount)
    const stream = resolveCatalog(
      {
        streams: [
          {
            name: 'orders',
            registry: { subject: 'orders-value', format: 'avro' },
            time: { field: 'ts' },
            idField: 'order_id',
          },
        ],
        views: [{ name: 'revenue', bucket: '1h', measures: { total: { kind: 'sum', field: 'amount' } } }],
      },
      'cfg',
      new Map([['orders-value', versions]]),
    ).stream('orders');
    const warnings: unknown[] = [];
    const rules = compileStreamEventRules(stream, options, undefined, {
      warn: (...args: unknown[]) => warnings.push(args),
    });
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings[0])).toContain('schema version 2 of \\"orders-value\\" breaks a view');
    // v1: "o-1", ts, 2.5 in Avro binary (zig-zag varints, a little-endian double)
    const amount = Buffer.alloc(8);
    amount.writeDoubleLE(2.5);
    const body = Buffer.concat([Buffer.from([6]), Buffer.from('o-1'), zigzag(nowMs), amount]);
    expect(rules.parse(confluentFrame(7, body))).toEqual({
      ok: true,
      event: { order_id: 'o-1', ts: nowMs, amount: 2.5 },
    });
    const v2 = rules.parse(confluentFrame(9, body));
    expect(v2.ok ? null : [v2.error.code, v2.error.rule]).toEqual([
      'TANDEM_ERR_EVENT_SCHEMA_INCOMPATIBLE',
      'schema_compat',
    ]);
    expect(rules.prepare?.([{ value: confluentFrame(9, body) }])).toBeNull();
    expect(warnings).toHaveLength(1);
  });
});

/** Avro's long: zig-zag, then 7 bits per byte, low first. */
function zigzag(value: number): Buffer {
  let n = BigInt(value) >= 0n ? BigInt(value) << 1n : (-BigInt(value) << 1n) - 1n;
  const bytes: number[] = [];
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (n !== 0n);
  return Buffer.from(bytes);
}

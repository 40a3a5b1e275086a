// Generated traffic of registry-backed streams (Avro and JSON Schema, schemas given as the registry
// would return them): every message is Confluent-framed with the stream's schema id, and the parser
// every layer uses gives exactly the truth each record carries — the normalized event of a valid
// one, the rule and code of a bad one (no magic byte, unknown id, cut body, field poison).
import { compileFramedStreamParser, confluentSchemaId } from '@tandem/connections';
import { type RegistryVersion, resolveCatalog, type Stream } from '@tandem/core';
import { describe, expect, it } from 'vitest';
import { frameStreamTraffic, UNKNOWN_SCHEMA_ID } from '../../src/generate/framed-traffic.ts';
import { generateStreamTraffic, resolveStreamTrafficOptions } from '../../src/generate/stream-events.ts';

const START = Date.UTC(2026, 11, 3, 10);
const options = { maxBytes: 65_536, futureToleranceMs: 300_000, now: () => START + 3_600_000 };

const avroSchema = {
  type: 'record',
  name: 'Reading',
  fields: [
    { name: 'reading_id', type: 'string' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'site', type: { type: 'enum', name: 'Site', symbols: ['oslo', 'lima'] } },
    { name: 'level', type: 'int' },
    { name: 'temperature', type: 'float' },
    { name: 'ok', type: 'boolean', default: true },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
};
const jsonSchema = {
  type: 'object',
  required: ['reading_id', 'ts', 'site', 'level'],
  properties: {
    reading_id: { type: 'string', minLength: 1 },
    ts: { type: 'string', format: 'date-time' },
    site: { type: 'string', enum: ['oslo', 'lima'] },
    level: { type: 'integer', minimum: 0, maximum: 10 },
    temperature: { type: ['number', 'null'] },
  },
};

function streamOf(format: 'avro' | 'json', schema: unknown): Stream {
  const version: RegistryVersion = {
    subject: 'readings-value',
    version: 1,
    id: 41,
    schemaType: format === 'avro' ? 'AVRO' : 'JSON',
    schema: JSON.stringify(schema),
  };
  return resolveCatalog(
    {
      streams: [
        {
          name: 'readings',
          registry: { subject: 'readings-value', format },
          time: { field: 'ts' },
          idField: 'reading_id',
        },
      ],
      views: [{ name: 'per_site', bucket: '1m', dimensions: ['site'], measures: { n: { kind: 'count' } } }],
    },
    'cfg',
    new Map([['readings-value', [version]]]),
  ).stream('readings');
}

describe.each([
  ['avro', avroSchema],
  ['json', jsonSchema],
] as const)('generated %s traffic of a registry-backed stream', (format, schema) => {
  it('is framed with the schema id and decodes to exactly the truth of each record', () => {
    const stream = streamOf(format, schema);
    const records = [
      ...frameStreamTraffic(
        stream,
        generateStreamTraffic(
          stream,
          resolveStreamTrafficOptions({
            seed: 3,
            start: START,
            count: 400,
            duplicateRatio: 0.05,
            badRatio: 0.1,
          }),
        ),
      ),
    ];
    const parser = compileFramedStreamParser(stream);
    const rules: Record<string, number> = {};
    let valid = 0;
    for (const record of records) {
      const value = Buffer.from(record.value);
      const verdict = parser.parse(value, options);
      if (record.bad === null) {
        expect(confluentSchemaId(value)).toBe(41);
        expect(verdict).toEqual({ ok: true, event: record.event });
        valid++;
      } else {
        expect(verdict.ok).toBe(false);
        if (verdict.ok) continue;
        expect([verdict.error.code, verdict.error.rule, verdict.error.field]).toEqual([
          record.bad.code,
          record.bad.rule,
          record.bad.field,
        ]);
        rules[record.bad.rule] = (rules[record.bad.rule] ?? 0) + 1;
        if (record.bad.kind === 'unknown_schema_id') expect(confluentSchemaId(value)).toBe(UNKNOWN_SCHEMA_ID);
      }
    }
    expect(valid).toBeGreaterThan(400);
    // Every framing fault appears; a JSON stream's field poison too.
    expect(rules.framing).toBeGreaterThan(5);
    expect(rules.schema_id).toBeGreaterThan(5);
    expect(rules.decode).toBeGreaterThan(5);
    if (format === 'json') expect(Object.keys(rules).length).toBeGreaterThan(4);
    else expect(Object.keys(rules).sort()).toEqual(['decode', 'framing', 'schema_id']);
  });
});

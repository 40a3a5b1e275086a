// One schema, two engines, one verdict: for random stream schemas and random raw lines around
// them, the compiled TS validator and the compiled DuckDB staging SQL must give the same verdict
// (code, field, rule) and, for valid lines, the same normalized values, field by field.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeStreamRejection } from '../src/event-rules.ts';
import { defineStream, type Stream, type StreamSpec } from '../src/stream.ts';
import { compileStreamStagingSql } from '../src/stream-staging-sql.ts';
import { compileStreamValidator } from '../src/stream-validator.ts';
import { openTestDuck, type TestDuck } from './support/duckdb.ts';
import { streamLinesArb, streamSpecArb } from './support/stream-arbitraries.ts';
import { NOW, TOLERANCE } from './support/web-event-lines.ts';

let duck: TestDuck;

beforeAll(async () => {
  duck = await openTestDuck();
});
afterAll(() => duck.close());

/** A verdict with the event as [field, value] pairs in declaration order (no object-key surprises). */
interface Verdict {
  code: string | null;
  field: string | null;
  rule: string | null;
  event: Array<[string, unknown]> | null;
}

function tsVerdict(stream: Stream, line: string, maxBytes: number): Verdict {
  const result = compileStreamValidator(stream).parse(line, {
    now: () => NOW,
    futureToleranceMs: TOLERANCE,
    maxBytes,
  });
  if (!result.ok) {
    expect(result.error.message).toBe(describeStreamRejection(stream, result.error.field, result.error.rule));
    return { code: result.error.code, field: result.error.field, rule: result.error.rule, event: null };
  }
  // Declaration order is part of the contract (the canonical serialization depends on it).
  expect(Object.keys(result.event)).toEqual(stream.fields.map((f) => f.name));
  return {
    code: null,
    field: null,
    rule: null,
    event: stream.fields.map((f) => [f.name, result.event[f.name]]),
  };
}

const fromSql = (value: unknown) => (typeof value === 'bigint' ? Number(value) : value);

/** Staging rows of `lines`, in the order of `lines` (matched by md5: row order is not guaranteed). */
async function sqlVerdicts(
  stream: Stream,
  lines: string[],
  maxBytes: number,
): Promise<Array<Verdict & { fast: boolean }>> {
  await duck.loadLines('lines', lines);
  const { sql, params } = compileStreamStagingSql(stream, {
    linesRelation: 'lines',
    nowMs: NOW,
    futureToleranceMs: TOLERANCE,
    maxBytes,
  });
  // Rows as arrays: a column named __proto__ would not survive as an object key.
  const reader = await duck.connection.runAndReadAll(`SELECT md5(line) AS line_md5, * FROM (${sql})`, params);
  const names = reader.columnNames();
  const column = (name: string) => names.indexOf(name);
  const rows = reader.getRowsJS();
  expect(rows).toHaveLength(lines.length);
  expect(names.slice(1)).toEqual([
    ...stream.fields.map((f) => f.name),
    'error_code',
    'error_field',
    'error_rule',
    'line',
    'canonical',
  ]);
  const byLine = new Map(
    rows.map((row) => {
      const code = row[column('error_code')] as string | null;
      const verdict: Verdict & { fast: boolean } =
        code !== null
          ? {
              code,
              field: row[column('error_field')] as string | null,
              rule: row[column('error_rule')] as string,
              event: null,
              fast: row[column('canonical')] === true,
            }
          : {
              code: null,
              field: null,
              rule: null,
              event: stream.fields.map((f, i) => [f.name, fromSql(row[i + 1])]),
              fast: row[column('canonical')] === true,
            };
      return [row[0] as string, verdict];
    }),
  );
  return lines.map(
    (line) => byLine.get(createHash('md5').update(line, 'utf8').digest('hex')) as Verdict & { fast: boolean },
  );
}

describe('compileStreamStagingSql and compileStreamValidator', () => {
  it('give equal verdicts and values for random schemas × random lines', async () => {
    const seen = new Map<string, number>();
    const count = (label: string) => seen.set(label, (seen.get(label) ?? 0) + 1);
    await fc.assert(
      fc.asyncProperty(
        streamSpecArb.chain((spec) => {
          const stream = defineStream(spec);
          return fc.record({
            spec: fc.constant(spec),
            lines: streamLinesArb(stream.fields, stream.timeField, stream.timeEncoding),
            maxBytes: fc.constantFrom(65536, 65536, 120),
          });
        }),
        async ({ spec, lines, maxBytes }: { spec: StreamSpec; lines: string[]; maxBytes: number }) => {
          const stream = defineStream(spec);
          const sqlSide = await sqlVerdicts(stream, lines, maxBytes);
          lines.forEach((line, i) => {
            const expected = tsVerdict(stream, line, maxBytes);
            const { fast, ...actual } = sqlSide[i] as Verdict & { fast: boolean };
            count(expected.rule === null ? 'ok' : `rule.${expected.rule}`);
            count(
              `encoding.${stream.timeEncoding}.${expected.rule === null ? 'ok' : expected.field === stream.timeField ? expected.rule : 'other'}`,
            );
            if (fast) count(expected.rule === null ? 'fast.ok' : 'fast.rejected');
            expect({ line, schema: spec.schema, time: spec.time, verdict: actual }).toEqual({
              line,
              schema: spec.schema,
              time: spec.time,
              verdict: expected,
            });
          });
        },
      ),
      { numRuns: 200 },
    );
    // The generators must reach valid events of every encoding, every field rule and both paths,
    // or the parity above proves little.
    const rules = [
      'required',
      'type',
      'minLength',
      'maxLength',
      'format',
      'integer',
      'finite',
      'minimum',
      'maximum',
      'enum',
      'future',
      'json',
      'object',
      'size',
    ];
    for (const rule of rules) expect(seen.get(`rule.${rule}`) ?? 0, rule).toBeGreaterThan(5);
    expect(seen.get('ok') ?? 0).toBeGreaterThan(1000);
    for (const encoding of ['auto', 'iso8601', 'epoch_ms', 'epoch_s', 'epoch_us']) {
      expect(seen.get(`encoding.${encoding}.ok`) ?? 0, encoding).toBeGreaterThan(50);
    }
    for (const rule of ['format', 'type', 'integer', 'minimum', 'future']) {
      expect(seen.get(`encoding.auto.${rule}`) ?? 0, `time ${rule}`).toBeGreaterThan(0);
    }
    expect(seen.get('fast.ok') ?? 0).toBeGreaterThan(200);
    expect(seen.get('fast.rejected') ?? 0).toBeGreaterThan(100);
  });

  it('read ISO times exactly as the TS validator: hours, minutes and seconds 00…99, a grid of dates, fractions and zones', async () => {
    // The staging SQL reads the calendar with one TIMESTAMP cast (which takes 24:00:00 as the next
    // midnight) and its own hour check; the random lines above rarely reach these edges.
    const stream = defineStream({
      name: 'calendar',
      schema: { type: 'object', properties: { at: { type: 'string' } }, required: ['at'] },
      time: { field: 'at', encoding: 'iso8601' },
    });
    const two = (n: number) => String(n).padStart(2, '0');
    // Each part runs 00…99 with the others at their edges (00, 23/59, 24/60, 99).
    const times: string[] = [];
    const edges = [0, 23, 24, 59, 60, 99];
    for (let v = 0; v < 100; v++)
      for (const a of edges)
        for (const b of edges)
          times.push(
            `${two(v)}:${two(a)}:${two(b)}`,
            `${two(a)}:${two(v)}:${two(b)}`,
            `${two(a)}:${two(b)}:${two(v)}`,
          );
    const dates: string[] = [];
    for (const year of [0, 1, 4, 100, 400, 1600, 1700, 1900, 1969, 1970, 2000, 2023, 2024, 2100, 9999])
      for (let month = 0; month < 14; month++)
        for (let day = 0; day < 33; day++)
          dates.push(`${String(year).padStart(4, '0')}-${two(month)}-${two(day)}`);
    const zones = ['Z', '+00:00', '-00:00', '+05:30', '-23:59', '+24:00', '+23:60', '-12:00'];
    const fractions = ['', '.5', '.12', '.123', '.1234', '.999999999'];
    const lines = [
      ...times.map((time, i) => `{"at":"1970-01-0${1 + (i % 2)}T${time}${zones[i % zones.length]}"}`),
      ...dates.flatMap((date, i) => [
        `{"at":"${date}T00:00:00${fractions[i % fractions.length]}${zones[i % zones.length]}"}`,
        `{"at":"${date}T23:59:59.999${zones[(i + 3) % zones.length]}"}`,
      ]),
    ];
    const sqlSide = await sqlVerdicts(stream, lines, 65536);
    let valid = 0;
    lines.forEach((line, i) => {
      const expected = tsVerdict(stream, line, 65536);
      if (expected.rule === null) valid++;
      const { fast: _, ...actual } = sqlSide[i] as Verdict & { fast: boolean };
      if (JSON.stringify(actual) !== JSON.stringify(expected))
        expect({ line, verdict: actual }).toEqual({ line, verdict: expected });
    });
    expect(valid).toBeGreaterThan(2500);
    expect(lines.length - valid).toBeGreaterThan(15_000);
  });

  it('carries other columns of the lines through, after the verdict', async () => {
    const stream = defineStream({
      name: 'carried',
      schema: { type: 'object', properties: { at: { type: 'integer' } }, required: ['at'] },
      time: { field: 'at', encoding: 'epoch_ms' },
    });
    const options = { nowMs: NOW, futureToleranceMs: TOLERANCE, maxBytes: 65536 };
    const compiled = compileStreamStagingSql(stream, {
      ...options,
      linesRelation: `(SELECT * FROM (VALUES ('{"at":5}', 7), ('{"at":"x"}', 8), ('nope', 9)) v(line, partition_hour))`,
      carry: ['partition_hour'],
    });
    const reader = await duck.connection.runAndReadAll(
      `SELECT * FROM (${compiled.sql}) ORDER BY partition_hour`,
      compiled.params,
    );
    expect(reader.columnNames()).toEqual([
      'at',
      'error_code',
      'error_field',
      'error_rule',
      'line',
      'canonical',
      'partition_hour',
    ]);
    expect(reader.getRowsJS().map((row) => [row[0], row[3], row[6]])).toEqual([
      [5n, null, 7],
      [null, 'format', 8],
      [null, 'json', 9],
    ]);
    for (const carry of ['at', 'line', 'error_rule', 'a b', 'x"']) {
      expect(() =>
        compileStreamStagingSql(stream, { ...options, linesRelation: 'lines', carry: [carry] }),
      ).toThrow(/can not be carried/);
    }
  });

  it('types the columns by the schema and binds every declared value as a parameter', async () => {
    const hostile = "x'); DROP TABLE lines; --";
    const stream = defineStream({
      name: 'typed',
      schema: {
        type: 'object',
        properties: {
          at: { type: 'number' },
          name: { type: 'string', enum: [hostile, 'ok'], default: hostile },
          n: { type: 'integer', minimum: -3, enum: [-3, 42] },
          x: { type: 'number', maximum: 0.1 },
          b: { type: 'boolean', default: true },
        },
        required: ['at', 'n'],
      },
      time: { field: 'at', encoding: 'epoch_s' },
    });
    const compiled = compileStreamStagingSql(stream, {
      linesRelation: 'lines',
      nowMs: NOW,
      futureToleranceMs: TOLERANCE,
      maxBytes: 65536,
    });
    expect(compiled.sql).not.toContain('DROP');
    expect(Object.values(compiled.params)).toContain(hostile);
    await duck.loadLines('lines', [
      '{"at":1717239600.25,"n":42}',
      `{"at":1.001,"name":${JSON.stringify(hostile)},"n":-3,"x":-0,"b":false}`,
      '{"at":1,"name":"no","n":42}',
      '{"at":1,"n":42,"b":"true"}',
    ]);
    const reader = await duck.connection.runAndReadAll(
      `SELECT * FROM (${compiled.sql}) ORDER BY line`,
      compiled.params,
    );
    expect(reader.columnNames().slice(0, 5)).toEqual(['at', 'name', 'n', 'x', 'b']);
    expect(reader.columnTypes().slice(0, 5).map(String)).toEqual([
      'BIGINT',
      'VARCHAR',
      'BIGINT',
      'DOUBLE',
      'BOOLEAN',
    ]);
    expect(reader.getRowsJS().map((row) => row.slice(0, 8))).toEqual([
      [null, null, null, null, null, 'TANDEM_ERR_EVENT_INVALID', 'b', 'type'],
      [null, null, null, null, null, 'TANDEM_ERR_EVENT_INVALID', 'name', 'enum'],
      [1001n, hostile, -3n, 0, false, null, null, null],
      [1717239600250n, hostile, 42n, null, true, null, null, null],
    ]);
  });
});

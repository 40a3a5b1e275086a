// The export's text reader against core's truth: run files written by the batch writer (random
// states, tricky doubles and dimension text), read back as COPY text by DuckDB, and every line's
// every field compared with what core's decodeStates + finalizeStates give for that row. Only
// DuckDB is needed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import {
  adoptCells,
  type Cells,
  decodeStates,
  defineView,
  encodeStates,
  finalizeStates,
  type PartialRow,
  type RunText,
  TandemError,
  webStream,
} from '@tandem/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EncodedPartialRow, writeRunParquet } from '../src/run-files.ts';
import { readRunText } from '../src/run-text.ts';

const HOUR = Date.UTC(2024, 6, 1, 5);

/** Every measure kind, scalar and sketch, and a dimension of each type (text, integer, double). */
const view = defineView(
  {
    name: 'text_probe',
    bucket: '1m',
    dimensions: ['endpoint', 'status_code', 'response_time_ms', 'user_id'],
    measures: {
      requests: { kind: 'count' },
      bytes: { kind: 'sum', field: 'bytes_sent' },
      latency_sum: { kind: 'sum', field: 'response_time_ms' },
      avg_ms: { kind: 'avg', field: 'response_time_ms' },
      fastest: { kind: 'min', field: 'response_time_ms' },
      biggest: { kind: 'max', field: 'bytes_sent' },
      users: { kind: 'distinct', field: 'user_id' },
      latency: { kind: 'quantiles', field: 'response_time_ms', qs: [0.5, 0.99] },
      pages: { kind: 'topK', field: 'page_id', k: 3 },
    },
  },
  webStream,
);

/** Only scalar measures: whole lines come back, nothing deferred. */
const scalarView = defineView(
  {
    name: 'text_scalar',
    bucket: '1m',
    dimensions: ['endpoint'],
    measures: {
      requests: { kind: 'count' },
      avg_ms: { kind: 'avg', field: 'response_time_ms' },
      slowest: { kind: 'max', field: 'response_time_ms' },
    },
  },
  webStream,
);

let instance: DuckDBInstance;
let connection: DuckDBConnection;
let dir: string;
let files = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tandem-run-text-'));
  instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  connection = await instance.connect();
});

afterAll(() => {
  connection?.closeSync();
  instance?.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

async function written(rows: ReadonlyArray<PartialRow | EncodedPartialRow>, target = view): Promise<string> {
  const path = join(dir, `run-${files++}.parquet`);
  await writeRunParquet(connection, target, rows, path, { runId: 'r', hour: HOUR });
  return path;
}

/** Reverses COPY text escapes; `\N` is null. */
function copyTextValue(field: string): string | null {
  if (field === '\\N') return null;
  return field.replace(/\\(.)/g, (_, ch: string) =>
    ch === 't' ? '\t' : ch === 'n' ? '\n' : ch === 'r' ? '\r' : ch,
  );
}

/** What a PostgreSQL column would read from a field: the text, and for numbers the double. */
function expectNumberField(field: string, value: unknown, what: string): void {
  if (value === null || value === undefined) {
    expect(field, what).toBe('\\N');
    return;
  }
  const number = value as number;
  // String(-0) is "0": the JavaScript path wrote +0.
  expect(Object.is(Number(field), number === 0 ? 0 : number), `${what}: ${field} vs ${number}`).toBe(true);
  if (Number.isInteger(number) && Math.abs(number) < 1e21) {
    // An integer is spelled exactly as String spells it (plain digits), so a bigint column reads
    // the integer the serving layer answers, also past 2^53.
    expect(field, what).toBe(String(number === 0 ? 0 : number));
  }
}

/** Checks every line of `text` against core's finalize of the rows it was read from. */
function expectSameAsCore(
  text: RunText,
  rows: ReadonlyArray<PartialRow | EncodedPartialRow>,
  target = view,
  trailer: readonly string[] = [],
): void {
  expect(text.rows).toBe(rows.length);
  const lines = text.chunks.flatMap((chunk) => {
    expect(chunk.text.endsWith('\n') || chunk.rows === 0).toBe(true);
    const split = chunk.text.split('\n').slice(0, -1);
    expect(split).toHaveLength(chunk.rows);
    for (const cells of chunk.cells) expect(cells).toHaveLength(chunk.rows);
    return split.map((line, index) => ({ line, cells: chunk.cells.map((cells) => cells[index] ?? null) }));
  });
  expect(lines).toHaveLength(rows.length);
  const measures = Object.values(target.measures);
  expect(text.finalized).toEqual(
    measures.filter((m) => !['distinct', 'quantiles', 'topK'].includes(m.kind)).flatMap((m) => m.outputs),
  );
  expect(text.deferred).toEqual(
    measures.filter((m) => ['distinct', 'quantiles', 'topK'].includes(m.kind)).map((m) => m.name),
  );
  rows.forEach((row, index) => {
    const states = typeof row.states === 'string' ? decodeStates(target, row.states) : row.states;
    const finished = finalizeStates(target, states);
    const { line, cells } = lines[index]!;
    const fields = line.split('\t');
    expect(fields).toHaveLength(1 + target.dimensions.length + text.finalized.length + trailer.length);
    expect(fields[0]).toBe(new Date(row.bucket).toISOString());
    target.dimensions.forEach((dimension, d) => {
      const value = row.dims[d] ?? null;
      const field = fields[1 + d]!;
      if (typeof value === 'number') expectNumberField(field, value, dimension);
      else expect(copyTextValue(field), dimension).toBe(value === null ? null : String(value));
    });
    text.finalized.forEach((output, m) => {
      expectNumberField(
        fields[1 + target.dimensions.length + m]!,
        finished[output],
        `row ${index} ${output}`,
      );
    });
    expect(fields.slice(fields.length - trailer.length).map(copyTextValue)).toEqual([...trailer]);
    text.deferred.forEach((name, m) => {
      const json = cells[m] ?? null;
      expect(json, name).not.toBeNull();
      expect(adoptCells(JSON.parse(json!), target, name)).toEqual(states[name]);
    });
  });
}

/** Finite doubles that print in every form: -0, subnormals, 1e21 and beyond, long fractions. */
const anyDouble = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(-0, 0, 5e-324, 1e21, 1e-7, 0.1 + 0.2, 123.0, -1e300, 9.3e18, Number(280428764429532992n)),
  fc.constantFrom(2 ** 53 + 2, -(2 ** 60), 1e16, Number(12345678901234567n), 1e20, 999999999999999900000),
  fc.double({ min: 2 ** 53, max: 1e21, noNaN: true }).map(Math.round),
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => n / 1000),
);
const anyInteger = fc.oneof(
  fc.integer({ min: 0, max: 1_000_000 }),
  fc.constantFrom(2 ** 53, 2 ** 60, 2 ** 53 + 2, 0, Number(280428764429532992n)),
);
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom('a\tb', 'c\nd', 'e\rf', 'back\\slash', '\\N', '', 'naïve ☃ 𝄞', '"quoted"'),
);

const cellsOf = (entries: Record<string, number>): Cells => adoptCells({ ...entries }, view, 'x');

const stateArbitrary = fc
  .record({
    n: fc.nat({ max: 10_000 }),
    bytes: anyInteger,
    latencySum: anyDouble,
    avgS: anyDouble,
    avgN: fc.oneof(fc.constant(0), fc.nat({ max: 1000 })),
    fastest: fc.option(anyDouble, { nil: undefined }),
    biggest: fc.option(anyInteger, { nil: undefined }),
    users: fc.array(fc.string({ maxLength: 6 }), { maxLength: 20 }),
    latencies: fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { maxLength: 20 }),
    pages: fc.array(fc.constantFrom('/a', '/b', '/c', 'null', ':null', '\t"p"'), { maxLength: 20 }),
  })
  .map((s): Record<string, Cells> => {
    const m = view.measures;
    return {
      requests: cellsOf({ n: s.n }),
      bytes: cellsOf({ s: s.bytes }),
      latency_sum: cellsOf({ s: s.latencySum }),
      avg_ms: cellsOf({ s: s.avgS, n: s.avgN }),
      fastest: s.fastest === undefined ? m.fastest!.empty() : cellsOf({ v: s.fastest }),
      biggest: s.biggest === undefined ? m.biggest!.empty() : cellsOf({ v: s.biggest }),
      users: s.users.reduce((state, user) => m.users!.add(state, user), m.users!.empty()),
      latency: s.latencies.reduce((state, x) => m.latency!.add(state, x), m.latency!.empty()),
      pages: s.pages.reduce((state, page) => m.pages!.add(state, page), m.pages!.empty()),
    };
  });

const rowArbitrary = fc.record({
  bucket: fc.integer({ min: 0, max: 59 }).map((minute) => HOUR + minute * 60_000),
  dims: fc.tuple(
    text,
    fc.option(fc.integer({ min: 100, max: 599 }), { nil: null }),
    fc.option(anyDouble, { nil: null }),
    fc.option(text, { nil: null }),
  ),
  states: stateArbitrary,
});

describe('readRunText', () => {
  it('finishes every measure as core does, for random states, doubles and dimension text', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(rowArbitrary, { minLength: 0, maxLength: 40 }),
        fc.integer({ min: 1, max: 9 }),
        async (rows, chunkRows) => {
          const partials: PartialRow[] = rows.map((row) => ({ ...row, dims: [...row.dims] }));
          const path = await written(partials);
          const trailer = ['20240701T050000000Z-abc', '42', 'etag\t"x"\\'];
          const text = await readRunText(connection, view, path, { trailer, chunkRows });
          expect(text.chunks.map((chunk) => chunk.rows)).toEqual(
            Array.from({ length: Math.ceil(rows.length / chunkRows) }, (_, i) =>
              Math.min(chunkRows, rows.length - i * chunkRows),
            ),
          );
          expectSameAsCore(text, partials, view, trailer);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('reads states as the batch engine spells them (DuckDB numbers, empty min/max) into whole lines', async () => {
    const envelope = encodeStates(scalarView, {}).slice(0, encodeStates(scalarView, {}).indexOf(',"s":') + 5);
    const rows: EncodedPartialRow[] = [
      {
        bucket: HOUR,
        dims: ['/a'],
        states: `${envelope}{"requests":{"n":3},"avg_ms":{"s":43504.0,"n":3},"slowest":{"v":1.5E-7}}}`,
      },
      {
        bucket: HOUR + 60_000,
        dims: ['/b'],
        states: `${envelope}{"requests":{"n":0},"avg_ms":{"s":0.0,"n":0},"slowest":{}}}`,
      },
      // Empty cells finish as count 0; -0 prints as 0, as String(-0) does.
      {
        bucket: HOUR + 120_000,
        dims: [null],
        states: `{"v":1,"view":1,"m":{"requests":1,"avg_ms":1,"slowest":1},"s":{"requests":{},"avg_ms":{"s":-0.0,"n":2},"slowest":{"v":-0.0}}}`,
      },
    ];
    const path = await written(rows, scalarView);
    const text = await readRunText(connection, scalarView, path, { trailer: ['run'], chunkRows: 2 });
    expect(text.deferred).toEqual([]);
    expect(text.chunks.map((chunk) => chunk.cells)).toEqual([[], []]);
    expect(text.chunks.map((chunk) => chunk.text).join('')).toBe(
      [
        '2024-07-01T05:00:00.000Z\t/a\t3\t14501.333333333334\t1.5e-07\trun\n',
        '2024-07-01T05:01:00.000Z\t/b\t0\t\\N\t\\N\trun\n',
        '2024-07-01T05:02:00.000Z\t\\N\t0\t0\t0\trun\n',
      ].join(''),
    );
    expectSameAsCore(text, rows, scalarView, ['run']);
  });

  it('passes a NUL in a dimension through for the writer to refuse', async () => {
    const path = await written([
      { bucket: HOUR, dims: ['a\u0000b', 200, 1, null], states: encodeStates(view, {}) },
    ]);
    const text = await readRunText(connection, view, path, { trailer: [], chunkRows: 10 });
    expect(text.chunks[0]!.text.split('\t')[1]).toBe('a\u0000b');
  });

  it('refuses states of another version, non-numeric cells and text that is not JSON, as decodeStates does', async () => {
    const good = encodeStates(view, {});
    const cases: Array<[string, RegExp]> = [
      [good.replace('"view":1', '"view":2'), /view version 2, this is version 1/],
      [good.replace('"requests":1', '"requests":2'), /measure "requests" version 2/],
      [good.replace('{"v":1', '{"v":7'), /encoding version 7/],
      [good.replace('"requests":{"n":0}', '"requests":{"n":"3"}'), /non-numeric cell "n"/],
      [good.replace('"avg_ms":{"s":0,"n":0}', '"avg_ms":{"s":0,"n":null}'), /non-numeric cell "n"/],
      ['{"v":1,', /not JSON/],
    ];
    expect(cases[3]![0]).not.toBe(good);
    expect(cases[4]![0]).not.toBe(good);
    for (const [states, message] of cases) {
      const rows: EncodedPartialRow[] = [
        { bucket: HOUR, dims: ['/a', 200, 1, 'u'], states: good },
        { bucket: HOUR, dims: ['/b', 200, 1, 'u'], states },
      ];
      const path = await written(rows);
      const failure = await readRunText(connection, view, path, { trailer: [], chunkRows: 10 }).then(
        () => null,
        (error: unknown) => error,
      );
      expect(failure, states).toBeInstanceOf(TandemError);
      expect((failure as TandemError).code, states).toBe('TANDEM_ERR_STATE_VERSION');
      expect((failure as TandemError).message, states).toMatch(message);
    }
  });
});

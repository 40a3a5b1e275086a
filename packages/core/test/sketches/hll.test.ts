// HyperLogLog: the TS hash equals DuckDB's bit for bit (including every rank boundary), and the
// estimate is within 2% on a million distinct values.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeCells, newCells } from '../../src/measures.ts';
import {
  HLL_M,
  HLL_Q,
  hllAdd,
  hllEstimate,
  hllHash,
  hllPack,
  hllSqlExpressions,
} from '../../src/sketches/hll.ts';
import type { Cells } from '../../src/types.ts';
import { stringPool } from '../support/arbitraries.ts';
import { openTestDuck, type TestDuck } from '../support/duckdb.ts';

let duck: TestDuck;
beforeAll(async () => {
  duck = await openTestDuck();
});
afterAll(() => duck.close());

const expr = hllSqlExpressions('v');

async function sqlPacked(values: string[]): Promise<number[]> {
  await duck.loadLines('vals', values);
  const rows = await duck.rows(
    `SELECT ${expr.packed('h')} AS p FROM (SELECT ${expr.hash} AS h FROM (SELECT line AS v FROM vals)) `,
  );
  return rows.map((r) => Number(r.p));
}

describe('hllHash', () => {
  it('is md5: register from the top 14 of the first 8 digest bytes read little-endian', () => {
    const digest = createHash('md5').update('a', 'utf8').digest();
    const h = digest.readBigUInt64LE(0);
    expect(hllHash('a') >>> 6).toBe(Number(h >> 50n));
    const rest = h & ((1n << 50n) - 1n);
    const leadingZeros = 50 - rest.toString(2).length;
    expect(hllHash('a') & 63).toBe(leadingZeros + 1);
  });

  it('equals DuckDB md5_number bits for pooled and random unicode strings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.constantFrom(...stringPool), fc.string({ unit: 'binary', maxLength: 40 })), {
          maxLength: 50,
        }),
        async (values) => {
          expect(await sqlPacked(values)).toEqual(values.map(hllHash));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('computes every rank like DuckDB, at every leading-zero boundary of both halves', async () => {
    const words: Array<[number, number]> = [
      [0, 0],
      [0xffffffff, 0xffffffff],
      [0x3ffff, 0],
      [0, 1],
    ];
    for (let bit = 0; bit < 18; bit++) {
      words.push(
        [(1 << bit) >>> 0, 0],
        [(((1 << bit) >>> 0) | 0xfffc0000) >>> 0, 12345],
        [((1 << (bit + 1)) - 1) >>> 0, 0],
      );
    }
    for (let bit = 0; bit < 32; bit++) {
      const p = 2 ** bit;
      words.push([0, p], [0, p - 1 || 1], [0xabc00000, Math.min(2 ** 32 - 1, 2 * p - 1)]);
    }
    const hs = words.map(([hi, lo]) => (BigInt(hi) << 32n) | BigInt(lo));
    const rows = await duck.rows(
      `SELECT ${expr.packed('h')} AS p FROM (SELECT CAST(unnest(CAST($hs AS VARCHAR[])) AS UBIGINT) AS h)`.replace(
        'CAST($hs AS VARCHAR[])',
        `[${hs.map((h) => `'${h}'`).join(', ')}]`,
      ),
    );
    expect(rows.map((r) => Number(r.p))).toEqual(words.map(([hi, lo]) => hllPack(hi, lo)));
    expect(hllPack(0, 0) & 63).toBe(HLL_Q + 1);
    expect(hllPack(0x20000, 0) & 63).toBe(1);
    expect(hllPack(0, 1) & 63).toBe(HLL_Q);
  });
});

describe('hllEstimate', () => {
  it('counts small sets almost exactly and an empty sketch as 0', () => {
    expect(hllEstimate(newCells())).toBe(0);
    for (const n of [1, 10, 100, 1000]) {
      const state = newCells();
      for (let i = 0; i < n; i++) hllAdd(state, `small-${n}-${i}`);
      expect(Math.abs(hllEstimate(state) - n) / n).toBeLessThan(0.02);
    }
  });

  it('is within 2% on 1M distinct values, and merging by max estimates the union', () => {
    // Registers kept dense while folding (the reducer's fast path does the same), cells at the end.
    const registers = [new Uint8Array(HLL_M), new Uint8Array(HLL_M)];
    const n = 1_000_000;
    for (let i = 0; i < n; i++) {
      const packed = hllHash(`user-${i}`);
      const r = registers[i % 2] as Uint8Array;
      r[packed >>> 6] = Math.max(r[packed >>> 6] as number, packed & 63);
    }
    const [a, b] = registers.map((r) => {
      const cells = newCells();
      r.forEach((rank, index) => {
        if (rank > 0) cells[index] = rank;
      });
      return cells;
    }) as [Cells, Cells];
    const union = mergeCells('max', a, b);
    expect(Math.abs(hllEstimate(union) - n) / n).toBeLessThan(0.02);
    expect(Math.abs(hllEstimate(a) - n / 2) / (n / 2)).toBeLessThan(0.02);
  });
});

// DDSketch: bin keys identical in TS and DuckDB SQL (also on and around every bin boundary,
// where ln differs between libm and V8), and quantiles within 1% on a million values.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newCells } from '../../src/measures.ts';
import {
  DDSKETCH_GAMMA,
  DDSKETCH_MIN_INDEXABLE,
  ddAdd,
  ddBoundary,
  ddCount,
  ddKey,
  ddKeySql,
  ddQuantiles,
} from '../../src/sketches/ddsketch.ts';
import { openTestDuck, type TestDuck } from '../support/duckdb.ts';

let duck: TestDuck;
beforeAll(async () => {
  duck = await openTestDuck();
});
afterAll(() => duck.close());

const scratch = new DataView(new ArrayBuffer(8));
function nextUp(x: number): number {
  scratch.setFloat64(0, x);
  scratch.setBigUint64(0, scratch.getBigUint64(0) + 1n);
  return scratch.getFloat64(0);
}
function nextDown(x: number): number {
  scratch.setFloat64(0, x);
  scratch.setBigUint64(0, scratch.getBigUint64(0) - 1n);
  return scratch.getFloat64(0);
}

async function sqlKeys(values: number[]): Promise<number[]> {
  await duck.connection.run('CREATE OR REPLACE TEMP TABLE xs (i INTEGER, x DOUBLE)');
  const appender = await duck.connection.createAppender('xs');
  values.forEach((x, i) => {
    appender.appendInteger(i);
    appender.appendDouble(x);
    appender.endRow();
  });
  appender.closeSync();
  const rows = await duck.rows(`SELECT ${ddKeySql('x')} AS k FROM xs ORDER BY i`);
  return rows.map((r) => Number(r.k));
}

describe('ddKey', () => {
  it('places x in the bin k with gamma^(k-1) < x <= gamma^k', () => {
    expect(ddKey(1)).toBe(0);
    expect(ddKey(DDSKETCH_GAMMA)).toBe(1);
    expect(ddKey(nextUp(DDSKETCH_GAMMA))).toBe(2);
    for (const k of [-500, -1, 0, 1, 7, 350, 20000]) {
      expect(ddKey(ddBoundary(k))).toBe(k);
      expect(ddKey(nextUp(ddBoundary(k)))).toBe(k + 1);
    }
  });

  it('equals the SQL key on every bin boundary and its neighbours', async () => {
    const values: number[] = [];
    for (let k = -1040; k <= 35_000; k += 1) {
      const b = ddBoundary(k);
      if (!Number.isFinite(b) || b < DDSKETCH_MIN_INDEXABLE) continue;
      if (k % 7 === 0 || (k > -50 && k < 700)) values.push(b, nextUp(b), nextDown(b), b * (1 + 1e-12));
      else values.push(b);
    }
    values.push(Number.MAX_VALUE, DDSKETCH_MIN_INDEXABLE, 0.5, 1, 2, 3, 1000);
    expect(await sqlKeys(values)).toEqual(values.map(ddKey));
  });

  it('equals the SQL key on random doubles', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.double({ min: DDSKETCH_MIN_INDEXABLE, max: 1e300, noNaN: true, noDefaultInfinity: true }),
          {
            minLength: 1,
            maxLength: 200,
          },
        ),
        async (xs) => {
          expect(await sqlKeys(xs)).toEqual(xs.map(ddKey));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('ddQuantiles', () => {
  it('returns null for an empty sketch and 0 for zeros', () => {
    expect(ddQuantiles(newCells(), [0.5])).toEqual([null]);
    const zeros = newCells();
    ddAdd(zeros, 0);
    ddAdd(zeros, 1e-12);
    expect(zeros).toEqual({ z: 2 });
    expect(ddQuantiles(zeros, [0, 1])).toEqual([0, 0]);
  });

  it('is within 1% relative of the exact order statistic on 1M values', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const n = 1_000_000;
    const values = new Float64Array(n);
    const state = newCells();
    for (let i = 0; i < n; i++) {
      // Log-normal-ish latencies from 0.01 ms to ~1 min, plus some exact zeros.
      const x = i % 1000 === 0 ? 0 : Math.exp(random() * 15 - 4.6);
      values[i] = x;
      ddAdd(state, x);
    }
    values.sort();
    expect(ddCount(state)).toBe(n);
    const qs = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];
    const estimates = ddQuantiles(state, qs);
    qs.forEach((q, i) => {
      const exact = values[Math.floor(q * (n - 1))] as number;
      const estimate = estimates[i] as number;
      expect(Math.abs(estimate - exact)).toBeLessThanOrEqual(0.01 * exact + 1e-12);
    });
  });
});

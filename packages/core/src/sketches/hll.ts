// HyperLogLog with p = 14 over md5, computed bit-identically by TS (here) and DuckDB SQL
// (hllSqlExpressions). Registers are kept sparse as cells {"<register>": rank}, merged by max.
import { createHash } from 'node:crypto';
import type { Cells } from '../types.ts';

/** Register index bits. */
export const HLL_P = 14;
/** Number of registers. */
export const HLL_M = 1 << HLL_P;
/** Hash bits after the register index (64 - p); ranks run 1 .. HLL_Q + 1. */
export const HLL_Q = 64 - HLL_P;

/**
 * Register index and rank of a string: md5 of its UTF-8 bytes, the first 64 bits big-endian
 * (the first 16 hex digits of DuckDB's `md5(s)`); index = top 14 bits; rank = leading zeros of
 * the remaining 50 bits + 1 (51 when they are all zero). Returned packed as `index * 64 + rank`.
 */
export function hllHash(value: string): number {
  const digest = createHash('md5').update(value, 'utf8').digest();
  const hi = digest.readUInt32BE(0);
  const lo = digest.readUInt32BE(4);
  const index = hi >>> 18;
  const restHi = hi & 0x3ffff;
  const rank = restHi !== 0 ? Math.clz32(restHi) - 13 : lo !== 0 ? 19 + Math.clz32(lo) : HLL_Q + 1;
  return index * 64 + rank;
}

/**
 * A small cache in front of md5 for the reducer: the same user ids recur all day. Bounded; it
 * forgets everything when full rather than tracking recency, which is cheap and good enough.
 */
export class HllHashCache {
  readonly #limit: number;
  #entries = new Map<string, number>();

  constructor(limit = 200_000) {
    this.#limit = limit;
  }

  hash(value: string): number {
    let packed = this.#entries.get(value);
    if (packed === undefined) {
      packed = hllHash(value);
      if (this.#entries.size >= this.#limit) this.#entries.clear();
      this.#entries.set(value, packed);
    }
    return packed;
  }
}

const sharedCache = new HllHashCache();

/** Folds one value into sparse registers (mutates and returns `state`). */
export function hllAdd(state: Cells, value: string): Cells {
  const packed = sharedCache.hash(value);
  const key = String(packed >>> 6);
  const rank = packed & 63;
  const current = state[key];
  if (current === undefined || current < rank) state[key] = rank;
  return state;
}

function sigma(x: number): number {
  if (x === 1) return Number.POSITIVE_INFINITY;
  let y = 1;
  let z = x;
  let zPrev: number;
  do {
    x *= x;
    zPrev = z;
    z += x * y;
    y += y;
  } while (z !== zPrev);
  return z;
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  let zPrev: number;
  do {
    x = Math.sqrt(x);
    zPrev = z;
    y *= 0.5;
    z -= (1 - x) ** 2 * y;
  } while (z !== zPrev);
  return z / 3;
}

/**
 * Cardinality estimate from sparse registers with Ertl's improved estimator ("New cardinality
 * estimation algorithms for HyperLogLog sketches", 2017): no empirical bias tables, and accurate
 * across the small/large range switch where the classic estimator needs linear counting.
 */
export function hllEstimate(state: Cells): number {
  const histogram = new Array<number>(HLL_Q + 2).fill(0);
  let nonEmpty = 0;
  for (const key in state) {
    const rank = state[key] as number;
    if (rank <= 0) continue;
    histogram[Math.min(rank, HLL_Q + 1)]! += 1;
    nonEmpty++;
  }
  if (nonEmpty === 0) return 0;
  histogram[0] = HLL_M - nonEmpty;
  let z = HLL_M * tau(1 - (histogram[HLL_Q + 1] as number) / HLL_M);
  for (let k = HLL_Q; k >= 1; k--) z = 0.5 * (z + (histogram[k] as number));
  z += HLL_M * sigma((histogram[0] as number) / HLL_M);
  return Math.round((HLL_M * (HLL_M / (2 * Math.LN2))) / z);
}

/**
 * SQL expressions computing the same (register, rank) from a VARCHAR expression `valueSql`.
 * The rank avoids floating log2 for exactness: log2 gives an estimate of the bit length which
 * integer comparisons then correct.
 */
export function hllSqlExpressions(valueSql: string): {
  hash: string;
  register: (h: string) => string;
  rank: (h: string) => string;
} {
  const restMask = (2n ** BigInt(HLL_Q) - 1n).toString();
  return {
    hash: `CAST('0x' || substr(md5(${valueSql}), 1, 16) AS UBIGINT)`,
    register: (h) => `CAST(${h} >> ${HLL_Q} AS INTEGER)`,
    rank: (h) => {
      const w = `(${h} & CAST(${restMask} AS UBIGINT))`;
      // Bit length estimate from log2, then corrected by exact integer comparisons.
      const est = `(CAST(floor(log2(CAST(greatest(${w}, CAST(1 AS UBIGINT)) AS DOUBLE))) AS INTEGER) + 1)`;
      const bitLen =
        `(${est} + CASE WHEN ${w} >= (CAST(1 AS UBIGINT) << ${est}) THEN 1 ` +
        `WHEN ${w} < (CAST(1 AS UBIGINT) << (${est} - 1)) THEN -1 ELSE 0 END)`;
      return `CASE WHEN ${w} = 0 THEN ${HLL_Q + 1} ELSE ${HLL_Q + 1} - ${bitLen} END`;
    },
  };
}

// HyperLogLog with p = 14 over md5, computed bit-identically by TS (here) and DuckDB SQL
// (hllSqlExpressions). Registers are kept sparse as cells {"<register>": rank}, merged by max.
import { hash } from 'node:crypto';
import type { Cells } from '../types.ts';

/** Register index bits. */
export const HLL_P = 14;
/** Number of registers. */
export const HLL_M = 1 << HLL_P;
/** Hash bits after the register index (64 - p); ranks run 1 .. HLL_Q + 1. */
export const HLL_Q = 64 - HLL_P;

/**
 * Register index and rank of a string, packed as `index * 64 + rank`. The hash is md5 of the
 * UTF-8 bytes; its first 8 digest bytes read as a little-endian 64-bit integer are the low 64 bits
 * of DuckDB's `md5_number(s)`, which is much cheaper in SQL than parsing `md5(s)` hex. Index = the
 * top 14 of those 64 bits; rank = leading zeros of the remaining 50 bits + 1 (51 when all zero).
 */
export function hllHash(value: string): number {
  // One-shot hex digest is the fastest md5 Node offers; bytes 0-3 and 4-7 read little-endian.
  const hex = hash('md5', value, 'hex');
  return hllPack(
    byteSwap(Number.parseInt(hex.slice(8, 16), 16)),
    byteSwap(Number.parseInt(hex.slice(0, 8), 16)),
  );
}

function byteSwap(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

/** `index * 64 + rank` of the 64 hash bits given as high and low unsigned 32-bit words. */
export function hllPack(hi: number, lo: number): number {
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
 * SQL computing the same packed `index * 64 + rank` from a VARCHAR column: `hash` gives the 64 bits
 * (a UBIGINT) and `packed(h)` the packed value from a column holding them. The rank counts leading
 * zeros separately in the 18-bit and 32-bit halves of the 50 remaining bits, as the TS does: for an
 * integer x < 2^32, floor(log2(x)) is exact (log2 is exact at powers of two, and log2(2^k - 1)
 * lies 3e-10 below k, far beyond log2's sub-ulp error), unlike on the whole 50 bits, where
 * log2(2^50 - 1) rounds to 50.
 */
export function hllSqlExpressions(valueSql: string): { hash: string; packed: (h: string) => string } {
  return {
    hash: `CAST(md5_number(${valueSql}) & CAST('18446744073709551615' AS UHUGEINT) AS UBIGINT)`,
    packed: (h) => {
      const hi = `CAST((${h} >> 32) & CAST(262143 AS UBIGINT) AS BIGINT)`;
      const lo = `CAST(${h} & CAST(4294967295 AS UBIGINT) AS BIGINT)`;
      const rank =
        `CASE WHEN ${hi} <> 0 THEN 18 - CAST(floor(log2(greatest(${hi}, 1))) AS INTEGER) ` +
        `WHEN ${lo} <> 0 THEN 50 - CAST(floor(log2(greatest(${lo}, 1))) AS INTEGER) ELSE ${HLL_Q + 1} END`;
      return `(CAST(${h} >> ${HLL_Q} AS INTEGER) * 64 + ${rank})`;
    },
  };
}

// DDSketch (relative accuracy 1%) with bins computed identically by TS and DuckDB SQL.
// Bin key = ceil(ln(x) / ln(gamma)). libm's ln and V8's Math.log differ in the last bit for ~2% of
// inputs, so near a bin boundary (|q - round(q)| <= 1e-9) both engines decide by comparing x with
// gamma^k computed by the same sequence of IEEE multiplications, which is exact in both.
import type { Cells } from '../types.ts';
import { sqlDouble } from '../sql.ts';

/** Relative accuracy of every quantile estimate. */
export const DDSKETCH_RELATIVE_ACCURACY = 0.01;
/** Ratio between consecutive bin boundaries: (1 + a) / (1 - a). */
export const DDSKETCH_GAMMA = (1 + DDSKETCH_RELATIVE_ACCURACY) / (1 - DDSKETCH_RELATIVE_ACCURACY);
/** ln(gamma), computed once in JS and inlined into the SQL as the exact same double. */
export const DDSKETCH_LN_GAMMA = Math.log(DDSKETCH_GAMMA);
/** Values below this count in the zero cell "z" and read back as 0. */
export const DDSKETCH_MIN_INDEXABLE = 1e-9;
/** The cell of values below DDSKETCH_MIN_INDEXABLE. */
export const DDSKETCH_ZERO_CELL = 'z';
/** Ambiguity band around bin boundaries, far wider than the engines' ln disagreement (~1e-11). */
const BOUNDARY_BAND = 1e-9;
const POWER_BITS = 16; // |key| < 2^16 for every positive double

/** gamma^(2^i) by repeated squaring; shared by both engines as exact constants. */
const gammaPowers: number[] = [];
for (let i = 0, g = DDSKETCH_GAMMA; i < POWER_BITS; i++, g *= g) gammaPowers.push(g);

/** gamma^k as the product of gammaPowers over the set bits of |k|, in increasing bit order. */
export function ddBoundary(k: number): number {
  const abs = Math.abs(k);
  let r = 1;
  for (let i = 0; i < POWER_BITS; i++) if ((abs >>> i) & 1) r *= gammaPowers[i] as number;
  return k < 0 ? 1 / r : r;
}

/** Bin key of a value >= DDSKETCH_MIN_INDEXABLE: the k with gamma^(k-1) < x <= gamma^k. */
export function ddKey(x: number): number {
  const q = Math.log(x) / DDSKETCH_LN_GAMMA;
  const r = Math.round(q);
  // `|| 0` turns -0 (x just below 1) into 0, the key SQL prints.
  if (Math.abs(q - r) > BOUNDARY_BAND) return Math.ceil(q) || 0;
  return (x <= ddBoundary(r) ? r : r + 1) || 0;
}

/** Folds one value into the bins (mutates and returns `state`). */
export function ddAdd(state: Cells, x: number): Cells {
  const key = x < DDSKETCH_MIN_INDEXABLE ? DDSKETCH_ZERO_CELL : String(ddKey(x));
  state[key] = (state[key] ?? 0) + 1;
  return state;
}

/** Total count of a sketch. */
export function ddCount(state: Cells): number {
  let n = 0;
  for (const key in state) n += state[key] as number;
  return n;
}

/**
 * Quantile estimates for each q (0..1), rank q*(n-1) in the lower-rank convention; null for an
 * empty sketch. Each is within 1% of the exact order statistic at that rank.
 */
export function ddQuantiles(state: Cells, qs: readonly number[]): Array<number | null> {
  const zero = state[DDSKETCH_ZERO_CELL] ?? 0;
  const bins: Array<[number, number]> = [];
  let n = zero;
  for (const key in state) {
    if (key === DDSKETCH_ZERO_CELL) continue;
    const count = state[key] as number;
    if (count <= 0) continue;
    bins.push([Number(key), count]);
    n += count;
  }
  if (n <= 0) return qs.map(() => null);
  bins.sort((a, b) => a[0] - b[0]);
  return qs.map((q) => {
    const rank = q * (n - 1);
    let cumulative = zero;
    if (cumulative > rank) return 0;
    for (const [key, count] of bins) {
      cumulative += count;
      if (cumulative > rank) return (2 * DDSKETCH_GAMMA ** key) / (DDSKETCH_GAMMA + 1);
    }
    const last = bins[bins.length - 1];
    return last === undefined ? 0 : (2 * DDSKETCH_GAMMA ** last[0]) / (DDSKETCH_GAMMA + 1);
  });
}

/**
 * SQL expression of the bin key (INTEGER) from a DOUBLE column `x` (>= the min indexable value)
 * and a column `q` holding `ln(x) / DDSKETCH_LN_GAMMA` (computed once, in an inner projection).
 */
export function ddKeySqlFromLog(x: string, q: string): string {
  const r = `round(${q})`;
  const abs = `CAST(abs(${r}) AS BIGINT)`;
  const factors = gammaPowers
    .map((g, i) => `(CASE WHEN (${abs} >> ${i}) & 1 = 1 THEN ${sqlDouble(g)} ELSE CAST(1 AS DOUBLE) END)`)
    .join(' * ');
  const product = `(CAST(1 AS DOUBLE) * ${factors})`;
  const boundary = `(CASE WHEN ${r} < 0 THEN CAST(1 AS DOUBLE) / ${product} ELSE ${product} END)`;
  return (
    `CAST(CASE WHEN abs(${q} - ${r}) > ${sqlDouble(BOUNDARY_BAND)} THEN ceil(${q}) ` +
    `WHEN ${x} <= ${boundary} THEN ${r} ELSE ${r} + 1 END AS INTEGER)`
  );
}

/** SQL expression of the bin key (INTEGER) of a DOUBLE expression `x` (>= the min indexable value). */
export function ddKeySql(x: string): string {
  return ddKeySqlFromLog(x, `(ln(${x}) / ${sqlDouble(DDSKETCH_LN_GAMMA)})`);
}

// Fast in-memory accumulators behind the reducer: plain numbers and integer-keyed Maps instead of
// string-keyed Cells, converted to Cells only when rows are read. Each yields exactly the Cells
// that folding the same inputs with Measure.add gives (test/accumulators.test.ts checks it).
import type { Measure } from './measures.ts';
import { newCells } from './measures.ts';
import { DDSKETCH_MIN_INDEXABLE, DDSKETCH_ZERO_CELL, ddKey } from './sketches/ddsketch.ts';
import type { HllHashCache } from './sketches/hll.ts';
import type { Cells } from './types.ts';

/** One measure's running state inside one reducer group. */
export interface Accumulator {
  add(value: unknown): void;
  cells(): Cells;
  /**
   * Appends `prefix + cell` to `keys` and the cell's value to `values` for exactly the cells
   * `cells()` holds, without building them: stores that write cells flat (the speed layer) skip a
   * dictionary object per group and measure.
   */
  appendCells(prefix: string, keys: string[], values: number[]): void;
}

class CountAccumulator implements Accumulator {
  n = 0;
  add(value: unknown): void {
    if (value !== null && value !== undefined) this.n++;
  }
  cells(): Cells {
    const c = newCells();
    c.n = this.n;
    return c;
  }
  appendCells(prefix: string, keys: string[], values: number[]): void {
    keys.push(`${prefix}n`);
    values.push(this.n);
  }
}

class SumAccumulator implements Accumulator {
  s = 0;
  add(value: unknown): void {
    if (value !== null && value !== undefined) this.s += value as number;
  }
  cells(): Cells {
    const c = newCells();
    c.s = this.s;
    return c;
  }
  appendCells(prefix: string, keys: string[], values: number[]): void {
    keys.push(`${prefix}s`);
    values.push(this.s);
  }
}

class AvgAccumulator implements Accumulator {
  s = 0;
  n = 0;
  add(value: unknown): void {
    if (value === null || value === undefined) return;
    this.s += value as number;
    this.n++;
  }
  cells(): Cells {
    const c = newCells();
    c.s = this.s;
    c.n = this.n;
    return c;
  }
  appendCells(prefix: string, keys: string[], values: number[]): void {
    keys.push(`${prefix}s`, `${prefix}n`);
    values.push(this.s, this.n);
  }
}

class MinMaxAccumulator implements Accumulator {
  v: number | null = null;
  readonly isMin: boolean;
  constructor(isMin: boolean) {
    this.isMin = isMin;
  }
  add(value: unknown): void {
    if (value === null || value === undefined) return;
    const x = value as number;
    if (this.v === null || (this.isMin ? x < this.v : x > this.v)) this.v = x;
  }
  cells(): Cells {
    const c = newCells();
    if (this.v !== null) c.v = this.v;
    return c;
  }
  appendCells(prefix: string, keys: string[], values: number[]): void {
    if (this.v === null) return;
    keys.push(`${prefix}v`);
    values.push(this.v);
  }
}

class DistinctAccumulator implements Accumulator {
  readonly registers = new Map<number, number>();
  readonly cache: HllHashCache;
  constructor(cache: HllHashCache) {
    this.cache = cache;
  }
  add(value: unknown): void {
    if (value === null || value === undefined) return;
    const packed = this.cache.hash(typeof value === 'string' ? value : String(value));
    const index = packed >>> 6;
    const rank = packed & 63;
    const current = this.registers.get(index);
    if (current === undefined || current < rank) this.registers.set(index, rank);
  }
  cells(): Cells {
    const c = newCells();
    for (const [index, rank] of this.registers) c[index] = rank;
    return c;
  }
  appendCells(prefix: string, keys: string[], values: number[]): void {
    for (const [index, rank] of this.registers) {
      keys.push(prefix + index);
      values.push(rank);
    }
  }
}

class QuantilesAccumulator implements Accumulator {
  readonly bins = new Map<number, number>();
  zero = 0;
  add(value: unknown): void {
    if (value === null || value === undefined) return;
    const x = value as number;
    if (x < DDSKETCH_MIN_INDEXABLE) {
      this.zero++;
      return;
    }
    const key = ddKey(x);
    this.bins.set(key, (this.bins.get(key) ?? 0) + 1);
  }
  cells(): Cells {
    const c = newCells();
    for (const [key, count] of this.bins) c[key] = count;
    if (this.zero > 0) c[DDSKETCH_ZERO_CELL] = this.zero;
    return c;
  }
  appendCells(prefix: string, keys: string[], values: number[]): void {
    for (const [key, count] of this.bins) {
      keys.push(prefix + key);
      values.push(count);
    }
    if (this.zero > 0) {
      keys.push(prefix + DDSKETCH_ZERO_CELL);
      values.push(this.zero);
    }
  }
}

class TopKAccumulator implements Accumulator {
  readonly counts = new Map<string, number>();
  add(value: unknown): void {
    if (value === null || value === undefined) return;
    const key = typeof value === 'string' ? value : String(value);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  cells(): Cells {
    const c = newCells();
    for (const [key, count] of this.counts) c[key] = count;
    return c;
  }
  appendCells(prefix: string, keys: string[], values: number[]): void {
    for (const [key, count] of this.counts) {
      keys.push(prefix + key);
      values.push(count);
    }
  }
}

/** A factory of fresh accumulators for one measure; `cache` is shared by a reducer's HLLs. */
export function accumulatorFactory(measure: Measure, cache: HllHashCache): () => Accumulator {
  switch (measure.kind) {
    case 'count':
      return () => new CountAccumulator();
    case 'sum':
      return () => new SumAccumulator();
    case 'avg':
      return () => new AvgAccumulator();
    case 'min':
      return () => new MinMaxAccumulator(true);
    case 'max':
      return () => new MinMaxAccumulator(false);
    case 'distinct':
      return () => new DistinctAccumulator(cache);
    case 'quantiles':
      return () => new QuantilesAccumulator();
    case 'topK':
      return () => new TopKAccumulator();
  }
}

// Turns what a micro-batch folded in memory into per-bucket-hash deltas for the Lua script: one
// field per (dimension tuple, measure, cell), grouped by the measure's merge so Redis adds, keeps
// the minimum or keeps the maximum — the same monoid the batch layer uses.
import type { MergeOp, PartialRow, ViewReducer } from '@tandem/core';
import { TandemError } from '@tandem/core';
import { FIELD_SEPARATOR, type SpeedKeys } from './key-schema.ts';
import type { BucketDelta } from './scripts.ts';

/** The parts of a view the deltas need. */
export interface DeltaView {
  name: string;
  version: number | string;
  bucketMs: number;
  measureOps: ReadonlyMap<string, MergeOp>;
}

/** Fields and values of one merge op within one bucket hash, in append order. */
interface OpList {
  fields: string[];
  values: number[];
}

interface PendingBucket {
  key: string;
  index: number;
  bucketMs: number;
  expireAtMs: number;
  add: OpList;
  min: OpList;
  max: OpList;
}

/** Collects the deltas of one partition's micro-batch across views. */
export class BucketDeltaBuilder {
  readonly #keys: SpeedKeys;
  readonly #partition: number;
  readonly #ttlMs: number;
  readonly #buckets = new Map<string, PendingBucket>();

  constructor(keys: SpeedKeys, partition: number, ttlMs: number) {
    this.#keys = keys;
    this.#partition = partition;
    this.#ttlMs = ttlMs;
  }

  #bucket(view: DeltaView, indexPosition: number, bucketMs: number): PendingBucket {
    const key = this.#keys.bucket(this.#partition, view.name, view.version, bucketMs);
    let delta = this.#buckets.get(key);
    if (delta === undefined) {
      delta = {
        key,
        index: indexPosition,
        bucketMs,
        expireAtMs: bucketMs + view.bucketMs + this.#ttlMs,
        add: { fields: [], values: [] },
        min: { fields: [], values: [] },
        max: { fields: [], values: [] },
      };
      this.#buckets.set(key, delta);
    }
    return delta;
  }

  /**
   * Adds everything `reducer` accumulated, straight from its accumulators (no `PartialRow` or
   * cells objects: at tens of thousands of cells per micro-batch they were most of the worker's
   * garbage). Every cell is sent, zero counts too, so the stored state has exactly the batch
   * engine's cells. A view's groups are distinct, so each field appears once per batch.
   */
  addReducer(view: DeltaView, indexPosition: number, reducer: ViewReducer): void {
    // the reducer's measure order, which is the order forEachGroup's cells come in
    const measures = Object.entries(reducer.view.measures);
    const names = measures.map(([name]) => name);
    const ops = measures.map(([, measure]) => measure.op);
    const measurePrefixes = names.map((name) => FIELD_SEPARATOR + name + FIELD_SEPARATOR);
    let lastBucketMs = Number.NaN;
    let delta: PendingBucket | null = null;
    reducer.forEachGroup((bucketMs, dims, cells) => {
      if (delta === null || bucketMs !== lastBucketMs) {
        delta = this.#bucket(view, indexPosition, bucketMs);
        lastBucketMs = bucketMs;
      }
      const dimsJson = JSON.stringify(dims);
      for (let i = 0; i < ops.length; i++) {
        const list = delta[ops[i]!];
        cells[i]!.appendCells(dimsJson + measurePrefixes[i]!, list.fields, list.values);
      }
    });
  }

  /** Adds a view's rows; `indexPosition` is the view's place in the script's index keys. */
  addRows(view: DeltaView, indexPosition: number, rows: Iterable<PartialRow>): void {
    for (const row of rows) {
      const delta = this.#bucket(view, indexPosition, row.bucket);
      const dimsJson = JSON.stringify(row.dims);
      for (const measure in row.states) {
        const op = view.measureOps.get(measure);
        if (op === undefined)
          throw new TandemError('TANDEM_ERR_MEASURE_INVALID', `view ${view.name} has no measure ${measure}`);
        const list = delta[op];
        const prefix = dimsJson + FIELD_SEPARATOR + measure + FIELD_SEPARATOR;
        const cells = row.states[measure]!;
        for (const cell in cells) {
          list.fields.push(prefix + cell);
          list.values.push(cells[cell]!);
        }
      }
    }
  }

  get size(): number {
    return this.#buckets.size;
  }

  build(): BucketDelta[] {
    const out: BucketDelta[] = [];
    for (const pending of this.#buckets.values()) {
      const { add, min, max } = pending;
      out.push({
        key: pending.key,
        index: pending.index,
        bucketMs: pending.bucketMs,
        expireAtMs: pending.expireAtMs,
        fields: concat3(add.fields, min.fields, max.fields),
        values: concat3(add.values, min.values, max.values),
        adds: add.fields.length,
        mins: min.fields.length,
      });
    }
    return out;
  }
}

function concat3<T>(a: T[], b: T[], c: T[]): T[] {
  if (b.length === 0 && c.length === 0) return a;
  return a.concat(b, c);
}

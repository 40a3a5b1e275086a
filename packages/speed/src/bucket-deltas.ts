// Turns the partial rows a micro-batch folded in memory into per-bucket-hash deltas for the Lua
// script: one field per (dimension tuple, measure, cell), grouped by the measure's merge so Redis
// adds, keeps the minimum or keeps the maximum — the same monoid the batch layer uses.
import type { MergeOp, PartialRow } from '@tandem/core';
import { cellField, type SpeedKeys } from './key-schema.ts';
import type { BucketDelta } from './scripts.ts';

/** The parts of a view the deltas need. */
export interface DeltaView {
  name: string;
  version: number | string;
  bucketMs: number;
  measureOps: ReadonlyMap<string, MergeOp>;
}

/** Collects the deltas of one partition's micro-batch across views. */
export class BucketDeltaBuilder {
  readonly #keys: SpeedKeys;
  readonly #partition: number;
  readonly #ttlMs: number;
  readonly #buckets = new Map<string, BucketDelta>();

  constructor(keys: SpeedKeys, partition: number, ttlMs: number) {
    this.#keys = keys;
    this.#partition = partition;
    this.#ttlMs = ttlMs;
  }

  /** Adds a view's rows; `indexPosition` is the view's place in the script's index keys. */
  addRows(view: DeltaView, indexPosition: number, rows: Iterable<PartialRow>): void {
    for (const row of rows) {
      const key = this.#keys.bucket(this.#partition, view.name, view.version, row.bucket);
      let delta = this.#buckets.get(key);
      if (delta === undefined) {
        delta = {
          key,
          index: indexPosition,
          bucketMs: row.bucket,
          expireAtMs: row.bucket + view.bucketMs + this.#ttlMs,
          incr: [],
          float: [],
          min: [],
          max: [],
        };
        this.#buckets.set(key, delta);
      }
      const dimsJson = JSON.stringify(row.dims);
      for (const measure in row.states) {
        const op = view.measureOps.get(measure);
        if (op === undefined) throw new Error(`view ${view.name} has no measure ${measure}`);
        const cells = row.states[measure]!;
        for (const cell in cells) {
          const value = cells[cell]!;
          const field = cellField(dimsJson, measure, cell);
          if (op === 'add') {
            // zero deltas too: the stored state then has exactly the batch engine's cells
            (Number.isSafeInteger(value) ? delta.incr : delta.float).push([field, value]);
          } else if (op === 'min') {
            delta.min.push([field, value]);
          } else {
            delta.max.push([field, value]);
          }
        }
      }
    }
  }

  get size(): number {
    return this.#buckets.size;
  }

  build(): BucketDelta[] {
    return [...this.#buckets.values()];
  }
}

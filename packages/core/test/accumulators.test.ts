// The reducer's fast accumulators must yield exactly the cells Measure.add folds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accumulatorFactory } from '../src/accumulators.ts';
import { eventFieldTypes } from '../src/fields.ts';
import { createMeasure, type MeasureSpec } from '../src/measures.ts';
import { HllHashCache } from '../src/sketches/hll.ts';
import { latencyArb, stringArb } from './support/arbitraries.ts';

const specs: MeasureSpec[] = [
  { kind: 'count' },
  { kind: 'count', field: 'page_id' },
  { kind: 'sum', field: 'response_time_ms' },
  { kind: 'avg', field: 'bytes_sent' },
  { kind: 'min', field: 'response_time_ms' },
  { kind: 'max', field: 'status_code' },
  { kind: 'distinct', field: 'user_id' },
  { kind: 'distinct', field: 'status_code' },
  { kind: 'quantiles', field: 'response_time_ms', qs: [0.5] },
  { kind: 'topK', field: 'page_id', k: 2 },
  { kind: 'topK', field: 'status_code', k: 2 },
];

describe('accumulatorFactory', () => {
  it.each(specs.map((s) => [`${s.kind}(${s.field ?? ''})`, s] as const))(
    '%s folds like Measure.add, and appends the same cells flat',
    (_label, spec) => {
      const measure = createMeasure('m', spec, eventFieldTypes);
      const type =
        spec.field === undefined ? 'integer' : eventFieldTypes[spec.field as keyof typeof eventFieldTypes];
      const value: fc.Arbitrary<unknown> =
        type === 'string' ? stringArb : type === 'integer' ? fc.integer({ min: 0, max: 600 }) : latencyArb;
      const make = accumulatorFactory(measure, new HllHashCache(8));
      fc.assert(
        fc.property(fc.array(fc.option(value), { maxLength: 40 }), (values) => {
          const acc = make();
          let state = measure.empty();
          for (const v of values) {
            acc.add(spec.field === undefined ? 1 : v);
            state = measure.add(state, spec.field === undefined ? 1 : v);
          }
          expect({ ...acc.cells() }).toEqual({ ...state });
          const keys: string[] = [];
          const flat: number[] = [];
          acc.appendCells('p\t', keys, flat);
          expect(keys.every((key) => key.startsWith('p\t'))).toBe(true);
          expect(Object.fromEntries(keys.map((key, i) => [key.slice(2), flat[i]]))).toEqual({ ...state });
          expect(new Set(keys).size).toBe(keys.length);
        }),
        { numRuns: 200 },
      );
    },
  );
});

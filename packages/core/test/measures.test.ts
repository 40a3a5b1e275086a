// Every measure is a commutative monoid over its cells, folding is a homomorphism
// (state(A ++ B) = merge(state(A), state(B))), and partial rows merge like the events they came from.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { builtinViews } from '../src/builtin-views.ts';
import { eventFieldTypes } from '../src/fields.ts';
import {
  createMeasure,
  type Measure,
  type MeasureSpec,
  mergeCells,
  quantileLabel,
  topKEntries,
} from '../src/measures.ts';
import { compileReducer } from '../src/reducer.ts';
import type { Cells, TandemEvent } from '../src/types.ts';
import { defineView, mergePartialRows, type View } from '../src/view.ts';
import { eventsArb, eventViewSpecArb, latencyArb, stringArb } from './support/arbitraries.ts';
import { diffCells, diffPartialRows } from './support/compare.ts';

const specs: Record<string, MeasureSpec> = {
  count_rows: { kind: 'count' },
  count_users: { kind: 'count', field: 'user_id' },
  sum_latency: { kind: 'sum', field: 'response_time_ms' },
  sum_bytes: { kind: 'sum', field: 'bytes_sent' },
  min_latency: { kind: 'min', field: 'response_time_ms' },
  max_status: { kind: 'max', field: 'status_code' },
  avg_latency: { kind: 'avg', field: 'response_time_ms' },
  distinct_users: { kind: 'distinct', field: 'user_id' },
  distinct_status: { kind: 'distinct', field: 'status_code' },
  latency: { kind: 'quantiles', field: 'response_time_ms', qs: [0.5, 0.99] },
  top_pages: { kind: 'topK', field: 'page_id', k: 3 },
};
const measures: Measure[] = Object.entries(specs).map(([name, spec]) =>
  createMeasure(name, spec, eventFieldTypes),
);

function inputArb(measure: Measure): fc.Arbitrary<unknown> {
  const type =
    measure.field === null ? 'integer' : eventFieldTypes[measure.field as keyof typeof eventFieldTypes];
  const value: fc.Arbitrary<unknown> =
    type === 'string' ? stringArb : type === 'integer' ? fc.integer({ min: 0, max: 1_000_000 }) : latencyArb;
  return fc.oneof({ weight: 5, arbitrary: value }, { weight: 1, arbitrary: fc.constant(null) });
}

function fold(measure: Measure, values: unknown[]): Cells {
  let state = measure.empty();
  for (const v of values) state = measure.add(state, v);
  return state;
}

/** Float sums may differ in the last bits with the order of additions. */
function floatCells(measure: Measure): (cell: string) => boolean {
  return (cell) => cell === 's' && measure.field === 'response_time_ms';
}

function expectSame(measure: Measure, a: Cells, b: Cells): void {
  const diff = diffCells(a, b, floatCells(measure));
  if (diff !== null) throw new Error(`${measure.name}: ${diff}`);
}

describe.each(measures.map((m) => [m.name, m] as const))('measure %s', (_name, measure) => {
  const states = fc.array(inputArb(measure), { maxLength: 30 }).map((values) => fold(measure, values));

  it('has an identity: merge(empty, a) = a = merge(a, empty)', () => {
    fc.assert(
      fc.property(states, (a) => {
        expectSame(measure, measure.merge(measure.empty(), a), a);
        expectSame(measure, measure.merge(a, measure.empty()), a);
      }),
      { numRuns: 200 },
    );
  });

  it('is commutative and associative', () => {
    fc.assert(
      fc.property(states, states, states, (a, b, c) => {
        expectSame(measure, measure.merge(a, b), measure.merge(b, a));
        expectSame(measure, measure.merge(measure.merge(a, b), c), measure.merge(a, measure.merge(b, c)));
      }),
      { numRuns: 200 },
    );
  });

  it('folds homomorphically: state(A ++ B) = merge(state(A), state(B)); merge leaves its inputs alone', () => {
    fc.assert(
      fc.property(
        fc.array(inputArb(measure), { maxLength: 30 }),
        fc.array(inputArb(measure), { maxLength: 30 }),
        (xs, ys) => {
          const a = fold(measure, xs);
          const b = fold(measure, ys);
          const before = JSON.stringify([a, b]);
          expectSame(measure, fold(measure, [...xs, ...ys]), measure.merge(a, b));
          expect(JSON.stringify([a, b])).toBe(before);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('merges with its declared op cell by cell', () => {
    fc.assert(
      fc.property(states, states, (a, b) => {
        expectSame(measure, measure.merge(a, b), mergeCells(measure.op, a, b));
      }),
      { numRuns: 100 },
    );
  });
});

describe('finalize', () => {
  const byName = Object.fromEntries(measures.map((m) => [m.name, m]));
  const m = (name: string) => byName[name] as Measure;

  it('gives the exact values for the exact measures', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: 0, max: 1000 })), { maxLength: 40 }), (values) => {
        const present = values.filter((v): v is number => v !== null);
        expect(
          m('count_rows').finalize(
            fold(
              m('count_rows'),
              values.map(() => 1),
            ),
          ),
        ).toBe(values.length);
        expect(m('sum_bytes').finalize(fold(m('sum_bytes'), values))).toBe(
          present.reduce((s, v) => s + v, 0),
        );
        expect(m('max_status').finalize(fold(m('max_status'), values))).toBe(
          present.length ? Math.max(...present) : null,
        );
        const avg = m('avg_latency').finalize(fold(m('avg_latency'), values));
        if (present.length === 0) expect(avg).toBeNull();
        else expect(avg).toBeCloseTo(present.reduce((s, v) => s + v, 0) / present.length, 9);
      }),
      { numRuns: 200 },
    );
  });

  it('names quantile outputs p<percent>_<measure> and keeps the top k keys by count, ties by key', () => {
    expect(m('latency').outputs).toEqual(['p50_latency', 'p99_latency']);
    expect(quantileLabel(0.999)).toBe('99_9');
    expect(quantileLabel(0.95)).toBe('95');
    const top = fold(m('top_pages'), ['/b', '/a', '/b', '/c', '/a', '/d', null, '/b']);
    expect(m('top_pages').finalize(top)).toEqual([
      { key: '/b', count: 3 },
      { key: '/a', count: 2 },
      { key: '/c', count: 1 },
    ]);
    expect(topKEntries({ '\uFFFF': 1, '😀': 1 }, 2).map((e) => e.key)).toEqual(['\uFFFF', '😀']);
  });

  it('keeps data keys like __proto__ as plain cells', () => {
    const state = fold(m('top_pages'), ['__proto__', '__proto__', 'constructor']);
    expect(Object.keys(state).sort()).toEqual(['__proto__', 'constructor']);
    const proto = '__proto__';
    expect(state[proto]).toBe(2);
    expect(Object.getPrototypeOf(mergeCells('add', state, state))).toBeNull();
  });
});

describe('partial rows', () => {
  function partials(view: View, events: TandemEvent[]) {
    const reducer = compileReducer(view);
    for (const e of events) reducer.add(e);
    return reducer.rows();
  }

  it('merge(partials(A), partials(B)) = partials(A ∪ B) for the built-in event views and random views', () => {
    const viewArb = fc.oneof(
      fc.constantFrom(builtinViews.endpoint_hourly, builtinViews.trending_pages),
      eventViewSpecArb.map(defineView),
    );
    fc.assert(
      fc.property(viewArb, eventsArb({ maxLength: 60 }), fc.nat(), (view, events, cut) => {
        const k = events.length === 0 ? 0 : cut % (events.length + 1);
        const merged = mergePartialRows(view, [
          ...partials(view, events.slice(0, k)),
          ...partials(view, events.slice(k)),
        ]);
        const diff = diffPartialRows(view, merged, partials(view, events));
        if (diff !== null) throw new Error(diff);
      }),
      { numRuns: 200 },
    );
  });
});

describe('measures over boolean fields', () => {
  const schema = { ...eventFieldTypes, low_battery: 'boolean' as const };

  it('count counts the non-null values of a boolean field, false included', () => {
    const count = createMeasure('flagged', { kind: 'count', field: 'low_battery' }, schema);
    let state = count.empty();
    for (const value of [true, false, null, undefined, false]) state = count.add(state, value);
    expect(count.finalize(state)).toBe(3);
    const filtered = createMeasure(
      'low',
      { kind: 'count', where: { op: 'eq', field: 'low_battery', value: true } },
      schema,
    );
    expect(filtered.where).toEqual({ op: 'eq', field: 'low_battery', value: true });
  });

  it('refuses every other kind over a boolean, naming the measure and the field', () => {
    for (const kind of ['sum', 'min', 'max', 'avg', 'distinct', 'quantiles', 'topK'] as const) {
      let error: unknown;
      try {
        createMeasure('m', { kind, field: 'low_battery', qs: [0.5] }, schema);
      } catch (caught) {
        error = caught;
      }
      expect(error, kind).toMatchObject({
        code: 'TANDEM_ERR_MEASURE_INVALID',
        details: { measure: 'm', field: 'low_battery' },
      });
      expect((error as Error).message, kind).toMatch(
        new RegExp(
          `^measure "m": ${kind} needs a field of type .*, but "low_battery" is boolean \\(a boolean field can be counted`,
        ),
      );
    }
  });
});

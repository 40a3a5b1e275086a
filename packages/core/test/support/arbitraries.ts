// fast-check generators for the parity and law tests: events with out-of-order and
// bucket/day-boundary timestamps, unicode and empty strings, nulls; and random view definitions.
import fc from 'fast-check';
import { eventFieldTypes, type FieldSchema, type FieldType, sessionFieldTypes } from '../../src/fields.ts';
import type { ComparisonOp, Filter, FilterValue } from '../../src/filter.ts';
import type { MeasureSpec } from '../../src/measures.ts';
import { DDSKETCH_GAMMA, ddBoundary } from '../../src/sketches/ddsketch.ts';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../../src/time.ts';
import type { EventField, TandemEvent } from '../../src/types.ts';
import type { ViewSpec } from '../../src/view.ts';

/** Midnight UTC of the first day every generated event falls in or after. */
export const BASE_MS = Date.UTC(2024, 2, 10);
/** Events span this many hours from BASE_MS (crossing two UTC midnights). */
export const SPAN_HOURS = 52;

export const stringPool = [
  '',
  'a',
  'b',
  'A',
  'é',
  'e\u0301',
  '😀',
  '\uFFFF',
  '\uE000',
  '__proto__',
  'constructor',
  '/api/x',
  "it's",
  'a"b',
  'back\\slash',
  'nul\u0000x',
  'zz',
];

export const stringArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...stringPool) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
);

export const nonEmptyStringArb = stringArb.filter((s) => s.length > 0);

/** Timestamps: uniform, on bucket / day boundaries ±1 ms, or on a 10-minute grid (session gaps of exactly 30 min). */
export const timestampArb: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: BASE_MS, max: BASE_MS + SPAN_HOURS * HOUR_MS - 1 }),
  fc
    .tuple(
      fc.integer({ min: 0, max: SPAN_HOURS * 60 - 1 }),
      fc.constantFrom(-1, 0, 1, 30 * MINUTE_MS, 30 * MINUTE_MS + 1),
    )
    .map(([m, off]) => Math.max(BASE_MS, BASE_MS + m * MINUTE_MS + off)),
  fc.integer({ min: 0, max: SPAN_HOURS * 6 - 1 }).map((k) => BASE_MS + k * 10 * MINUTE_MS),
  fc.constantFrom(BASE_MS + DAY_MS - 1, BASE_MS + DAY_MS, BASE_MS + 2 * DAY_MS - 1, BASE_MS + 2 * DAY_MS),
);

export const latencyArb: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, -0, 1e-10, 1e-9, 0.5, 1, 2, 100, 1e300, DDSKETCH_GAMMA),
  fc.integer({ min: -300, max: 600 }).map((k) => ddBoundary(k)),
  fc.double({ min: 0, max: 1e7, noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: 0, max: 5000 }),
);

export const statusArb: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(100, 199, 200, 201, 299, 300, 404, 499, 500, 503, 599),
  fc.integer({ min: 100, max: 599 }),
);

export const userArb: fc.Arbitrary<string | null> = fc.oneof(
  fc.constant(null),
  fc.constantFrom('u1', 'u2', 'u3', '', 'é', '😀'),
  stringArb,
);

/**
 * Timestamps for sessionizing: a 6-hour window around the first midnight on a 10-minute grid
 * (so gaps of exactly 30 minutes are common), sometimes 1 ms off the grid.
 */
export const sessionTimestampArb: fc.Arbitrary<number> = fc
  .tuple(fc.integer({ min: 0, max: 36 }), fc.constantFrom(0, 0, 0, 1, -1))
  .map(([k, jitter]) => BASE_MS + DAY_MS - 3 * HOUR_MS + k * 10 * MINUTE_MS + jitter);

/** Output ranges over the session window: all of it, or single hours in it. */
export const sessionRangeArb = fc.oneof(
  fc.constant({ from: BASE_MS + DAY_MS - 3 * HOUR_MS, to: BASE_MS + DAY_MS + 4 * HOUR_MS }),
  fc
    .integer({ min: -3, max: 3 })
    .map((h) => ({ from: BASE_MS + DAY_MS + h * HOUR_MS, to: BASE_MS + DAY_MS + (h + 1) * HOUR_MS })),
);

export interface EventArbOptions {
  userArb?: fc.Arbitrary<string | null>;
  timestampArb?: fc.Arbitrary<number>;
  maxLength?: number;
}

export function eventArb(options: EventArbOptions = {}): fc.Arbitrary<Omit<TandemEvent, 'event_id'>> {
  return fc.record({
    timestamp: options.timestampArb ?? timestampArb,
    endpoint: fc.oneof(fc.constantFrom('/a', '/b', '/c/😀', 'é'), nonEmptyStringArb),
    method: fc.constantFrom('GET', 'POST', 'put'),
    status_code: statusArb,
    response_time_ms: latencyArb,
    bytes_sent: fc.option(
      fc.oneof(fc.constantFrom(0, 1, 1_000_000_000), fc.integer({ min: 0, max: 100_000 })),
    ),
    user_id: options.userArb ?? userArb,
    session_id: fc.option(stringArb),
    page_id: fc.option(fc.oneof(fc.constantFrom('/p1', '/p2', ''), stringArb)),
  });
}

/** Arrays of valid, deduplicated events (unique event ids) in random (so out-of-order) time order. */
export function eventsArb(options: EventArbOptions = {}): fc.Arbitrary<TandemEvent[]> {
  return fc
    .array(eventArb(options), { maxLength: options.maxLength ?? 80 })
    .map((events) => events.map((e, i) => ({ event_id: `e${i}`, ...e })));
}

/** A time range of whole or partial hours inside the generated span. */
export const rangeArb = fc
  .tuple(
    fc.integer({ min: -2, max: SPAN_HOURS + 1 }),
    fc.integer({ min: 0, max: SPAN_HOURS + 2 }),
    fc.constantFrom(0, 0, 1, 17 * MINUTE_MS),
  )
  .map(([h, len, jitter]) => ({ from: BASE_MS + h * HOUR_MS + jitter, to: BASE_MS + (h + len) * HOUR_MS }));

// Filter values drawn from the values events carry, so comparisons often hit equality exactly.
const numberPools: Record<string, number[]> = {
  timestamp: [
    BASE_MS,
    BASE_MS + DAY_MS,
    BASE_MS + 7.5 * HOUR_MS,
    BASE_MS + 60 * MINUTE_MS,
    BASE_MS + 30 * MINUTE_MS,
  ],
  status_code: [100, 199, 200, 201, 299, 299.5, 300, 404, 499, 500, 503, 599],
  response_time_ms: [0, 1e-9, 0.5, 1, 2, 100, 1e300, DDSKETCH_GAMMA],
  bytes_sent: [0, 1, 100, 1_000_000_000, 50_000.5],
  start: [BASE_MS, BASE_MS + DAY_MS],
  end: [BASE_MS + HOUR_MS, BASE_MS + DAY_MS],
  duration_ms: [0, 1, 10 * MINUTE_MS],
  events: [1, 2, 3],
  page_views: [0, 1, 2],
  unique_pages: [0, 1, 2],
  bounce: [0, 1],
};

function valueArb(field: string, type: FieldType): fc.Arbitrary<FilterValue> {
  if (type === 'boolean') return fc.boolean();
  if (type === 'string') {
    return fc.oneof(
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          'u1',
          'u2',
          '/a',
          '/b',
          '/p1',
          'GET',
          'POST',
          'zz',
          '',
          'é',
          '😀',
          '\uFFFF',
        ),
      },
      { weight: 1, arbitrary: stringArb },
    );
  }
  const pool = numberPools[field] ?? [0, 1];
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...pool) },
    { weight: 1, arbitrary: fc.double({ min: -10, max: 1e4, noNaN: true, noDefaultInfinity: true }) },
  );
}

const comparisonOps: ComparisonOp[] = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte'];

/** Random filters over a field schema (depth-limited and/or/not trees). */
export function filterArb(schema: FieldSchema): fc.Arbitrary<Filter> {
  const fields = Object.keys(schema);
  const leaf: fc.Arbitrary<Filter> = fc.constantFrom(...fields).chain((field) => {
    const type = schema[field] as FieldType;
    const v = valueArb(field, type);
    if (type === 'boolean') {
      // Booleans are not ordered: eq, ne, in and exists only (validateFilter refuses the rest).
      return fc.oneof(
        fc.record({ op: fc.constantFrom('eq' as const, 'ne' as const), field: fc.constant(field), value: v }),
        fc.record({
          op: fc.constant('in' as const),
          field: fc.constant(field),
          values: fc.array(v, { minLength: 1, maxLength: 2 }),
        }),
        fc.record({ op: fc.constant('exists' as const), field: fc.constant(field) }),
      );
    }
    return fc.oneof(
      fc.record({
        op: fc.constantFrom(...comparisonOps),
        field: fc.constant(field),
        value: v,
      }) as fc.Arbitrary<Filter>,
      fc.record({
        op: fc.constant('in' as const),
        field: fc.constant(field),
        values: fc.array(v, { minLength: 1, maxLength: 3 }),
      }),
      fc.record({ op: fc.constant('between' as const), field: fc.constant(field), low: v, high: v }),
      fc.record({ op: fc.constant('exists' as const), field: fc.constant(field) }),
    );
  });
  const tree = fc.letrec<{ node: Filter }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.record({
        op: fc.constantFrom('and' as const, 'or' as const),
        filters: fc.array(tie('node'), { maxLength: 3 }),
      }),
      fc.record({ op: fc.constant('not' as const), filter: tie('node') }),
    ),
  }));
  return tree.node;
}

function fieldsOf(schema: FieldSchema, types: FieldType[]): string[] {
  return Object.keys(schema).filter((f) => types.includes(schema[f] as FieldType));
}

/** Random measure specs valid for a schema. */
export function measureSpecArb(schema: FieldSchema): fc.Arbitrary<MeasureSpec> {
  const numeric = fieldsOf(schema, ['integer', 'number']);
  const keyed = fieldsOf(schema, ['string', 'integer']);
  const where = fc.option(filterArb(schema), { freq: 2 });
  return fc.oneof(
    fc.record({ kind: fc.constant('count' as const), where }),
    fc.record({ kind: fc.constant('count' as const), field: fc.constantFrom(...Object.keys(schema)), where }),
    fc.record({
      kind: fc.constantFrom('sum' as const, 'min' as const, 'max' as const, 'avg' as const),
      field: fc.constantFrom(...numeric),
      where,
    }),
    fc.record({ kind: fc.constant('distinct' as const), field: fc.constantFrom(...keyed), where }),
    fc.record({
      kind: fc.constant('quantiles' as const),
      field: fc.constantFrom(...numeric),
      qs: fc.constantFrom([0.5], [0.1, 0.9], [0, 1]),
      where,
    }),
    fc.record({
      kind: fc.constant('topK' as const),
      field: fc.constantFrom(...keyed),
      k: fc.integer({ min: 1, max: 5 }),
      where,
    }),
  );
}

const dimensionFields: EventField[] = [
  'endpoint',
  'method',
  'status_code',
  'user_id',
  'page_id',
  'bytes_sent',
  'session_id',
];

/** Random event view specs (no sessionize). */
export const eventViewSpecArb: fc.Arbitrary<ViewSpec> = fc.record({
  name: fc.constant('random_view'),
  bucket: fc.constantFrom('1m' as const, '1h' as const),
  dimensions: fc.subarray(dimensionFields, { maxLength: 2 }),
  filter: fc.option(filterArb(eventFieldTypes), { freq: 2 }),
  measures: fc
    .array(measureSpecArb(eventFieldTypes), { minLength: 1, maxLength: 5 })
    .map((specs) => Object.fromEntries(specs.map((spec, i) => [`m${i}`, spec]))),
});

/** Views whose measures are many filtered counts: exercises the filter compilers hardest. */
export const filterViewSpecArb: fc.Arbitrary<ViewSpec> = fc.record({
  name: fc.constant('filter_view'),
  bucket: fc.constant('1h' as const),
  dimensions: fc.constant([]),
  filter: fc.option(filterArb(eventFieldTypes), { freq: 4 }),
  measures: fc
    .array(filterArb(eventFieldTypes), { minLength: 1, maxLength: 10 })
    .map((filters) =>
      Object.fromEntries(filters.map((f, i) => [`c${i}`, { kind: 'count' as const, where: f }])),
    ),
});

/** Random sessionized view specs: random event filter, random measures over session fields. */
export const sessionViewSpecArb: fc.Arbitrary<ViewSpec> = fc.record({
  name: fc.constant('random_sessions'),
  bucket: fc.constantFrom('1m' as const, '1h' as const),
  sessionize: fc.record({
    by: fc.constant('user_id' as const),
    gapMs: fc.constantFrom(30 * MINUTE_MS, 10 * MINUTE_MS, 0),
  }),
  filter: fc.option(filterArb(eventFieldTypes), { freq: 3 }),
  measures: fc
    .array(measureSpecArb(sessionFieldTypes), { minLength: 1, maxLength: 4 })
    .map((specs) => Object.fromEntries(specs.map((spec, i) => [`m${i}`, spec]))),
});

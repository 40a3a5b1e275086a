// The promise of the project, as properties: for random events (out of order, on bucket and day
// boundaries, unicode, nulls), the compiled DuckDB SQL and the incremental reducer produce the
// same partial states, for the built-in views and for random view definitions.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinViews } from '../src/builtin-views.ts';
import { compileReducer, type SessionViewReducer } from '../src/reducer.ts';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../src/time.ts';
import type { PartialRow, TandemEvent, TimeRange } from '../src/types.ts';
import { defineView, type View } from '../src/view.ts';
import { compileViewSql, inputRangeFor, sqlRowToPartialRow } from '../src/view-sql.ts';
import {
  BASE_MS,
  eventsArb,
  eventViewSpecArb,
  filterViewSpecArb,
  rangeArb,
  SPAN_HOURS,
  sessionRangeArb,
  sessionTimestampArb,
  sessionViewSpecArb,
} from './support/arbitraries.ts';
import { diffPartialRows } from './support/compare.ts';
import { openTestDuck, type TestDuck } from './support/duckdb.ts';

const RUNS = 200;
let duck: TestDuck;

beforeAll(async () => {
  duck = await openTestDuck();
});
afterAll(() => duck.close());

async function sqlPartials(view: View, events: TandemEvent[], range: TimeRange): Promise<PartialRow[]> {
  await duck.loadEvents('ev', events);
  const { sql, params } = compileViewSql(view, { eventsRelation: 'ev', range });
  const rows = await duck.rows(sql, params);
  return rows.map((row) => sqlRowToPartialRow(view, row));
}

function reducerPartials(view: View, events: TandemEvent[], range: TimeRange): PartialRow[] {
  const reducer = compileReducer(view);
  for (const event of events) reducer.add(event);
  if (view.sessionize !== null) (reducer as SessionViewReducer).flush();
  return reducer.rows().filter((row) => row.bucket >= range.from && row.bucket < range.to);
}

async function checkParity(view: View, events: TandemEvent[], range: TimeRange): Promise<void> {
  const fromSql = await sqlPartials(view, events, range);
  const fromReducer = reducerPartials(view, events, range);
  const diff = diffPartialRows(view, fromSql, fromReducer);
  if (diff !== null) throw new Error(`SQL and reducer disagree for ${view.name}: ${diff}`);
}

describe('compileViewSql and compileReducer agree', () => {
  it('endpoint_hourly', async () => {
    await fc.assert(
      fc.asyncProperty(eventsArb(), rangeArb, (events, range) =>
        checkParity(builtinViews.endpoint_hourly, events, range),
      ),
      { numRuns: RUNS },
    );
  });

  it('trending_pages', async () => {
    await fc.assert(
      fc.asyncProperty(eventsArb(), rangeArb, (events, range) =>
        checkParity(builtinViews.trending_pages, events, range),
      ),
      { numRuns: RUNS },
    );
  });

  it('sessions_hourly (sessions cross hours and midnights, gaps of exactly 30 min)', async () => {
    const fewUsers = fc.oneof(fc.constant(null), fc.constantFrom('u1', 'u2', '', '😀'));
    const around = fc.oneof(
      fc.tuple(eventsArb({ userArb: fewUsers, maxLength: 100 }), rangeArb),
      fc.tuple(
        eventsArb({ userArb: fewUsers, maxLength: 60, timestampArb: sessionTimestampArb }),
        sessionRangeArb,
      ),
    );
    await fc.assert(
      fc.asyncProperty(around, ([events, range]) => checkParity(builtinViews.sessions_hourly, events, range)),
      { numRuns: RUNS },
    );
  });

  it('random event views (random dimensions, filters, measures and measure filters)', async () => {
    await fc.assert(
      fc.asyncProperty(eventViewSpecArb, eventsArb({ maxLength: 60 }), rangeArb, (spec, events, range) =>
        checkParity(defineView(spec), events, range),
      ),
      { numRuns: RUNS },
    );
  });

  it('random filters (up to ten filtered counts per view)', async () => {
    await fc.assert(
      fc.asyncProperty(filterViewSpecArb, eventsArb({ maxLength: 60 }), (spec, events) =>
        checkParity(defineView(spec), events, { from: BASE_MS, to: BASE_MS + SPAN_HOURS * HOUR_MS }),
      ),
      { numRuns: RUNS },
    );
  });

  it('random sessionized views', async () => {
    const fewUsers = fc.oneof(fc.constant(null), fc.constantFrom('u1', 'u2', ''));
    await fc.assert(
      fc.asyncProperty(
        sessionViewSpecArb,
        eventsArb({ userArb: fewUsers, maxLength: 60 }),
        rangeArb,
        (spec, events, range) => checkParity(defineView(spec), events, range),
      ),
      { numRuns: RUNS },
    );
  });

  it('agrees on a hand-checked example, with the values a person would expect', async () => {
    const base = Date.UTC(2024, 0, 1, 10);
    const event = (
      i: number,
      offsetMs: number,
      status: number,
      latency: number,
      user: string | null,
    ): TandemEvent => ({
      event_id: `x${i}`,
      timestamp: base + offsetMs,
      endpoint: '/x',
      method: 'GET',
      status_code: status,
      response_time_ms: latency,
      bytes_sent: 100 * i,
      user_id: user,
      session_id: null,
      page_id: null,
    });
    const events = [
      event(1, 5, 200, 10, 'a'),
      event(2, 10, 503, 100, 'b'),
      event(3, 0, 201, 20, 'a'),
      event(4, HOUR_MS, 200, 30, null), // next hour
    ];
    const range = { from: base, to: base + HOUR_MS };
    const view = builtinViews.endpoint_hourly;
    const [row] = await sqlPartials(view, events, range);
    expect(row?.bucket).toBe(base);
    expect(row?.dims).toEqual(['/x']);
    expect({ ...row?.states.requests }).toEqual({ n: 3 });
    expect({ ...row?.states.requests_2xx }).toEqual({ n: 2 });
    expect({ ...row?.states.errors_5xx }).toEqual({ n: 1 });
    expect({ ...row?.states.avg_latency_ms }).toEqual({ s: 30, n: 2 });
    expect({ ...row?.states.avg_response_bytes }).toEqual({ s: 600, n: 3 });
    expect(Object.keys(row?.states.unique_users ?? {})).toHaveLength(2);
    await checkParity(view, events, range);
  });
});

describe('inputRangeFor', () => {
  it('reads exactly the buckets of a plain view, aligned to buckets', () => {
    const from = Date.UTC(2024, 0, 1, 10, 17);
    expect(inputRangeFor(builtinViews.endpoint_hourly, { from, to: from + 2 * HOUR_MS })).toEqual({
      from: Date.UTC(2024, 0, 1, 11),
      to: Date.UTC(2024, 0, 1, 13),
    });
    expect(inputRangeFor(builtinViews.trending_pages, { from, to: from + MINUTE_MS })).toEqual({
      from,
      to: from + MINUTE_MS,
    });
  });

  it('reads from midnight to the end of the hour plus the gap for sessions, capped at the next midnight', () => {
    const h = Date.UTC(2024, 0, 1, 10);
    const view = builtinViews.sessions_hourly;
    expect(inputRangeFor(view, { from: h, to: h + HOUR_MS })).toEqual({
      from: Date.UTC(2024, 0, 1),
      to: h + HOUR_MS + 30 * MINUTE_MS,
    });
    const last = Date.UTC(2024, 0, 1, 23);
    expect(inputRangeFor(view, { from: last, to: last + HOUR_MS })).toEqual({
      from: Date.UTC(2024, 0, 1),
      to: Date.UTC(2024, 0, 2),
    });
    expect(inputRangeFor(view, { from: h, to: h })).toEqual({ from: h, to: h });
    expect(inputRangeFor(view, { from: h, to: h + DAY_MS })).toEqual({
      from: Date.UTC(2024, 0, 1),
      to: Date.UTC(2024, 0, 2, 10, 30),
    });
  });
});

describe('sqlRowToPartialRow', () => {
  it('accepts bigints and strings from DuckDB and restores typed dimensions', () => {
    const view = defineView({
      name: 'by_status',
      bucket: '1h',
      dimensions: ['status_code', 'user_id'],
      measures: { n: { kind: 'count' } },
    });
    const row = sqlRowToPartialRow(view, { bucket: 3600000n, d0: 200, d1: null, states: '{"n":{"n":2}}' });
    expect(row).toEqual({ bucket: 3600000, dims: [200, null], states: { n: { n: 2 } } });
  });
});

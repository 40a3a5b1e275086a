// The reducer's own contract: copies out, clears, counts groups, applies the view filter.
import { describe, expect, it } from 'vitest';
import { builtinViews } from '../src/builtin-views.ts';
import { compileReducer } from '../src/reducer.ts';
import type { TandemEvent } from '../src/types.ts';
import { defineView } from '../src/view.ts';

const t = Date.UTC(2024, 0, 1, 10, 0, 30);
const event = (i: number, patch: Partial<TandemEvent> = {}): TandemEvent => ({
  event_id: `e${i}`,
  timestamp: t + i,
  endpoint: '/x',
  method: 'GET',
  status_code: 200,
  response_time_ms: 5,
  bytes_sent: 10,
  user_id: 'u',
  session_id: null,
  page_id: null,
  ...patch,
});

describe('compileReducer', () => {
  it('returns copies, sorted, and forgets on clear', () => {
    const reducer = compileReducer(builtinViews.endpoint_hourly);
    reducer.add(event(1, { endpoint: '/b' }));
    reducer.add(event(2, { endpoint: '/a' }));
    reducer.add(event(3, { endpoint: '/a' }));
    expect(reducer.size).toBe(2);
    const rows = reducer.rows();
    expect(rows.map((r) => r.dims)).toEqual([['/a'], ['/b']]);
    (rows[0]?.states.requests as Record<string, number>).n = 99;
    expect(reducer.rows()[0]?.states.requests).toEqual({ n: 2 });
    reducer.clear();
    expect(reducer.size).toBe(0);
    expect(reducer.rows()).toEqual([]);
  });

  it('forEachGroup shows the same groups and cells as rows(), flat', () => {
    const reducer = compileReducer(builtinViews.endpoint_hourly);
    for (let i = 0; i < 50; i++) {
      reducer.add(
        event(i * 97_000, {
          endpoint: `/e${i % 3}`,
          status_code: i % 5 === 0 ? 503 : 200,
          response_time_ms: i % 7 === 0 ? 0 : i * 1.5,
          bytes_sent: i % 4 === 0 ? null : i,
          user_id: i % 6 === 0 ? null : `u${i % 11}`,
        }),
      );
    }
    const names = Object.keys(builtinViews.endpoint_hourly.measures);
    const seen: string[] = [];
    reducer.forEachGroup((bucket, dims, cells) => {
      const states: Record<string, Record<string, number>> = {};
      names.forEach((name, i) => {
        const keys: string[] = [];
        const values: number[] = [];
        cells[i]!.appendCells(`${name}:`, keys, values);
        states[name] = Object.fromEntries(keys.map((key, j) => [key.slice(name.length + 1), values[j]!]));
      });
      seen.push(JSON.stringify({ bucket, dims, states }));
    });
    const expected = reducer
      .rows()
      .map((row) => JSON.stringify({ bucket: row.bucket, dims: row.dims, states: plain(row.states) }));
    expect(seen.sort()).toEqual(expected.sort());
  });

  it('applies the view filter and keeps null and numeric dimensions apart', () => {
    const trending = compileReducer(builtinViews.trending_pages);
    trending.add(event(1, { page_id: null }));
    trending.add(event(2, { page_id: '/p' }));
    trending.add(event(3, { page_id: '' }));
    const [row] = trending.rows();
    expect(row?.bucket).toBe(Date.UTC(2024, 0, 1, 10, 0));
    expect({ ...row?.states.views }).toEqual({ n: 2 });
    expect({ ...row?.states.page_views }).toEqual({ '/p': 1, '': 1 });

    const byUser = compileReducer(
      defineView({
        name: 'by_user',
        bucket: '1h',
        dimensions: ['user_id', 'status_code'],
        measures: { n: { kind: 'count' } },
      }),
    );
    byUser.add(event(1, { user_id: null }));
    byUser.add(event(2, { user_id: 'null' }));
    byUser.add(event(3, { user_id: '200', status_code: 200 }));
    expect(byUser.rows().map((r) => r.dims)).toEqual([
      [null, 200],
      ['200', 200],
      ['null', 200],
    ]);
  });
});

/** States as plain objects with the cells in the order the accumulators append them. */
function plain(states: Record<string, Record<string, number>>): Record<string, Record<string, number>> {
  return Object.fromEntries(Object.entries(states).map(([name, cells]) => [name, { ...cells }]));
}

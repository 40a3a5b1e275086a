// defineView validates at definition time; states encode, decode, merge and finalize by the view.
import { describe, expect, it } from 'vitest';
import { builtinViews } from '../src/builtin-views.ts';
import { isTandemError } from '../src/errors.ts';
import { where } from '../src/filter.ts';
import { newCells } from '../src/measures.ts';
import { compileReducer } from '../src/reducer.ts';
import type { Cells } from '../src/types.ts';
import {
  decodeStates,
  defineView,
  emptyStates,
  encodeStates,
  finalizeStates,
  mergePartialRows,
  mergeStates,
  type ViewSpec,
} from '../src/view.ts';

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (error) {
    return isTandemError(error) ? error.code : String(error);
  }
}

const base: ViewSpec = { name: 'v', bucket: '1h', measures: { n: { kind: 'count' } } };

describe('defineView', () => {
  it('rejects bad definitions with coded errors', () => {
    expect(codeOf(() => defineView({ ...base, name: 'Bad Name' }))).toBe('TANDEM_ERR_VIEW_INVALID');
    expect(codeOf(() => defineView({ ...base, bucket: '2m' as never }))).toBe('TANDEM_ERR_VIEW_INVALID');
    expect(codeOf(() => defineView({ ...base, dimensions: ['nope'] }))).toBe('TANDEM_ERR_VIEW_FIELD_UNKNOWN');
    expect(codeOf(() => defineView({ ...base, dimensions: ['endpoint', 'endpoint'] }))).toBe(
      'TANDEM_ERR_VIEW_INVALID',
    );
    expect(codeOf(() => defineView({ ...base, filter: where.eq('nope', 1) }))).toBe(
      'TANDEM_ERR_VIEW_FIELD_UNKNOWN',
    );
    expect(codeOf(() => defineView({ ...base, filter: { op: 'regex', field: 'endpoint' } as never }))).toBe(
      'TANDEM_ERR_VIEW_OPERATOR_UNKNOWN',
    );
    expect(codeOf(() => defineView({ ...base, measures: {} }))).toBe('TANDEM_ERR_VIEW_INVALID');
    expect(codeOf(() => defineView({ ...base, measures: { x: { kind: 'median' as never } } }))).toBe(
      'TANDEM_ERR_MEASURE_INVALID',
    );
    expect(codeOf(() => defineView({ ...base, measures: { x: { kind: 'sum', field: 'endpoint' } } }))).toBe(
      'TANDEM_ERR_MEASURE_INVALID',
    );
    expect(codeOf(() => defineView({ ...base, measures: { x: { kind: 'sum', field: 'nope' } } }))).toBe(
      'TANDEM_ERR_VIEW_FIELD_UNKNOWN',
    );
    expect(
      codeOf(() => defineView({ ...base, measures: { x: { kind: 'distinct', field: 'response_time_ms' } } })),
    ).toBe('TANDEM_ERR_MEASURE_INVALID');
    expect(
      codeOf(() => defineView({ ...base, measures: { x: { kind: 'count', where: where.gt('nope', 1) } } })),
    ).toBe('TANDEM_ERR_VIEW_FIELD_UNKNOWN');
    expect(
      codeOf(() =>
        defineView({ ...base, measures: { x: { kind: 'quantiles', field: 'status_code', qs: [2] } } }),
      ),
    ).toBe('TANDEM_ERR_MEASURE_INVALID');
    expect(
      codeOf(() =>
        defineView({
          ...base,
          measures: { p50_x: { kind: 'count' }, x: { kind: 'quantiles', field: 'status_code', qs: [0.5] } },
        }),
      ),
    ).toBe('TANDEM_ERR_VIEW_INVALID');
    expect(
      codeOf(() =>
        defineView({
          ...base,
          dimensions: ['endpoint'],
          sessionize: { by: 'user_id' },
          measures: { n: { kind: 'count' } },
        }),
      ),
    ).toBe('TANDEM_ERR_VIEW_INVALID');
    expect(codeOf(() => defineView({ ...base, sessionize: { by: 'status_code' } }))).toBe(
      'TANDEM_ERR_VIEW_FIELD_UNKNOWN',
    );
    expect(
      codeOf(() =>
        defineView({
          ...base,
          sessionize: { by: 'user_id' },
          measures: { x: { kind: 'sum', field: 'response_time_ms' } },
        }),
      ),
    ).toBe('TANDEM_ERR_VIEW_FIELD_UNKNOWN');
  });

  it('exposes name, version, bucket size, dimensions, filter and measures in order', () => {
    const view = builtinViews.endpoint_hourly;
    expect(view.bucketMs).toBe(3_600_000);
    expect(view.dimensions).toEqual(['endpoint']);
    expect(view.version).toBe(1);
    expect(Object.keys(view.measures)).toEqual([
      'requests',
      'requests_2xx',
      'errors_5xx',
      'avg_latency_ms',
      'latency_ms',
      'avg_response_bytes',
      'unique_users',
    ]);
  });
});

describe('states', () => {
  const view = builtinViews.endpoint_hourly;
  const reducer = compileReducer(view);
  const event = (i: number, status: number, latency: number, user: string) => ({
    event_id: `e${i}`,
    timestamp: Date.UTC(2024, 0, 1, 10, i),
    endpoint: '/x',
    method: 'GET',
    status_code: status,
    response_time_ms: latency,
    bytes_sent: 1000,
    user_id: user,
    session_id: null,
    page_id: null,
  });
  for (let i = 0; i < 10; i++) reducer.add(event(i, i < 8 ? 200 : 503, 10 * (i + 1), `u${i % 3}`));
  const [row] = reducer.rows();
  const states = row?.states as Record<string, Cells>;

  it('finalizes to the values the dashboard shows', () => {
    const values = finalizeStates(view, states);
    expect(Object.keys(values)).toEqual([
      'requests',
      'requests_2xx',
      'errors_5xx',
      'avg_latency_ms',
      'p50_latency_ms',
      'p95_latency_ms',
      'p99_latency_ms',
      'avg_response_bytes',
      'unique_users',
    ]);
    expect(values.requests).toBe(10);
    expect(values.requests_2xx).toBe(8);
    expect(values.errors_5xx).toBe(2);
    expect(values.avg_latency_ms).toBe(45);
    // 2xx latencies are 10, 20, … 80; rank q·(n−1) rounded down: p50 → 40, p99 → 70 (±1%).
    expect(Math.abs((values.p50_latency_ms as number) - 40) / 40).toBeLessThanOrEqual(0.01);
    expect(Math.abs((values.p99_latency_ms as number) - 70) / 70).toBeLessThanOrEqual(0.01);
    expect(values.avg_response_bytes).toBe(1000);
    expect(values.unique_users).toBe(3);
    expect(finalizeStates(view, emptyStates(view))).toMatchObject({
      requests: 0,
      avg_latency_ms: null,
      p50_latency_ms: null,
    });
  });

  it('encodes and decodes losslessly, and refuses other versions', () => {
    const text = encodeStates(view, states);
    expect(decodeStates(view, text)).toEqual(states);
    const v2 = defineView({
      ...{ name: 'endpoint_hourly', bucket: '1h', measures: { requests: { kind: 'count' } } },
      version: 2,
    });
    expect(codeOf(() => decodeStates(v2, text))).toBe('TANDEM_ERR_STATE_VERSION');
    const envelope = JSON.parse(text);
    expect(codeOf(() => decodeStates(view, JSON.stringify({ ...envelope, v: 9 })))).toBe(
      'TANDEM_ERR_STATE_VERSION',
    );
    expect(
      codeOf(() => decodeStates(view, JSON.stringify({ ...envelope, m: { ...envelope.m, requests: 7 } }))),
    ).toBe('TANDEM_ERR_STATE_VERSION');
    expect(codeOf(() => decodeStates(view, 'not json'))).toBe('TANDEM_ERR_STATE_VERSION');
    const topView = builtinViews.trending_pages;
    const top = newCells();
    const proto = '__proto__';
    top[proto] = 2;
    const decoded = decodeStates(topView, encodeStates(topView, { views: { n: 2 }, page_views: top }));
    expect(decoded.page_views?.[proto]).toBe(2);
  });

  it('merges rows with equal bucket and dimensions and sorts them', () => {
    const a = { bucket: 2, dims: ['/b'], states };
    const b = { bucket: 1, dims: ['/a'], states };
    const merged = mergePartialRows(view, [a, b, { ...a }]);
    expect(merged.map((r) => [r.bucket, r.dims])).toEqual([
      [1, ['/a']],
      [2, ['/b']],
    ]);
    expect(merged[1]?.states).toEqual(mergeStates(view, states, states));
    expect(merged[1]?.states.requests).toEqual({ n: 20 });
  });
});

// The built-in views exist under their contract names with the measures the seed computed.
import { describe, expect, it } from 'vitest';
import { builtinViews, getView, listViews } from '../src/builtin-views.ts';

describe('built-in views', () => {
  it('are listed and found by name; an unknown name is TANDEM_ERR_VIEW_UNKNOWN', () => {
    expect(listViews().map((v) => v.name)).toEqual(['endpoint_hourly', 'sessions_hourly', 'trending_pages']);
    expect(getView('sessions_hourly')).toBe(builtinViews.sessions_hourly);
    expect(() => getView('nope')).toThrow(
      expect.objectContaining({
        code: 'TANDEM_ERR_VIEW_UNKNOWN',
        message: expect.stringContaining('endpoint_hourly'),
      }),
    );
    expect(() => getView('__proto__')).toThrow();
  });

  it('declare what the dashboard reads', () => {
    expect(builtinViews.sessions_hourly.sessionize).toEqual({
      by: 'user_id',
      gapMs: 1_800_000,
      page: 'page_id',
    });
    expect(Object.keys(builtinViews.sessions_hourly.measures)).toEqual([
      'sessions',
      'avg_duration_ms',
      'avg_page_views',
      'avg_unique_pages',
      'bounce_rate',
    ]);
    expect(builtinViews.trending_pages.bucket).toBe('1m');
    expect(builtinViews.trending_pages.filter).toEqual({ op: 'exists', field: 'page_id' });
    expect(builtinViews.trending_pages.measures.page_views?.k).toBe(10);
    expect(builtinViews.endpoint_hourly.measures.latency_ms?.outputs).toEqual([
      'p50_latency_ms',
      'p95_latency_ms',
      'p99_latency_ms',
    ]);
  });
});

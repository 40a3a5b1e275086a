// verify's arithmetic: the speed layer missing exactly the late events shows as exactly that drift,
// per measure and per group; identical inputs show none.
import { compileReducer, getView, type TandemEvent } from '@tandem/core';
import { describe, expect, it } from 'vitest';
import { collectTruth, generateTraffic, truthEvents } from '../../src/index.ts';
import { computeDrift } from '../../src/ops/drift.ts';

const hour = Date.UTC(2025, 0, 31, 10);
const { records } = collectTruth(
  generateTraffic({
    start: hour,
    durationMs: 3_600_000,
    rate: 3,
    seed: 5,
    lateRatio: 0.05,
    lateByMs: 10 * 60_000,
  }),
);
const rows = (view: string, events: TandemEvent[]) => {
  const reducer = compileReducer(getView(view));
  for (const event of events) reducer.add(event);
  return reducer.rows();
};

describe('computeDrift', () => {
  const view = getView('endpoint_hourly');
  const batch = truthEvents(records, 'batch');
  const speed = truthEvents(records, 'speed');
  const late = records.filter((r) => r.label === 'late').map((r) => r.event!);

  it('reports no drift when both layers saw the same events', () => {
    const report = computeDrift(view, rows(view.name, batch), rows(view.name, batch));
    expect(report.maxRelativeDrift).toBe(0);
    expect(report.measures.every((m) => m.groupsDiffering === 0 && m.drift === 0)).toBe(true);
  });

  it('counts exactly the late events as the speed layer’s drift, per measure and per endpoint', () => {
    expect(late.length).toBeGreaterThan(10);
    const report = computeDrift(view, rows(view.name, batch), rows(view.name, speed));
    const requests = report.measures.find((m) => m.measure === 'requests')!;
    expect(requests.batch).toBe(batch.length);
    expect(requests.speed).toBe(speed.length);
    expect(requests.drift).toBe(-late.length);
    expect(requests.relativeDrift).toBeCloseTo(-late.length / batch.length, 12);
    const endpointsWithLate = new Set(late.map((e) => e.endpoint));
    expect(requests.groupsDiffering).toBe(endpointsWithLate.size);
    const errors = report.measures.find((m) => m.measure === 'errors_5xx')!;
    expect(errors.drift).toBe(-late.filter((e) => e.status_code >= 500).length);
    expect(report.measures.map((m) => m.measure)).toContain('p95_latency_ms');
    expect(report.groups.both + report.groups.batchOnly).toBe(new Set(batch.map((e) => e.endpoint)).size);
  });

  it('rolls minute buckets up to the hour and compares top-K lists by their total', () => {
    const trending = getView('trending_pages');
    const report = computeDrift(trending, rows(trending.name, batch), rows(trending.name, speed));
    const views = report.measures.find((m) => m.measure === 'views')!;
    const pageViews = (events: TandemEvent[]) => events.filter((e) => e.page_id !== null).length;
    expect(views.batch).toBe(pageViews(batch));
    expect(views.drift).toBe(pageViews(speed) - pageViews(batch));
  });
});

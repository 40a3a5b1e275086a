// Comparisons for partial rows: counts and sketch cells must match exactly; floating-point sums may
// differ in the last bits because DuckDB and the reducer add in different orders.
import { type Cells, compareDims, finalizeStates, HOUR_MS, type PartialRow, type View } from '@tandem/core';
import { expect } from 'vitest';
import type { EndpointTruth } from './fixtures.ts';

export function sortRows(rows: readonly PartialRow[]): PartialRow[] {
  return [...rows].sort((a, b) => a.bucket - b.bucket || compareDims(a.dims, b.dims));
}

function closeEnough(a: number, b: number): boolean {
  if (a === b) return true;
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

/** Same buckets, dimensions, measures and cells; cell values equal up to 1e-9 relative. */
export function expectSameRows(actual: readonly PartialRow[], expected: readonly PartialRow[]): void {
  const a = sortRows(actual);
  const e = sortRows(expected);
  expect(a.map((row) => [row.bucket, row.dims])).toEqual(e.map((row) => [row.bucket, row.dims]));
  a.forEach((row, index) => {
    const other = e[index]!;
    expect(Object.keys(row.states).sort()).toEqual(Object.keys(other.states).sort());
    for (const [measure, cells] of Object.entries(row.states)) {
      const otherCells: Cells = other.states[measure]!;
      expect(
        Object.keys(cells).sort(),
        `${measure} cells at ${row.bucket} ${JSON.stringify(row.dims)}`,
      ).toEqual(Object.keys(otherCells).sort());
      for (const [cell, value] of Object.entries(cells)) {
        if (!closeEnough(value, otherCells[cell]!)) {
          expect(value, `${measure}.${cell} at ${row.bucket} ${JSON.stringify(row.dims)}`).toBe(
            otherCells[cell],
          );
        }
      }
    }
  });
}

/** The exact quantile bracket: the order statistics around rank q·(n-1). */
function bracket(values: number[], q: number): [number, number] {
  const sorted = [...values].sort((x, y) => x - y);
  const rank = q * (sorted.length - 1);
  return [sorted[Math.floor(rank)]!, sorted[Math.ceil(rank)]!];
}

/** endpoint_hourly rows against the independently computed truth. */
export function expectEndpointTruth(
  view: View,
  rows: readonly PartialRow[],
  truth: Map<string, EndpointTruth>,
): void {
  const seen = new Set<string>();
  for (const row of rows) {
    const key = `${row.bucket}|${row.dims[0]}`;
    const exact = truth.get(key);
    expect(exact, `a row the truth does not have: ${key}`).toBeDefined();
    if (exact === undefined) continue;
    seen.add(key);
    expect(row.bucket % HOUR_MS).toBe(0);
    const values = finalizeStates(view, row.states) as Record<string, number | null>;
    expect(values.requests).toBe(exact.requests);
    expect(values.requests_2xx).toBe(exact.requests_2xx);
    expect(values.errors_5xx).toBe(exact.errors_5xx);
    if (exact.requests_2xx === 0) expect(values.avg_latency_ms).toBeNull();
    else expect(values.avg_latency_ms).toBeCloseTo(exact.latencySum2xx / exact.requests_2xx, 9);
    if (exact.bytesCount === 0) expect(values.avg_response_bytes).toBeNull();
    else expect(values.avg_response_bytes).toBeCloseTo(exact.bytesSum / exact.bytesCount, 9);
    // HyperLogLog with p = 14 is close to exact for small sets (linear counting).
    const users = exact.users.size;
    expect(Math.abs((values.unique_users ?? 0) - users)).toBeLessThanOrEqual(Math.max(1, users * 0.02));
    for (const [q, name] of [
      [0.5, 'p50_latency_ms'],
      [0.95, 'p95_latency_ms'],
      [0.99, 'p99_latency_ms'],
    ] as const) {
      if (exact.latencies2xx.length === 0) {
        expect(values[name]).toBeNull();
        continue;
      }
      const [low, high] = bracket(exact.latencies2xx, q);
      const value = values[name]!;
      expect(value, `${name} of ${key}`).toBeGreaterThanOrEqual(low * 0.99 - 1e-9);
      expect(value, `${name} of ${key}`).toBeLessThanOrEqual(high * 1.01 + 1e-9);
    }
  }
  expect([...seen].sort()).toEqual([...truth.keys()].sort());
}

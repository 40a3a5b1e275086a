// Compares a series answer with the ground truth, value by value, and lists every difference.
import type { StreamEvent, View } from '@tandem/core';
import type { Granularity } from './fixtures.ts';
import { truthValues } from './server.ts';

export interface SeriesAnswer {
  from: string;
  to: string;
  coverage: Array<{ bucket: string; source: string }>;
  series: Array<{
    dims: Record<string, unknown>;
    points: Array<{ bucket: string; source: string; values: Record<string, unknown> }>;
  }>;
}

function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    return a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Differences between an answer and the truth for buckets served by some layer. Every group of the
 * truth must appear, every served value must equal it, and groups absent from the truth must be
 * all-empty (zero counts, null averages).
 */
export function diffSeries(
  viewName: View | string,
  events: readonly StreamEvent[],
  query: { granularity: Granularity; filter: Record<string, string>; groupBy: string[]; outputs?: string[] },
  answer: SeriesAnswer,
  emptyValues: Record<string, unknown>,
): string[] {
  const range = { from: Date.parse(answer.from), to: Date.parse(answer.to) };
  const truth = truthValues(viewName, events, { ...query, range });
  const differences: string[] = [];
  const seen = new Set<string>();
  for (const group of answer.series) {
    const key = JSON.stringify(query.groupBy.map((name) => group.dims[name] ?? null));
    seen.add(key);
    const truthGroup = truth.get(key);
    for (const point of group.points) {
      if (point.source === 'none') continue;
      const bucket = Date.parse(point.bucket);
      const expected = truthGroup?.get(bucket) ?? emptyValues;
      for (const [name, value] of Object.entries(point.values)) {
        if (!same(value, expected[name])) {
          differences.push(
            `${key} ${point.bucket} ${name}: got ${JSON.stringify(value)}, want ${JSON.stringify(expected[name])}`,
          );
        }
      }
    }
  }
  for (const key of truth.keys()) {
    if (!seen.has(key)) differences.push(`group ${key} missing from the answer`);
  }
  return differences;
}

// The bounded heap behind /top keeps exactly what a full sort would put first.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { type RankedCandidate, ranksBefore, TopK } from '../../src/query/top-ranking.ts';

describe('TopK', () => {
  test('keeps the k best of any stream, in the order of a full sort', () => {
    const candidate = fc.record({
      score: fc.option(fc.integer({ min: -5, max: 5 }), { nil: null }),
      label: fc.string({ maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.array(candidate, { maxLength: 200 }), fc.integer({ min: 1, max: 30 }), (items, k) => {
        const candidates: Array<RankedCandidate<number>> = items.map((item, index) => ({
          ...item,
          item: index,
        }));
        const top = new TopK<number>(k);
        for (const one of candidates) top.offer(one);
        const sorted = [...candidates].sort((a, b) => (ranksBefore(a, b) ? -1 : ranksBefore(b, a) ? 1 : 0));
        const kept = top.ranked();
        // Equal candidates (same score and label) may swap; their scores and labels may not.
        expect(kept.map(({ score, label }) => [score, label])).toEqual(
          sorted.slice(0, k).map(({ score, label }) => [score, label]),
        );
      }),
      { numRuns: 300 },
    );
  });

  test('ranks higher scores first, nulls last, ties by label', () => {
    const top = new TopK<string>(4);
    for (const [score, label] of [
      [1, 'b'],
      [null, 'a'],
      [3, 'z'],
      [1, 'a'],
      [2, 'c'],
      [0, 'a'],
    ] as const) {
      top.offer({ score, label, item: label });
    }
    expect(top.ranked().map(({ score, label }) => `${score}${label}`)).toEqual(['3z', '2c', '1a', '1b']);
  });
});

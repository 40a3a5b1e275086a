// The dedup window's verdicts depend on offsets alone, so a worker that replays the window's
// offsets after a restart reaches the verdicts an uninterrupted worker would have.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DedupWindow } from '../src/dedup-window.ts';

/** The specification: a duplicate iff the id occurred at one of the previous `size` offsets. */
function reference(ids: Array<string | null>, size: number): boolean[] {
  return ids.map((id, offset) => {
    if (id === null || size === 0) return false;
    for (let earlier = Math.max(0, offset - size); earlier < offset; earlier++) {
      if (ids[earlier] === id) return true;
    }
    return false;
  });
}

function run(window: DedupWindow, ids: Array<string | null>, from: number, to: number): boolean[] {
  const verdicts: boolean[] = [];
  for (let offset = from; offset < to; offset++) {
    const id = ids[offset];
    verdicts.push(id === null || id === undefined ? false : window.observe(id, offset));
  }
  return verdicts;
}

const stream = fc.array(fc.option(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), { nil: null }), {
  maxLength: 200,
});

describe('DedupWindow', () => {
  it('flags an id seen within the previous N offsets, and only those', () => {
    fc.assert(
      fc.property(stream, fc.integer({ min: 0, max: 20 }), (ids, size) => {
        expect(run(new DedupWindow(size), ids, 0, ids.length)).toEqual(reference(ids, size));
      }),
    );
  });

  it('rebuilds the same verdicts after a restart that replays the window', () => {
    fc.assert(
      fc.property(stream, fc.integer({ min: 1, max: 20 }), fc.nat(), (ids, size, cut) => {
        const resume = ids.length === 0 ? 0 : cut % ids.length;
        const restarted = new DedupWindow(size);
        run(restarted, ids, Math.max(0, resume - size), resume); // warm-up, verdicts ignored
        const after = run(restarted, ids, resume, ids.length);
        expect(after).toEqual(reference(ids, size).slice(resume));
      }),
    );
  });

  it('keeps its index exact under heavy probing and eviction', () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.integer({ min: 0, max: 60 }), { nil: null }), {
          minLength: 500,
          maxLength: 2000,
        }),
        fc.integer({ min: 1, max: 64 }),
        (numbers, size) => {
          const ids = numbers.map((n) => (n === null ? null : `id-${n}`));
          expect(run(new DedupWindow(size), ids, 0, ids.length)).toEqual(reference(ids, size));
        },
      ),
      { numRuns: 50 },
    );
  });

  it('does not count the exempt offset (a DLQ replay of that message), only other occurrences', () => {
    fc.assert(
      fc.property(stream, fc.integer({ min: 1, max: 20 }), fc.nat(), (ids, size, pick) => {
        // the last message is a replay of an earlier one: exempt from matching that one alone
        if (ids.length < 2) return;
        const original = pick % (ids.length - 1);
        const id = ids[original] ?? 'a';
        const replay = ids.length - 1;
        const expected = ids.some(
          (other, at) => other === id && at !== original && at >= replay - size && at < replay,
        );
        const window = new DedupWindow(size);
        run(window, ids, 0, replay);
        expect(window.observe(id, replay, original)).toBe(expected);
      }),
    );
    const window = new DedupWindow(10);
    window.observe('x', 3);
    expect(window.observe('x', 7, 3)).toBe(false); // the original alone: not a duplicate
    expect(window.observe('x', 8, 3)).toBe(true); // the replay itself is now in the window
  });

  it('holds at most N ids', () => {
    const window = new DedupWindow(100);
    for (let offset = 0; offset < 10_000; offset++) window.observe(`id-${offset}`, offset);
    expect(window.length).toBe(100);
  });
});

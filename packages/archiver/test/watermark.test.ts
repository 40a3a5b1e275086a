// The watermark rule: bounded out-of-orderness, held back by data not yet durable, advanced by the
// clock only when caught up, never moving back.
import { describe, expect, it } from 'vitest';
import { computeWatermark, type WatermarkInputs } from '../src/watermark.ts';

const base: WatermarkInputs = {
  previous: null,
  maxEventTime: null,
  minNotDurable: null,
  caughtUp: false,
  now: 1_000_000,
  outOfOrdernessMs: 30_000,
  idleAdvance: true,
};

describe('computeWatermark', () => {
  it('is unknown until an event is seen or the partition is caught up', () => {
    expect(computeWatermark(base)).toBeNull();
    expect(computeWatermark({ ...base, caughtUp: true })).toBe(969_999);
    expect(computeWatermark({ ...base, caughtUp: true, idleAdvance: false })).toBeNull();
  });

  it('trails the newest event time by the out-of-orderness bound', () => {
    expect(computeWatermark({ ...base, maxEventTime: 500_000 })).toBe(469_999);
  });

  it('stays below the oldest event that is not durable yet', () => {
    expect(computeWatermark({ ...base, maxEventTime: 500_000, minNotDurable: 400_000 })).toBe(399_999);
    expect(computeWatermark({ ...base, maxEventTime: 500_000, minNotDurable: 480_000 })).toBe(469_999);
  });

  it('advances an idle, caught-up partition with the clock, never past buffered data', () => {
    expect(computeWatermark({ ...base, maxEventTime: 500_000, caughtUp: true })).toBe(969_999);
    expect(computeWatermark({ ...base, maxEventTime: 500_000, caughtUp: true, minNotDurable: 400_000 })).toBe(
      399_999,
    );
    // Event times ahead of the clock win over the clock.
    expect(computeWatermark({ ...base, maxEventTime: 2_000_000, caughtUp: true })).toBe(1_969_999);
  });

  it('never moves back', () => {
    expect(computeWatermark({ ...base, previous: 800_000, maxEventTime: 500_000 })).toBe(800_000);
    expect(computeWatermark({ ...base, previous: 800_000 })).toBe(800_000);
    expect(computeWatermark({ ...base, previous: 100_000, maxEventTime: 500_000 })).toBe(469_999);
  });
});

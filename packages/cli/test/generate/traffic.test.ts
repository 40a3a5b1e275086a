// The generator is what every other test's truth comes from, so it is checked against the core
// parser itself: each message parses to exactly the event the generator says it is, or fails
// with the code its poison kind predicts.
import { createHash } from 'node:crypto';
import { parseEvent } from '@tandem/core';
import { describe, expect, it } from 'vitest';
import { poisonExpectedCode, poisonKinds } from '../../src/generate/poison.ts';
import { expectedMessages, generateTraffic, type TrafficRecord } from '../../src/generate/traffic.ts';
import { collectTruth, truthEvents } from '../../src/generate/truth.ts';

const start = Date.UTC(2025, 0, 31, 10);
const base = {
  start,
  seed: 42,
  durationMs: 12 * 60_000,
  rate: 40,
  lateRatio: 0.02,
  duplicateRatio: 0.02,
  badRatio: 0.02,
  lateByMs: 4 * 60_000,
};

function fingerprint(records: TrafficRecord[]): string {
  const hash = createHash('sha256');
  for (const r of records)
    hash.update(`${r.seq}|${r.sendAt}|${r.key}|${r.label}|${r.poison}|`).update(r.value);
  return hash.digest('hex');
}

describe('generateTraffic', () => {
  const { records, truth } = collectTruth(generateTraffic(base));

  it('is deterministic: the same options give the same bytes, another seed does not', () => {
    const again = collectTruth(generateTraffic(base)).records;
    expect(fingerprint(again)).toBe(fingerprint(records));
    const other = collectTruth(generateTraffic({ ...base, seed: 43 })).records;
    expect(fingerprint(other)).not.toBe(fingerprint(records));
    // The start is part of the identity too: ids differ, so two runs never collide in a dedup window.
    const shifted = collectTruth(generateTraffic({ ...base, start: start + 3_600_000 })).records;
    expect(shifted[0]!.eventId).not.toBe(records[0]!.eventId);
  });

  it('produces about the requested rate, in send order, inside the requested range', () => {
    expect(records.length).toBeGreaterThan(expectedMessages(base) * 0.9);
    expect(records.length).toBeLessThan(expectedMessages(base) * 1.1);
    const outOfOrder = records.filter((r, i) => i > 0 && r.sendAt < records[i - 1]!.sendAt);
    expect(outOfOrder).toEqual([]);
    const outside = records.filter(
      (r) => r.event && (r.event.timestamp < start || r.event.timestamp >= start + base.durationMs),
    );
    expect(outside).toEqual([]);
  });

  it('labels every message with what the core parser makes of it', () => {
    const now = () => start + base.durationMs;
    const wrong: string[] = [];
    for (const record of records) {
      const result = parseEvent(record.value, { now });
      if (record.label === 'bad') {
        if (result.ok || result.error.code !== poisonExpectedCode[record.poison!]) {
          wrong.push(`${record.poison}: ${result.ok ? 'accepted' : result.error.code}`);
        }
      } else if (!result.ok) {
        wrong.push(`${record.label} rejected: ${result.error.message}`);
      } else if (JSON.stringify(result.event) !== JSON.stringify(record.event)) {
        wrong.push(
          `${record.label} normalized differently: ${JSON.stringify(result.event)} vs ${JSON.stringify(record.event)}`,
        );
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it('keeps its books: counts per label, every poison kind, hours', () => {
    const count = (label: string) => records.filter((r) => r.label === label).length;
    expect(truth.messages).toBe(records.length);
    expect(truth.valid).toBe(count('valid'));
    expect(truth.late).toBe(count('late'));
    expect(truth.duplicates).toBe(count('duplicate'));
    expect(truth.bad).toBe(count('bad'));
    expect(truth.late).toBeGreaterThan(0);
    expect(truth.duplicates).toBeGreaterThan(0);
    for (const kind of poisonKinds) expect(truth.badByKind[kind], kind).toBeGreaterThan(0);
    expect(truth.hours.reduce((sum, h) => sum + h.valid + h.late, 0)).toBe(truth.valid + truth.late);
    expect(truthEvents(records, 'speed')).toHaveLength(truth.valid);
    expect(truthEvents(records, 'batch')).toHaveLength(truth.valid + truth.late);
    const ids = truthEvents(records, 'batch').map((e) => e.event_id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('makes duplicates byte-identical resends of an earlier event, on the same key, within 2 s', () => {
    const byId = new Map(records.filter((r) => r.label === 'valid').map((r) => [r.eventId, r]));
    for (const dup of records.filter((r) => r.label === 'duplicate')) {
      const original = byId.get(dup.eventId)!;
      expect(original.seq).toBeLessThan(dup.seq);
      expect(Buffer.from(dup.value).equals(Buffer.from(original.value))).toBe(true);
      expect(dup.key).toBe(original.key);
      expect(dup.sendAt - original.sendAt).toBeLessThanOrEqual(2_000);
    }
  });

  it('sends a late event right after an on-time event of the same key that is lateByMs ahead of it', () => {
    for (const late of records.filter((r) => r.label === 'late')) {
      const previous = records[late.seq - 1]!;
      expect(previous.label).toBe('valid');
      expect(previous.key).toBe(late.key);
      expect(previous.event!.timestamp - late.event!.timestamp).toBeGreaterThanOrEqual(base.lateByMs - 5_000);
    }
  });

  it('looks like real traffic: skewed endpoints, users browsing in sessions, a day-shaped rate', () => {
    const events = truthEvents(records, 'speed');
    const perEndpoint = new Map<string, number>();
    for (const e of events) perEndpoint.set(e.endpoint, (perEndpoint.get(e.endpoint) ?? 0) + 1);
    const sorted = [...perEndpoint.values()].sort((a, b) => b - a);
    expect(sorted[0]! / events.length).toBeGreaterThan(0.15);
    expect(sorted[0]! / sorted.at(-1)!).toBeGreaterThan(20);
    const sessionUser = new Map<string, string | null>();
    const pagesPerSession = new Map<string, number>();
    for (const e of events) {
      if (e.session_id === null) {
        expect(e.user_id).toBeNull();
        continue;
      }
      if (sessionUser.has(e.session_id)) expect(sessionUser.get(e.session_id)).toBe(e.user_id);
      sessionUser.set(e.session_id, e.user_id);
      pagesPerSession.set(e.session_id, (pagesPerSession.get(e.session_id) ?? 0) + 1);
    }
    const mean = [...pagesPerSession.values()].reduce((a, b) => a + b, 0) / pagesPerSession.size;
    expect(mean).toBeGreaterThan(2);
    const noon = collectTruth(generateTraffic({ ...base, start: Date.UTC(2025, 0, 31, 12), badRatio: 0 }));
    const midnight = collectTruth(generateTraffic({ ...base, start: Date.UTC(2025, 0, 31, 0), badRatio: 0 }));
    expect(noon.truth.valid / midnight.truth.valid).toBeGreaterThan(2);
  });

  it('never puts late events before the start, and rejects impossible options by name', () => {
    const early = collectTruth(generateTraffic({ ...base, durationMs: 3 * 60_000 }));
    expect(early.truth.late).toBe(0);
    expect(() => generateTraffic({ ...base, rate: 0 }).next()).toThrow(/rate/);
    expect(() => generateTraffic({ ...base, lateRatio: 2 }).next()).toThrow(/lateRatio/);
  });
});

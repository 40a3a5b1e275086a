// Time buckets, lake partitions and both timestamp parsers.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bucketStart,
  bucketsIn,
  dayStart,
  HOUR_MS,
  hourPartition,
  hourStart,
  MINUTE_MS,
  parseEventTimestampString,
  parseEventTimestampStringByRegex,
  parseTimeInput,
} from '../src/time.ts';

describe('buckets', () => {
  it('floors to minute, hour and day starts and lists buckets of a range', () => {
    const ts = Date.UTC(2024, 1, 29, 23, 59, 59, 999);
    expect(bucketStart(ts, '1m')).toBe(Date.UTC(2024, 1, 29, 23, 59));
    expect(bucketStart(ts, '1h')).toBe(Date.UTC(2024, 1, 29, 23));
    expect(hourStart(ts)).toBe(Date.UTC(2024, 1, 29, 23));
    expect(dayStart(ts)).toBe(Date.UTC(2024, 1, 29));
    expect(hourPartition(ts)).toEqual({ dt: '2024-02-29', hour: '23' });
    expect(hourPartition(Date.UTC(2024, 0, 5, 3))).toEqual({ dt: '2024-01-05', hour: '03' });
    expect(bucketsIn({ from: Date.UTC(2024, 0, 1, 0, 30), to: Date.UTC(2024, 0, 1, 3) }, '1h')).toEqual([
      Date.UTC(2024, 0, 1, 1),
      Date.UTC(2024, 0, 1, 2),
    ]);
    expect(bucketsIn({ from: 0, to: 3 * MINUTE_MS }, MINUTE_MS)).toHaveLength(3);
  });
});

describe('parseEventTimestampString', () => {
  it('agrees with Date for every instant it prints, at any offset and fraction length', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }),
        fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
        fc.integer({ min: 1, max: 9 }),
        (ms, offsetMin, digits) => {
          const local = new Date(ms + offsetMin * MINUTE_MS).toISOString().slice(0, 19);
          const frac = String(ms % 1000)
            .padStart(3, '0')
            .padEnd(digits, '7')
            .slice(0, digits);
          const sign = offsetMin < 0 ? '-' : '+';
          const abs = Math.abs(offsetMin);
          const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          const truncated = ms - (ms % 1000) + Number((frac + '00').slice(0, 3));
          expect(parseEventTimestampString(`${local}.${frac}${zone}`)).toBe(truncated);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('takes the same decisions on its fast path as the regex the SQL shares', () => {
    const piece = fc.oneof(
      fc.constantFrom('2024', '0000', '9999', '-', 'T', 't', ':', '.', 'Z', 'z', '+', '-', ' ', '１'),
      fc.integer({ min: 0, max: 99 }).map((n) => String(n).padStart(2, '0')),
      fc.integer({ min: 0, max: 9 }).map(String),
    );
    const mutated = fc
      .tuple(
        fc.integer({ min: 0, max: Date.UTC(9999, 0, 1) }).map((ms) => new Date(ms).toISOString()),
        fc.integer({ min: 0, max: 30 }),
        fc.option(piece),
        fc.constantFrom('', 'Z', '+05:30', '-23:59', '+24:00', '.1234567891Z', '.Z', '0'),
      )
      .map(([iso, at, insert, tail]) => {
        const base = tail === '' ? iso : iso.slice(0, 19) + tail;
        return insert === null ? base : base.slice(0, at) + insert + base.slice(at + 1);
      });
    fc.assert(
      fc.property(
        fc.oneof(
          mutated,
          fc.array(piece, { maxLength: 14 }).map((p) => p.join('')),
        ),
        (text) => {
          expect(parseEventTimestampString(text)).toBe(parseEventTimestampStringByRegex(text));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('rejects impossible calendar instants and other forms', () => {
    for (const bad of [
      '2023-02-29T00:00:00Z',
      '2024-04-31T00:00:00Z',
      '2024-01-01T24:00:00Z',
      '2024-01-01T00:00:00+24:00',
      '2024-01-01T00:00:00',
      '+1',
      '１',
    ]) {
      expect(parseEventTimestampString(bad)).toBeNull();
    }
    expect(parseEventTimestampString('2000-02-29T00:00:00Z')).toBe(Date.UTC(2000, 1, 29));
    expect(parseEventTimestampString('0000000001')).toBe(1);
  });
});

describe('parseTimeInput', () => {
  it('accepts epoch ms and lenient ISO-8601 (no zone means UTC)', () => {
    expect(parseTimeInput('1714557600000')).toBe(1714557600000);
    expect(parseTimeInput('2024-05-01')).toBe(Date.UTC(2024, 4, 1));
    expect(parseTimeInput('2024-05-01T10:00')).toBe(Date.UTC(2024, 4, 1, 10));
    expect(parseTimeInput(' 2024-05-01T12:00:00+02:00 ')).toBe(Date.UTC(2024, 4, 1, 10));
    expect(parseTimeInput('2024-05-01 10:00:00.5Z')).toBe(Date.UTC(2024, 4, 1, 10, 0, 0, 500));
    expect(parseTimeInput('2024-05-01T10:00:00+0130')).toBe(Date.UTC(2024, 4, 1, 8, 30));
    expect(parseTimeInput('2024-05-01T00:00:00Z') + HOUR_MS).toBe(Date.UTC(2024, 4, 1, 1));
  });

  it('throws TANDEM_ERR_QUERY_INVALID naming the accepted forms', () => {
    expect(() => parseTimeInput('yesterday')).toThrow(
      expect.objectContaining({
        code: 'TANDEM_ERR_QUERY_INVALID',
        message: expect.stringContaining('ISO-8601'),
      }),
    );
  });
});

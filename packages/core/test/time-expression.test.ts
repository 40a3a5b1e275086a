// Time expressions as the cli and the API read them: absolute times and times relative to now.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTimeExpression, RELATIVE_TIME_PATTERN } from '../src/time-expression.ts';

const now = Date.UTC(2025, 0, 31, 14, 25, 10, 500);

describe('parseTimeExpression', () => {
  it('reads now and offsets from now in seconds, minutes, hours and days', () => {
    expect(parseTimeExpression('now', now)).toBe(now);
    expect(parseTimeExpression(' now ', now)).toBe(now);
    expect(parseTimeExpression('-2h', now)).toBe(now - 2 * 3_600_000);
    expect(parseTimeExpression('-30m', now)).toBe(now - 30 * 60_000);
    expect(parseTimeExpression('-1d', now)).toBe(now - 86_400_000);
    expect(parseTimeExpression('-90s', now)).toBe(now - 90_000);
    expect(parseTimeExpression('+3h', now)).toBe(now + 3 * 3_600_000);
    expect(parseTimeExpression('-1.5h', now)).toBe(now - 5_400_000);
    expect(parseTimeExpression('-0.001s', now)).toBe(now - 1);
  });

  it('reads absolute times as parseTimeInput does, and an hour alone as its start', () => {
    expect(parseTimeExpression('2025-01-31T14:00:00+02:00', now)).toBe(Date.UTC(2025, 0, 31, 12));
    expect(parseTimeExpression('2025-01-31T14:30', now)).toBe(Date.UTC(2025, 0, 31, 14, 30));
    expect(parseTimeExpression('2025-01-31T14', now)).toBe(Date.UTC(2025, 0, 31, 14));
    expect(parseTimeExpression('2025-01-31 14', now)).toBe(Date.UTC(2025, 0, 31, 14));
    expect(parseTimeExpression('2025-01-31', now)).toBe(Date.UTC(2025, 0, 31));
    expect(parseTimeExpression('1738333500000', now)).toBe(1738333500000);
    expect(parseTimeExpression('0', now)).toBe(0);
  });

  it('refuses what is none of the forms', () => {
    for (const text of [
      '',
      'yesterday',
      '2025-13-45',
      '2025-02-30',
      '-2',
      '-1738333500000',
      '2h',
      '-2w',
      '- 2h',
      '-2H',
      '-1.2345h',
      '-1234567890d',
      'now-2h',
      '-.5h',
    ]) {
      expect(parseTimeExpression(text, now), text).toBeNull();
    }
  });

  it('the published pattern accepts exactly the relative forms the parser reads', () => {
    const pattern = new RegExp(RELATIVE_TIME_PATTERN);
    fc.assert(
      fc.property(
        fc.constantFrom('-', '+'),
        fc.integer({ min: 0, max: 999_999_999 }),
        fc.option(fc.integer({ min: 0, max: 999 })),
        fc.constantFrom('s', 'm', 'h', 'd'),
        (sign, whole, fraction, unit) => {
          const text = `${sign}${whole}${fraction === null ? '' : `.${fraction}`}${unit}`;
          expect(pattern.test(text)).toBe(true);
          const unitMs = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit];
          const offset = Math.round(Number(text.slice(1, -1)) * unitMs);
          expect(parseTimeExpression(text, now)).toBe(sign === '-' ? now - offset : now + offset);
        },
      ),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (text) => {
        if (!pattern.test(text)) return;
        expect(parseTimeExpression(text, now)).not.toBeNull();
      }),
    );
  });
});

// Parsers for flag values. Each takes the raw text and the flag's name and either returns the typed
// value or throws a usage error that names the flag, the value and what is accepted.
import { parseTimeValue } from './time.ts';
import { usageError } from './usage-error.ts';

/** Turns a raw flag value into a typed one, or throws a usage error. */
export type ValueParser<T> = (raw: string, flag: string) => T;

/** A description of accepted values, shown in help and errors. */
export interface Described<T> {
  parse: ValueParser<T>;
  accepted: string;
}

function describe<T>(accepted: string, parse: ValueParser<T>): Described<T> {
  return { accepted, parse };
}

export const text = (accepted = 'text'): Described<string> =>
  describe(accepted, (raw, flag) => {
    if (raw === '') throw usageError(`--${flag} needs a value: ${accepted}`);
    return raw;
  });

export const integer = (min: number, max = Number.MAX_SAFE_INTEGER): Described<number> => {
  const accepted =
    max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
  return describe(accepted, (raw, flag) => {
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw usageError(`--${flag} "${raw}" is not valid; expected ${accepted}`);
    }
    return value;
  });
};

export const positiveNumber = (unit: string): Described<number> =>
  describe(`a positive number (${unit})`, (raw, flag) => {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value) || value <= 0) {
      throw usageError(`--${flag} "${raw}" is not valid; expected a positive number (${unit})`);
    }
    return value;
  });

/** A share: `0.02`, or a percentage `2%`. */
export const ratio = (): Described<number> =>
  describe('a ratio from 0 to 1, or a percentage like 2%', (raw, flag) => {
    const trimmed = raw.trim();
    const value = trimmed.endsWith('%') ? Number(trimmed.slice(0, -1)) / 100 : Number(trimmed);
    if (trimmed === '' || !Number.isFinite(value) || value < 0 || value > 1) {
      throw usageError(
        `--${flag} "${raw}" is not valid; expected a ratio from 0 to 1, or a percentage like 2%`,
      );
    }
    return value;
  });

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `90s`, `5m`, `3h`, `1d`, `250ms`, or a bare number of seconds into milliseconds. */
export function parseDurationMs(raw: string): number | null {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!match) return null;
  const value = Number(match[1]) * durationUnits[match[2] ?? 's']!;
  return Number.isFinite(value) && value > 0 ? value : null;
}

export const duration = (): Described<number> =>
  describe('a duration like 90s, 5m, 3h, 1d (a bare number is seconds)', (raw, flag) => {
    const value = parseDurationMs(raw);
    if (value === null) {
      throw usageError(`--${flag} "${raw}" is not valid; expected a duration like 90s, 5m, 3h, 1d`);
    }
    return value;
  });

/** A point in time: ISO-8601, epoch ms, `now`, or relative to now like `-3h`. */
export const time = (now: () => number = Date.now): Described<number> =>
  describe('ISO-8601 (2025-01-31T14:00Z), epoch ms, now, or relative like -3h', (raw, flag) => {
    const value = parseTimeValue(raw, now());
    if (value === null) {
      throw usageError(
        `--${flag} "${raw}" is not a time; expected ISO-8601 (2025-01-31T14:00Z), epoch ms, now, or relative like -3h`,
      );
    }
    return value;
  });

/** A point in time that must fall on an hour boundary; `-1h`-style relative values snap down. */
export const hour = (now: () => number = Date.now): Described<number> =>
  describe('an hour: 2025-01-31T14, 2025-01-31T14:00Z, epoch ms, or relative like -2h', (raw, flag) => {
    const value = parseTimeValue(raw, now());
    if (value === null) {
      throw usageError(
        `--${flag} "${raw}" is not an hour; expected 2025-01-31T14, 2025-01-31T14:00Z, epoch ms, or relative like -2h`,
      );
    }
    const relative = /^(now|[-+])/.test(raw.trim());
    if (!relative && value % 3_600_000 !== 0) {
      throw usageError(
        `--${flag} "${raw}" is not on an hour boundary; give the hour's start, e.g. ${new Date(
          value - (value % 3_600_000),
        )
          .toISOString()
          .slice(0, 13)}`,
      );
    }
    return value - (value % 3_600_000);
  });

export const oneOf = <const T extends string>(choices: readonly T[]): Described<T> =>
  describe(`one of ${choices.join(', ')}`, (raw, flag) => {
    if (!(choices as readonly string[]).includes(raw)) {
      throw usageError(`--${flag} "${raw}" is not accepted; expected one of ${choices.join(', ')}`);
    }
    return raw as T;
  });

// Times as people type them, read the same way by the cli's flags and the API's `from` / `to`:
// an absolute time (`parseTimeInput`'s ISO-8601 or epoch ms, or an hour alone like `2025-01-31T14`)
// or a time relative to a given now (`now`, `-2h`, `-30m`, `+1d`, `-1.5h`).
import { DAY_MS, HOUR_MS, MINUTE_MS, parseTimeInput, SECOND_MS } from './time.ts';

/** The accepted forms, worded once for every message that names them. */
export const timeExpressionForms = 'ISO-8601 (2025-01-31T14:00Z), epoch ms, now, or relative to now like -2h';

/**
 * A relative time: a sign, up to 9 digits with up to 3 decimals, and a unit (s, m, h, d). The
 * sign is required, so a bare number stays epoch milliseconds.
 */
export const RELATIVE_TIME_PATTERN = '^[-+][0-9]{1,9}(?:\\.[0-9]{1,3})?[smhd]$';

/** `RELATIVE_TIME_PATTERN` with groups for sign, amount and unit. */
const relativeTime = /^([-+])([0-9]{1,9}(?:\.[0-9]{1,3})?)([smhd])$/;
const unitMs: Record<string, number> = { s: SECOND_MS, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS };

/**
 * Reads a time expression into epoch ms against `now`; null when it is none of the forms in
 * `timeExpressionForms`. A bare negative number is refused rather than read as a time before
 * 1970: `-2` is far likelier a relative time missing its unit. Callers word their own error,
 * since only they know which flag or parameter was wrong.
 */
export function parseTimeExpression(text: string, now: number): number | null {
  const trimmed = text.trim();
  if (trimmed === 'now') return now;
  const relative = relativeTime.exec(trimmed);
  if (relative !== null) {
    const offset = Math.round(Number(relative[2]) * unitMs[relative[3]!]!);
    return relative[1] === '-' ? now - offset : now + offset;
  }
  if (trimmed.startsWith('-')) return null;
  // An hour alone is that hour's start, as operators write an hour.
  const absolute = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}$/.test(trimmed) ? `${trimmed}:00` : trimmed;
  try {
    return parseTimeInput(absolute);
  } catch {
    return null;
  }
}

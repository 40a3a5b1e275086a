// Times as operators type them: ISO-8601 (UTC when no zone is given, since every bucket is UTC),
// an hour like `2025-01-31T14`, a date, epoch milliseconds, `now`, or an offset from now (`-3h`).
// The reading is core's `parseTimeExpression`, the same the API uses for `from` and `to`.
import { parseTimeExpression } from '@tandem/core';

/** Parses a time as typed on the command line into epoch ms, or null when it is not one. */
export function parseTimeValue(raw: string, now: number): number | null {
  return parseTimeExpression(raw, now);
}

/** `2025-01-31T14:00Z` for an hour start: short, unambiguous, and accepted back by every flag. */
export function formatHour(hourMs: number): string {
  return `${new Date(hourMs).toISOString().slice(0, 16)}Z`;
}

/** ISO-8601 without milliseconds when they are zero. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** `3m 12s`, `1h 05m`, `850ms`: for ages, lags and ETAs. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${Math.round(rest)}ms`;
  rest = Math.round(rest / 1000);
  if (rest < 60) return `${sign}${rest}s`;
  const s = rest % 60;
  const m = Math.floor(rest / 60) % 60;
  const h = Math.floor(rest / 3600);
  if (h === 0) return `${sign}${m}m ${String(s).padStart(2, '0')}s`;
  if (h < 48) return `${sign}${h}h ${String(m).padStart(2, '0')}m`;
  return `${sign}${Math.floor(h / 24)}d ${String(h % 24).padStart(2, '0')}h`;
}

// Times as operators type them: ISO-8601 (UTC when no zone is given, since every bucket is UTC),
// an hour like `2025-01-31T14`, a date, epoch milliseconds, `now`, or an offset from now (`-3h`).

const units: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a time as typed on the command line into epoch ms, or null when it is not one. */
export function parseTimeValue(raw: string, now: number): number | null {
  const text = raw.trim();
  if (text === '') return null;
  if (text === 'now') return now;
  const relative = /^([-+])(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text);
  if (relative) {
    const offset = Number(relative[2]) * units[relative[3]!]!;
    return relative[1] === '-' ? now - offset : now + offset;
  }
  if (/^\d{10,}$/.test(text)) {
    const value = Number(text);
    return Number.isSafeInteger(value) ? value : null;
  }
  let iso = text;
  if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) iso += 'T00:00';
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}$/.test(iso)) iso += ':00';
  if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(iso)) return null;
  if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(iso)) iso += 'Z';
  const value = Date.parse(iso.replace(' ', 'T'));
  return Number.isFinite(value) ? value : null;
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

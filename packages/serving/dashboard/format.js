// Text forms of numbers and times. The dashboard shows every time in UTC, the zone the hourly
// buckets are cut in, so a bucket label never straddles two hours.

export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

const integerFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimalFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const percentFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2, minimumFractionDigits: 2 });
const plainFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/**
 * @param {unknown} value
 * @returns {value is number}
 */
export function isNumber(value) {
  return typeof value === 'number' && Number.isFinite(value);
}

/** @param {number | null | undefined} value */
export function formatInteger(value) {
  return isNumber(value) ? integerFormat.format(value) : '—';
}

/** @param {number | null | undefined} value */
export function formatMs(value) {
  return isNumber(value) ? `${decimalFormat.format(value)} ms` : '—';
}

/** A measured value of no particular unit: up to two decimals. @param {number | null | undefined} value */
export function formatDecimal(value) {
  return isNumber(value) ? plainFormat.format(value) : '—';
}

/** @param {number | null | undefined} value a percentage, 0–100 */
export function formatPercent(value) {
  return isNumber(value) ? `${percentFormat.format(value)} %` : '—';
}

/** @param {number} ms */
function pad(ms) {
  return String(ms).padStart(2, '0');
}

/**
 * `2024-05-01 13:00` (UTC), or `13:00` when `short`.
 * @param {number | null | undefined} ms epoch ms
 * @param {{ short?: boolean, seconds?: boolean }} [options]
 */
export function formatTime(ms, options = {}) {
  if (!isNumber(ms)) return '—';
  const d = new Date(ms);
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}${options.seconds ? `:${pad(d.getUTCSeconds())}` : ''}`;
  if (options.short) return time;
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${time}`;
}

/**
 * A duration as people say it: `850 ms`, `12 s`, `4 min`, `3 h 20 min`, `2 d 4 h`.
 * @param {number | null | undefined} ms
 */
export function formatDuration(ms) {
  if (!isNumber(ms)) return '—';
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(ms)} ms`;
  if (abs < 59_500) return `${(ms / 1000).toFixed(abs < 9_950 ? 1 : 0)} s`;
  if (abs < HOUR_MS - 30_000) return `${Math.round(ms / MINUTE_MS)} min`;
  const sign = ms < 0 ? '-' : '';
  if (abs < 48 * HOUR_MS) {
    const minutes = Math.round(abs / MINUTE_MS);
    const h = Math.floor(minutes / 60);
    const m = minutes % 60;
    return `${sign}${h} h${m ? ` ${m} min` : ''}`;
  }
  const hours = Math.round(abs / HOUR_MS);
  const d = Math.floor(hours / 24);
  const h = hours % 24;
  return `${sign}${d} d${h ? ` ${h} h` : ''}`;
}

/**
 * Epoch ms from the API's ISO strings or epoch numbers; null for anything else.
 * @param {unknown} value
 * @returns {number | null}
 */
export function toMs(value) {
  if (isNumber(value)) return value;
  if (typeof value === 'string' && value !== '') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? null : ms;
  }
  return null;
}

/**
 * `<input type="datetime-local">` value for an epoch ms, read as UTC.
 * @param {number} ms
 */
export function toInputValue(ms) {
  return new Date(ms).toISOString().slice(0, 16);
}

/**
 * Epoch ms from an `<input type="datetime-local">` value, read as UTC; null when empty or invalid.
 * @param {string} value
 */
export function fromInputValue(value) {
  if (!value) return null;
  const ms = Date.parse(value.length === 16 ? `${value}:00Z` : `${value}Z`);
  return Number.isNaN(ms) ? null : ms;
}

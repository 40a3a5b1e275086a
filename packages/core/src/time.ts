// Time buckets and timestamp parsing shared by every layer. Event time is epoch milliseconds UTC;
// the ISO-8601 grammar here is the one the event validator and its SQL twin accept, byte for byte.
import { TandemError } from './errors.ts';
import type { BucketSize, TimeRange } from './types.ts';

export const SECOND_MS = 1000;
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Every bucket size divides an hour, so the batch layer's hourly partitions hold whole buckets. */
export const bucketSizes: Readonly<Record<BucketSize, number>> = {
  '1m': MINUTE_MS,
  '5m': 5 * MINUTE_MS,
  '15m': 15 * MINUTE_MS,
  '30m': 30 * MINUTE_MS,
  '1h': HOUR_MS,
};

/** Milliseconds in one bucket of the given size. */
export function bucketSizeMs(bucket: BucketSize): number {
  const ms = Object.hasOwn(bucketSizes, bucket) ? bucketSizes[bucket] : undefined;
  if (ms === undefined) {
    throw new TandemError(
      'TANDEM_ERR_VIEW_INVALID',
      `bucket "${String(bucket)}" is not supported; use one of ${Object.keys(bucketSizes).join(', ')}`,
    );
  }
  return ms;
}

function floorTo(ts: number, sizeMs: number): number {
  return Math.floor(ts / sizeMs) * sizeMs;
}

/** Start (epoch ms) of the bucket containing `ts`. Accepts a bucket size or its length in ms. */
export function bucketStart(ts: number, bucket: BucketSize | number): number {
  return floorTo(ts, typeof bucket === 'number' ? bucket : bucketSizeMs(bucket));
}

/** Start of the UTC hour containing `ts`. */
export function hourStart(ts: number): number {
  return floorTo(ts, HOUR_MS);
}

/** Start of the UTC day containing `ts`. */
export function dayStart(ts: number): number {
  return floorTo(ts, DAY_MS);
}

/** Smallest bucket start that is `>= ts`. */
export function bucketCeil(ts: number, sizeMs: number): number {
  return Math.ceil(ts / sizeMs) * sizeMs;
}

/** Every bucket start `b` with `range.from <= b < range.to`. */
export function bucketsIn(range: TimeRange, bucket: BucketSize | number): number[] {
  const size = typeof bucket === 'number' ? bucket : bucketSizeMs(bucket);
  const out: number[] = [];
  for (let b = bucketCeil(range.from, size); b < range.to; b += size) out.push(b);
  return out;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** The lake's Hive partition of an hour: `{ dt: 'YYYY-MM-DD', hour: 'HH' }` (UTC). */
export function hourPartition(hourMs: number): { dt: string; hour: string } {
  const d = new Date(hourStart(hourMs));
  return {
    dt: `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`,
    hour: pad(d.getUTCHours(), 2),
  };
}

/** ISO-8601 epoch string of `ts` (`2024-01-01T00:00:00.000Z`). */
export function isoTime(ts: number): string {
  return new Date(ts).toISOString();
}

/**
 * The one ISO-8601 form events may carry: `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)`, upper-case `T`
 * and `Z`, zone mandatory. The SQL staging query uses the same pattern (RE2 and JS agree on it:
 * ASCII digits only), and the same integer arithmetic below, so both engines agree on every string.
 */
export const EVENT_ISO_PATTERN =
  '^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\\.([0-9]{1,9}))?(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))$';
const eventIsoRegex = new RegExp(EVENT_ISO_PATTERN);

/** Epoch-ms strings events may carry instead of a number: 1 to 15 ASCII digits. */
export const EVENT_EPOCH_STRING_PATTERN = '^[0-9]{1,15}$';
const epochStringRegex = new RegExp(EVENT_EPOCH_STRING_PATTERN);

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

const monthDays = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days from 1970-01-01 to y-m-d (proleptic Gregorian), all operands kept non-negative (see SQL twin). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = y - (m <= 2 ? 1 : 0) + 400;
  const era = Math.trunc(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.trunc((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.trunc(yoe / 4) - Math.trunc(yoe / 100) + doy;
  return era * 146097 + doe - 719468 - 146097;
}

/**
 * Parses an event timestamp string (the strict ISO form or an epoch-ms digit string) to epoch ms,
 * or returns null when it is not one of those forms or names no real calendar instant.
 * Fractions beyond milliseconds are truncated.
 */
export function parseEventTimestampString(text: string): number | null {
  const fast = parseIsoFast(text);
  if (fast !== undefined) return fast;
  if (epochStringRegex.test(text)) return Number(text);
  const m = eventIsoRegex.exec(text);
  if (m === null) return null;
  return isoMatchToMs(m);
}

function isoMatchToMs(m: RegExpExecArray): number | null {
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const s = Number(m[6]);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  const dim = mo === 2 && isLeapYear(y) ? 29 : (monthDays[mo - 1] as number);
  if (d > dim) return null;
  let offsetMin = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const frac = m[7] === undefined ? 0 : Number((m[7] + '00').slice(0, 3));
  return (
    daysFromCivil(y, mo, d) * DAY_MS +
    h * HOUR_MS +
    mi * MINUTE_MS +
    s * SECOND_MS +
    frac -
    offsetMin * MINUTE_MS
  );
}

/** Value of the ASCII digit at `i`, or -1. */
function digitAt(text: string, i: number): number {
  const c = text.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1;
}

function twoDigits(text: string, i: number): number {
  const a = digitAt(text, i);
  const b = digitAt(text, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

/**
 * The common case of parseEventTimestampString without a regex: `YYYY-MM-DDTHH:MM:SS`, an optional
 * fraction, then `Z` or `±HH:MM`. Returns undefined when the text is not of that exact layout
 * (the regex path then decides), so both paths accept exactly the same strings
 * (test/time.test.ts checks the two against each other).
 */
function parseIsoFast(text: string): number | null | undefined {
  const n = text.length;
  if (n < 20 || n > 35) return undefined;
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84) return undefined;
  if (text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return undefined;
  const y1 = twoDigits(text, 0);
  const y2 = twoDigits(text, 2);
  const mo = twoDigits(text, 5);
  const d = twoDigits(text, 8);
  const h = twoDigits(text, 11);
  const mi = twoDigits(text, 14);
  const s = twoDigits(text, 17);
  if (y1 < 0 || y2 < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0) return undefined;
  let i = 19;
  let frac = 0;
  if (text.charCodeAt(i) === 46) {
    let digits = 0;
    i++;
    while (i < n) {
      const v = digitAt(text, i);
      if (v < 0) break;
      if (digits < 3) frac = frac * 10 + v;
      digits++;
      i++;
    }
    if (digits === 0 || digits > 9) return undefined;
    for (let k = digits; k < 3; k++) frac *= 10;
  }
  let offsetMin = 0;
  const zone = text.charCodeAt(i);
  if (zone === 90 && i + 1 === n) {
    offsetMin = 0;
  } else if ((zone === 43 || zone === 45) && i + 6 === n && text.charCodeAt(i + 3) === 58) {
    const oh = twoDigits(text, i + 1);
    const om = twoDigits(text, i + 4);
    if (oh < 0 || om < 0) return undefined;
    if (oh > 23 || om > 59) return null;
    offsetMin = (zone === 45 ? -1 : 1) * (oh * 60 + om);
  } else {
    return undefined;
  }
  const y = y1 * 100 + y2;
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  const dim = mo === 2 && isLeapYear(y) ? 29 : (monthDays[mo - 1] as number);
  if (d > dim) return null;
  return (
    daysFromCivil(y, mo, d) * DAY_MS +
    h * HOUR_MS +
    mi * MINUTE_MS +
    s * SECOND_MS +
    frac -
    offsetMin * MINUTE_MS
  );
}

/** The regex-only parser, kept to check the fast path against (tests). */
export function parseEventTimestampStringByRegex(text: string): number | null {
  if (epochStringRegex.test(text)) return Number(text);
  const m = eventIsoRegex.exec(text);
  if (m === null) return null;
  return isoMatchToMs(m);
}

const lenientIsoRegex =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses a time given by a person or a query string: epoch milliseconds (digits, optionally
 * negative), or ISO-8601 (`2024-05-01`, `2024-05-01T10:00`, `2024-05-01T10:00:00.5+02:00`, ...).
 * A missing zone means UTC. Throws `TANDEM_ERR_QUERY_INVALID` naming the accepted forms.
 */
export function parseTimeInput(text: string): number {
  const trimmed = text.trim();
  if (/^-?\d{1,16}$/.test(trimmed)) return Number(trimmed);
  const m = lenientIsoRegex.exec(trimmed);
  if (m !== null) {
    const zone = m[8] ?? 'Z';
    const normalizedZone =
      zone === 'z' ? 'Z' : /^[+-]\d{4}$/.test(zone) ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
    const iso = `${m[1]}-${m[2]}-${m[3]}T${m[4] ?? '00'}:${m[5] ?? '00'}:${m[6] ?? '00'}${m[7] === undefined ? '' : `.${m[7]}`}${normalizedZone}`;
    const ts = parseEventTimestampString(iso);
    if (ts !== null) return ts;
  }
  throw new TandemError(
    'TANDEM_ERR_QUERY_INVALID',
    `time "${text}" is not understood; use epoch milliseconds (1714557600000) or ISO-8601 ` +
      `(2024-05-01, 2024-05-01T10:00:00Z, 2024-05-01T12:00:00+02:00)`,
    { details: { input: text } },
  );
}

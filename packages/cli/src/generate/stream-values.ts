// Random values that satisfy (or break) one field of a stream schema: strings within their length
// bounds (in code points, with multi-byte characters and JSON escapes), numbers within their
// bounds (boundaries included), enums, booleans, event times in the stream's encoding. Shared by the
// schema-driven generator (stream-events.ts) and its tests.
import {
  keywordViolation,
  type Stream,
  type StreamField,
  type StreamScalar,
  scalarHasType,
  type TimeEncoding,
} from '@tandem/core';
import type { Random } from './random.ts';

/** Characters strings are drawn from: mostly ASCII, some that need a JSON escape, some multi-byte. */
const commonChars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./ ';
const rareChars = [
  '"',
  '\\',
  '\n',
  '\t',
  'é',
  'ß',
  'ø',
  '中',
  '文',
  'Ж',
  '€',
  '😀',
  '🚀',
  '\u2028',
  '\u00a0',
];

/** Longest string the generator writes for a field without a maxLength (or a large one). */
const MAX_FREE_LENGTH = 48;
/** Bounds at most this long are hit exactly now and then. */
const MAX_BOUNDARY_LENGTH = 600;

/** A string of exactly `length` code points. */
export function randomString(random: Random, length: number): string {
  const parts: string[] = new Array(length);
  for (let i = 0; i < length; i++) {
    const roll = random.next();
    // One draw picks both whether the character is rare and which one it is.
    parts[i] =
      roll < 0.08
        ? rareChars[Math.floor((roll / 0.08) * rareChars.length)]!
        : commonChars[Math.floor(((roll - 0.08) / 0.92) * commonChars.length)]!;
  }
  return parts.join('');
}

/** Number of code points of a well-formed string. */
export function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** A length in [min, max] (max null: unbounded), favouring the bounds now and then. */
function randomLength(random: Random, min: number, max: number | null): number {
  const roll = random.next();
  if (roll < 0.1) return min;
  if (roll < 0.2 && max !== null && max <= MAX_BOUNDARY_LENGTH) return max;
  const high = Math.min(max ?? min + MAX_FREE_LENGTH, min + MAX_FREE_LENGTH);
  return min + random.int(high - min + 1);
}

/** The integers a field accepts: its bounds within ±(2^53 - 1); null when there are none. */
export function integerRange(field: StreamField): { lo: number; hi: number } | null {
  const lo = Math.max(Math.ceil(field.minimum ?? -Number.MAX_SAFE_INTEGER), -Number.MAX_SAFE_INTEGER);
  const hi = Math.min(Math.floor(field.maximum ?? Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
  return lo <= hi ? { lo, hi } : null;
}

/** A uniform integer in [lo, hi] (both safe integers). */
function uniformInteger(random: Random, lo: number, hi: number): number {
  const span = hi - lo;
  if (span < 2 ** 32) return lo + random.int(span + 1);
  // Wider than 32 bits: two draws, clamped (the last bit of precision is not worth more).
  const value = lo + Math.floor((random.next() + random.next() / 2 ** 32) * (span + 1));
  return Math.min(hi, Math.max(lo, value));
}

function randomInteger(random: Random, field: StreamField): number {
  const range = integerRange(field);
  if (range === null) throw new RangeError(`field "${field.name}" admits no integer`);
  const { lo, hi } = range;
  const roll = random.next();
  if (roll < 0.08) return lo;
  if (roll < 0.16) return hi;
  // Unbounded sides: mostly everyday magnitudes, sometimes the whole range.
  if (roll < 0.85 && (field.minimum === null || field.maximum === null)) {
    const center = field.minimum !== null ? lo : field.maximum !== null ? hi : 0;
    const magnitude = random.chance(0.8) ? 1_000 : 1_000_000_000;
    const low = field.minimum === null ? Math.max(lo, center - magnitude) : lo;
    const high = field.maximum === null ? Math.min(hi, center + magnitude) : hi;
    return uniformInteger(random, low, high);
  }
  return uniformInteger(random, lo, hi);
}

function randomNumber(random: Random, field: StreamField): number {
  const lo = field.minimum;
  const hi = field.maximum;
  const roll = random.next();
  if (roll < 0.08 && lo !== null) return lo;
  if (roll < 0.16 && hi !== null) return hi;
  let value: number;
  if (lo !== null && hi !== null) {
    const u = random.next();
    value = lo * (1 - u) + hi * u;
  } else {
    const magnitude = random.chance(0.1) ? 10 ** (random.int(30) - 10) : 1_000;
    const spread = random.exponential(magnitude);
    if (lo !== null) value = lo + spread;
    else if (hi !== null) value = hi - spread;
    else value = random.chance(0.5) ? spread : -spread;
  }
  // Producers mostly send few decimals; keep some full doubles too.
  if (random.chance(0.7) && Math.abs(value) < 1e12) value = Math.round(value * 1000) / 1000;
  if (lo !== null && value < lo) value = lo;
  if (hi !== null && value > hi) value = hi;
  if (Object.is(value, -0)) value = 0;
  return Number.isFinite(value) ? value : (lo ?? hi ?? 0);
}

const allowedEnums = new WeakMap<StreamField, readonly StreamScalar[]>();

/**
 * The enum values that also pass the field's other keywords (a config may list values its own
 * bounds refuse); null when the field has no enum.
 */
export function allowedEnum(field: StreamField): readonly StreamScalar[] | null {
  if (field.enum === null) return null;
  let allowed = allowedEnums.get(field);
  if (allowed === undefined) {
    allowed = field.enum.filter(
      (value) => scalarHasType(field.type, value) && keywordViolation(field, value) === null,
    );
    allowedEnums.set(field, allowed);
  }
  return allowed;
}

/** A random value of the field's type that satisfies every keyword (not the event-time field). */
export function randomFieldValue(random: Random, field: StreamField): StreamScalar {
  const values = allowedEnum(field);
  if (values !== null) return values[random.int(values.length)]!;
  switch (field.type) {
    case 'string':
      return randomString(random, randomLength(random, field.minLength ?? 0, field.maxLength));
    case 'integer':
      return randomInteger(random, field);
    case 'number':
      return randomNumber(random, field);
    case 'boolean':
      return random.chance(0.5);
  }
}

/** Why a field can not be generated at all (a schema no event can satisfy), or null. */
export function unsatisfiable(field: StreamField): string | null {
  const values = allowedEnum(field);
  if (values !== null) {
    return values.length > 0
      ? null
      : `no value of the enum of field "${field.name}" passes its other keywords`;
  }
  if (field.type === 'integer' && integerRange(field) === null) {
    return `field "${field.name}" has no integer between its minimum and maximum`;
  }
  if (field.type === 'string' && (field.minLength ?? 0) > 16_000) {
    return `field "${field.name}" needs strings of at least ${field.minLength} characters, more than a message holds`;
  }
  return null;
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` for epoch ms, with a random zone and fraction length. */
export function isoTime(random: Random, ms: number): string {
  const offsets = [0, 0, 0, 60, 120, -300, -420, 330, 545, -210, 840, -720];
  const offsetMinutes = offsets[random.int(offsets.length)]!;
  const shifted = new Date(ms + offsetMinutes * 60_000);
  let text =
    `${pad(shifted.getUTCFullYear(), 4)}-${pad(shifted.getUTCMonth() + 1)}-${pad(shifted.getUTCDate())}` +
    `T${pad(shifted.getUTCHours())}:${pad(shifted.getUTCMinutes())}:${pad(shifted.getUTCSeconds())}`;
  const millis = shifted.getUTCMilliseconds();
  // 0 to 9 fraction digits; digits past the milliseconds are truncated by the parser, so they may
  // be anything. Without a fraction the time must be on a whole second.
  const digits = millis === 0 ? random.int(10) : 3 + random.int(7);
  if (digits > 0) {
    let fraction = pad(millis, 3);
    while (fraction.length < digits) fraction += String(random.int(10));
    text += `.${fraction.slice(0, digits)}`;
  }
  if (offsetMinutes === 0) return `${text}Z`;
  const abs = Math.abs(offsetMinutes);
  return `${text}${offsetMinutes > 0 ? '+' : '-'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/**
 * The event time `ms` written as the stream's encoding says, and the epoch ms it normalizes to (the
 * same, except where the encoding can not hold milliseconds: integer epoch seconds).
 */
export function encodeTime(
  random: Random,
  stream: Stream,
  ms: number,
): { wire: string | number; ms: number } {
  const field = stream.fields.find((f) => f.name === stream.timeField)!;
  const encoding: TimeEncoding = stream.timeEncoding;
  switch (encoding) {
    case 'auto': {
      const roll = random.next();
      if (roll < 0.6) return { wire: isoTime(random, ms), ms };
      if (roll < 0.85) return { wire: ms, ms };
      return { wire: String(ms), ms };
    }
    case 'iso8601':
      return { wire: isoTime(random, ms), ms };
    case 'epoch_ms':
      return random.chance(0.8) ? { wire: ms, ms } : { wire: String(ms), ms };
    case 'epoch_s': {
      if (field.type === 'integer' || random.chance(0.3)) {
        const seconds = Math.floor(ms / 1000);
        return { wire: seconds, ms: seconds * 1000 };
      }
      // The double nearest ms/1000 is read back as exactly ms (core's epochSecondsToMs).
      return { wire: ms / 1000, ms };
    }
    case 'epoch_us':
      return { wire: ms * 1000 + random.int(1000), ms };
  }
}

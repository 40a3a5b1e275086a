// Invalid events for any stream, each breaking exactly one rule of its schema: the message as a whole
// (broken JSON, invalid UTF-8, too large, not an object) or one field (missing, null, wrong type,
// not an integer, not finite, too short or long, out of range, not in the enum, a bad, pre-1970 or
// future event time). Each comes with the verdict core's validator must give it.
import type { ErrorCode, Stream, StreamField } from '@tandem/core';
import type { Random } from './random.ts';
import { encodeTime, integerRange, randomFieldValue, randomString } from './stream-values.ts';

/** The kinds of invalid event, in the order the generator cycles through them. */
export const streamBadKinds = [
  'invalid_json',
  'missing_required',
  'wrong_type',
  'below_minimum',
  'too_long',
  'not_in_enum',
  'bad_time_format',
  'future_time',
  'invalid_utf8',
  'null_required',
  'not_integer',
  'above_maximum',
  'too_short',
  'non_finite',
  'time_before_1970',
  'not_an_object',
  'too_large',
] as const;
export type StreamBadKind = (typeof streamBadKinds)[number];

/** The rule each kind breaks, as core's validators name it. */
export const streamBadRule = {
  invalid_json: 'json',
  invalid_utf8: 'utf8',
  too_large: 'size',
  not_an_object: 'object',
  missing_required: 'required',
  null_required: 'required',
  wrong_type: 'type',
  not_integer: 'integer',
  non_finite: 'finite',
  too_short: 'minLength',
  too_long: 'maxLength',
  below_minimum: 'minimum',
  above_maximum: 'maximum',
  not_in_enum: 'enum',
  bad_time_format: 'format',
  time_before_1970: 'minimum',
  future_time: 'future',
} as const satisfies Record<StreamBadKind, string>;

/** The verdict a bad event must get: code, field (null for whole-message rules) and rule. */
export interface ExpectedRejection {
  kind: StreamBadKind;
  code: ErrorCode;
  field: string | null;
  rule: (typeof streamBadRule)[StreamBadKind];
}

/** The largest message validators accept by default (core's EVENT_MAX_BYTES default). */
export const DEFAULT_MAX_EVENT_BYTES = 65_536;
/** Strings this long (code points) or longer are not used for `too_long`: the message would be too large. */
const MAX_TOO_LONG = 10_000;
const TEN_YEARS_MS = 10 * 365 * 86_400_000;

function codeOf(rule: string): ErrorCode {
  if (rule === 'size') return 'TANDEM_ERR_EVENT_TOO_LARGE';
  if (rule === 'utf8') return 'TANDEM_ERR_EVENT_INVALID_UTF8';
  if (rule === 'json') return 'TANDEM_ERR_EVENT_INVALID_JSON';
  return 'TANDEM_ERR_EVENT_INVALID';
}

/** Whether a finite double strictly below (or above) `bound` exists and what it is. */
function beyond(bound: number, direction: -1 | 1): number | null {
  const value = bound + direction * Math.max(1, Math.abs(bound) * 1e-6);
  return Number.isFinite(value) && (direction < 0 ? value < bound : value > bound) ? value : null;
}

/** An integer with a fractional neighbour in [lo, hi] when the range allows, for `not_integer`. */
function fractionalInRange(field: StreamField): number | null {
  const range = integerRange(field);
  if (range === null) return null;
  const lo = Math.max(range.lo, -(2 ** 40));
  const hi = Math.min(range.hi, 2 ** 40);
  // Only huge integers: no fraction is representable near them. A range of one integer gets one
  // just past it (the integer rule is checked before the bounds).
  return lo > hi ? null : lo + 0.5;
}

/** A value of the field's type within its bounds but outside its enum, or null when none exists. */
function outsideEnum(random: Random, field: StreamField): string | number | boolean | null {
  const values = field.enum;
  if (values === null) return null;
  const taken = new Set<unknown>(values);
  if (field.type === 'boolean') {
    const other = [true, false].find((v) => !taken.has(v));
    return other ?? null;
  }
  const free = { ...field, enum: null };
  for (let attempt = 0; attempt < 40; attempt++) {
    const candidate = randomFieldValue(random, free);
    if (!taken.has(candidate)) return candidate;
  }
  if (field.type === 'integer') {
    const range = integerRange(field);
    if (range === null) return null;
    for (let i = 0; i <= values.length && range.lo + i <= range.hi; i++) {
      if (!taken.has(range.lo + i)) return range.lo + i;
    }
  }
  if (field.type === 'string') {
    const min = field.minLength ?? 0;
    const max = field.maxLength ?? min + 8;
    for (let length = min; length <= Math.min(max, min + 4); length++) {
      for (const letter of 'abcdefghijklmnopqrstuvwxyz') {
        const candidate = letter.repeat(length);
        if (!taken.has(candidate)) return candidate;
      }
    }
  }
  return null;
}

/** The fields a kind can break in this stream (`[null]` for whole-message kinds, `[]` for none). */
export function badKindFields(
  stream: Stream,
  kind: StreamBadKind,
  random: Random,
): Array<StreamField | null> {
  const time = stream.fields.find((f) => f.name === stream.timeField)!;
  const plain = stream.fields.filter((f) => f.name !== stream.timeField);
  const encoding = stream.timeEncoding;
  switch (kind) {
    case 'invalid_json':
    case 'invalid_utf8':
    case 'too_large':
    case 'not_an_object':
      return [null];
    // A required nullable field may be left out: core reads absent as null.
    case 'missing_required':
    case 'null_required':
      return stream.fields.filter((f) => f.required && !f.nullable);
    case 'wrong_type':
      return [...stream.fields];
    case 'not_integer': {
      const fields = plain.filter((f) => f.type === 'integer' && fractionalInRange(f) !== null);
      const integral =
        encoding === 'auto' ||
        encoding === 'epoch_ms' ||
        encoding === 'epoch_us' ||
        (encoding === 'epoch_s' && time.type === 'integer');
      return integral ? [...fields, time] : fields;
    }
    case 'non_finite': {
      const fields = plain.filter((f) => f.type === 'number');
      return encoding === 'epoch_s' && time.type === 'number' ? [...fields, time] : fields;
    }
    case 'too_short':
      return plain.filter((f) => f.type === 'string' && f.enum === null && (f.minLength ?? 0) > 0);
    case 'too_long':
      return plain.filter(
        (f) => f.type === 'string' && f.enum === null && f.maxLength !== null && f.maxLength < MAX_TOO_LONG,
      );
    case 'below_minimum':
      return plain.filter(
        (f) =>
          f.enum === null &&
          ((f.type === 'integer' && integerRange(f) !== null) ||
            (f.type === 'number' && f.minimum !== null && beyond(f.minimum, -1) !== null)),
      );
    case 'above_maximum':
      return plain.filter(
        (f) =>
          f.enum === null &&
          ((f.type === 'integer' && integerRange(f) !== null) ||
            (f.type === 'number' && f.maximum !== null && beyond(f.maximum, 1) !== null)),
      );
    case 'not_in_enum':
      return plain.filter((f) => f.enum !== null && outsideEnum(random.fork(f.name), f) !== null);
    case 'bad_time_format':
      return encoding === 'auto' || encoding === 'iso8601' || encoding === 'epoch_ms' ? [time] : [];
    case 'time_before_1970':
    case 'future_time':
      return [time];
  }
}

/** The kinds this stream's schema can produce, in cycling order. */
export function applicableBadKinds(stream: Stream, random: Random): StreamBadKind[] {
  return streamBadKinds.filter((kind) => badKindFields(stream, kind, random).length > 0);
}

const encoder = new TextEncoder();

/** A name for an extra property that is not a field of the stream. */
function extraName(stream: Stream, base: string): string {
  let name = base;
  while (stream.fields.some((f) => f.name === name)) name = `_${name}`;
  return name;
}

/**
 * Breaks one rule of a valid wire object (`valid`, as `JSON.stringify` would send it, fields in
 * declaration order) and returns the message bytes and the verdict they must get; null when the
 * kind can not break that field.
 */
export function makeStreamPoison(
  random: Random,
  stream: Stream,
  kind: StreamBadKind,
  field: StreamField | null,
  valid: Record<string, unknown>,
  sendAt: number,
  maxBytes: number = DEFAULT_MAX_EVENT_BYTES,
): { value: Uint8Array; expected: ExpectedRejection } | null {
  sendAt = Math.round(sendAt);
  const rule = streamBadRule[kind];
  const expected: ExpectedRejection = { kind, code: codeOf(rule), field: field?.name ?? null, rule };
  const done = (value: Uint8Array | string) => ({
    value: typeof value === 'string' ? encoder.encode(value) : value,
    expected,
  });
  const withField = (value: unknown) => done(JSON.stringify({ ...valid, [field!.name]: value }));
  const isTime = field !== null && field.name === stream.timeField;
  switch (kind) {
    case 'invalid_json': {
      const text = JSON.stringify(valid);
      // Any proper prefix of an object's text is not JSON: the closing brace comes last.
      return done(text.slice(0, Math.max(1, random.int(text.length - 1) + 1)));
    }
    case 'invalid_utf8': {
      // A lone continuation byte inside a string value: sound JSON structure, invalid UTF-8.
      const text = JSON.stringify(valid);
      const name = JSON.stringify(extraName(stream, 'note'));
      return done(
        Uint8Array.from([
          ...encoder.encode(`{${name}:"a`),
          0xc3,
          0x28,
          ...encoder.encode(`b"${text.length > 2 ? ',' : ''}${text.slice(1)}`),
        ]),
      );
    }
    case 'too_large':
      return done(JSON.stringify({ ...valid, [extraName(stream, 'padding')]: 'x'.repeat(maxBytes + 1) }));
    case 'not_an_object':
      return done(JSON.stringify(random.chance(0.5) ? Object.values(valid) : (Object.values(valid)[0] ?? 0)));
    case 'missing_required': {
      const { [field!.name]: _dropped, ...rest } = valid;
      return done(JSON.stringify(rest));
    }
    case 'null_required':
      return withField(null);
    case 'wrong_type': {
      if (isTime) return withField(random.chance(0.5) ? true : { at: sendAt });
      switch (field!.type) {
        case 'string':
          return withField(random.chance(0.5) ? 42 : false);
        case 'integer':
        case 'number':
          return withField(random.chance(0.5) ? String(randomFieldValue(random, field!)) : true);
        case 'boolean':
          return withField(random.chance(0.5) ? 'true' : 1);
      }
      break;
    }
    case 'not_integer': {
      if (isTime) {
        if (stream.timeEncoding === 'epoch_s') return withField(Math.floor(sendAt / 1000) + 0.5);
        return withField(sendAt + 0.5);
      }
      return withField(fractionalInRange(field!));
    }
    case 'non_finite': {
      // JSON.parse turns 1e999 into Infinity: the only way JSON can carry a non-finite number.
      const placeholder = '"@@non-finite@@"';
      const text = JSON.stringify({ ...valid, [field!.name]: '@@non-finite@@' });
      return done(text.replace(placeholder, random.chance(0.5) ? '1e999' : '-1e999'));
    }
    case 'too_short':
      return withField(randomString(random, field!.minLength! - 1));
    case 'too_long':
      return withField(randomString(random, field!.maxLength! + 1));
    case 'below_minimum': {
      if (field!.type === 'integer') return withField(integerRange(field!)!.lo - 1);
      return withField(beyond(field!.minimum!, -1));
    }
    case 'above_maximum': {
      if (field!.type === 'integer') return withField(integerRange(field!)!.hi + 1);
      return withField(beyond(field!.maximum!, 1));
    }
    case 'not_in_enum': {
      const value = outsideEnum(random, field!);
      return value === null ? null : withField(value);
    }
    case 'bad_time_format': {
      const iso = new Date(sendAt).toISOString();
      const samples =
        stream.timeEncoding === 'epoch_ms'
          ? [iso, `${sendAt}.5`, `${sendAt}0000`, ' 1', '', `-${sendAt}`]
          : [
              'yesterday at noon',
              iso.replace('T', ' '),
              iso.slice(0, 19),
              `${iso.slice(0, 5)}02-30${iso.slice(10)}`,
              iso.replace('Z', '+24:00'),
              `${sendAt}0000`,
              '',
            ];
      return withField(samples[random.int(samples.length)]);
    }
    case 'time_before_1970': {
      const ms = -1 - random.int(86_400_000);
      switch (stream.timeEncoding) {
        case 'epoch_s':
          return withField(field!.type === 'integer' ? Math.floor(ms / 1000) : ms / 1000);
        case 'epoch_us':
          return withField(ms * 1000);
        case 'epoch_ms':
          return withField(ms);
        case 'auto':
          return withField(random.chance(0.5) ? ms : new Date(ms).toISOString());
        case 'iso8601':
          return withField(new Date(ms).toISOString());
      }
      break;
    }
    case 'future_time': {
      const { wire } = encodeTime(random, stream, sendAt + TEN_YEARS_MS + random.int(86_400_000));
      return withField(wire);
    }
  }
  return null;
}

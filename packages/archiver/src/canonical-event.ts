// A fast path for messages that already are their own normalized line: byte for byte what
// `JSON.stringify(event)` prints for the stream's normalized event (every field in declaration
// order, numbers in shortest form, plain printable-ASCII strings). Such a message is archived as is
// — its fields are read straight from the bytes and judged by the stream's validator, which skips
// JSON.parse and re-serializing, the two largest costs per event. Anything else (other key order,
// whitespace, escapes, non-ASCII, ISO timestamps, missing fields, invalid events) returns null and
// takes the general path through the validator's `parse`. Property tests check both paths agree on
// every input.
//
// Two scanners: `canonicalEventTime`, hand-written for the web stream's ten fields (the object it
// hands `validateEvent` is one literal, so it gets a fast shape), and `compileCanonicalEventTime`,
// the same walk driven by any stream's field list.
import type { EventParseOptions, Stream, StreamParseResult, StreamValue } from '@tandem/core';
import { validateEvent } from '@tandem/core';

const QUOTE = 0x22;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const COMMA = 0x2c;
const CLOSE = 0x7d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

type FieldKind = 'string' | 'number' | 'nullableString' | 'nullableNumber';

const FIELDS: ReadonlyArray<readonly [string, FieldKind]> = [
  ['event_id', 'string'],
  ['timestamp', 'number'],
  ['endpoint', 'string'],
  ['method', 'string'],
  ['status_code', 'number'],
  ['response_time_ms', 'number'],
  ['bytes_sent', 'nullableNumber'],
  ['user_id', 'nullableString'],
  ['session_id', 'nullableString'],
  ['page_id', 'nullableString'],
];

const scratch: Array<string | number | null> = new Array(FIELDS.length).fill(null);

// `{"event_id":`, then `,"timestamp":`, … : the exact text before each value.
const PREFIXES = FIELDS.map(([name], index) => `${index === 0 ? '{' : ','}"${name}":`);

/**
 * The number at `text[start, end)` if it is written exactly as JSON.stringify writes it, else null.
 * Integers (the common case) are read digit by digit; anything else goes through Number and back.
 */
export function canonicalNumber(text: string, start: number, end: number): number | null {
  let at = start;
  const negative = text.charCodeAt(at) === MINUS;
  if (negative) at++;
  const digits = end - at;
  if (digits > 0 && digits <= 15) {
    let value = 0;
    let integer = true;
    for (let index = at; index < end; index++) {
      const code = text.charCodeAt(index);
      if (code < ZERO || code > NINE) {
        integer = false;
        break;
      }
      value = value * 10 + (code - ZERO);
    }
    if (integer) {
      // No leading zeros ("007"), no "-0": JSON.stringify never prints them.
      if (digits > 1 && text.charCodeAt(at) === ZERO) return null;
      if (negative && value === 0) return null;
      return negative ? -value : value;
    }
  }
  const literal = text.slice(start, end);
  const value = Number(literal);
  return literal !== '' && Number.isFinite(value) && String(value) === literal ? value : null;
}

/**
 * If the message in `bytes[start, end)` is a canonical, valid event, its event time; otherwise
 * null (use `parseEvent`). Takes offsets into the batch buffer so the hot path allocates no views.
 */
export function canonicalEventTime(
  bytes: Buffer,
  start: number,
  end: number,
  options: Partial<EventParseOptions> | undefined,
  maxBytes: number,
): number | null {
  if (end - start > maxBytes) return null;
  // One latin1 decode per message (a byte per character): any byte outside printable ASCII makes
  // the message non-canonical below, so for the messages accepted this equals UTF-8 decoding.
  const text = bytes.toString('latin1', start, end);
  // Printable ASCII without a backslash, checked once by native code: JSON.stringify prints such
  // strings unchanged, and every quote then ends a string.
  if (!PRINTABLE_ASCII.test(text) || text.includes('\\')) return null;
  const length = text.length;
  // Field values in FIELDS order (one scratch array, reused: this runs synchronously); the event
  // object is built once at the end with a literal, so it gets a fast shape for validateEvent.
  const values = scratch;
  let at = 0;
  for (let field = 0; field < FIELDS.length; field++) {
    const prefix = PREFIXES[field]!;
    if (!text.startsWith(prefix, at)) return null;
    at += prefix.length;
    const kind = FIELDS[field]![1];
    if ((kind === 'nullableString' || kind === 'nullableNumber') && text.startsWith('null', at)) {
      values[field] = null;
      at += 4;
      continue;
    }
    if (kind === 'string' || kind === 'nullableString') {
      if (text.charCodeAt(at) !== QUOTE) return null;
      const close = text.indexOf('"', at + 1);
      if (close < 0) return null;
      values[field] = text.slice(at + 1, close);
      at = close + 1;
    } else {
      const first = at;
      while (at < length && text.charCodeAt(at) !== COMMA && text.charCodeAt(at) !== CLOSE) at++;
      const value = canonicalNumber(text, first, at);
      if (value === null) return null;
      values[field] = value;
    }
  }
  if (at !== length - 1 || text.charCodeAt(at) !== CLOSE) return null;
  const result = validateEvent(
    {
      event_id: values[0],
      timestamp: values[1],
      endpoint: values[2],
      method: values[3],
      status_code: values[4],
      response_time_ms: values[5],
      bytes_sent: values[6],
      user_id: values[7],
      session_id: values[8],
      page_id: values[9],
    },
    options,
  );
  return result.ok ? result.event.timestamp : null;
}

/** `canonicalEventTime` for one stream: the event time of a canonical, valid message, else null. */
export type CanonicalEventTime = (
  bytes: Buffer,
  start: number,
  end: number,
  options: Partial<EventParseOptions> | undefined,
  maxBytes: number,
) => number | null;

/**
 * The canonical fast path for any stream, driven by its field list: reads each field's value from
 * the bytes in declaration order (a string, a number, true / false or null, whatever the field's
 * type — the validator has the last word), hands the object to `validate`, and accepts the message
 * only if every normalized value is the value read (no default filled in, no time re-encoded), so
 * the message is exactly `JSON.stringify` of its normalized event.
 */
export function compileCanonicalEventTime(
  stream: Stream,
  validate: (value: unknown, options?: Partial<EventParseOptions>) => StreamParseResult,
): CanonicalEventTime {
  const names = stream.fields.map((field) => field.name);
  // Assigning "__proto__" would set the prototype, not a field: such a stream takes the general path.
  if (names.includes('__proto__')) return () => null;
  const strings = stream.fields.map((field) => field.type === 'string');
  const booleans = stream.fields.map((field) => field.type === 'boolean');
  const prefixes = names.map((name, index) => `${index === 0 ? '{' : ','}${JSON.stringify(name)}:`);
  const timeField = stream.timeField;
  const count = names.length;
  const values: StreamValue[] = new Array(count).fill(null);
  return (bytes, start, end, options, maxBytes) => {
    if (end - start > maxBytes) return null;
    const text = bytes.toString('latin1', start, end);
    if (!PRINTABLE_ASCII.test(text) || text.includes('\\')) return null;
    const length = text.length;
    let at = 0;
    for (let field = 0; field < count; field++) {
      const prefix = prefixes[field]!;
      if (!text.startsWith(prefix, at)) return null;
      at += prefix.length;
      if (text.startsWith('null', at)) {
        values[field] = null;
        at += 4;
      } else if (strings[field]) {
        if (text.charCodeAt(at) !== QUOTE) return null;
        const close = text.indexOf('"', at + 1);
        if (close < 0) return null;
        values[field] = text.slice(at + 1, close);
        at = close + 1;
      } else if (booleans[field]) {
        if (text.startsWith('true', at)) {
          values[field] = true;
          at += 4;
        } else if (text.startsWith('false', at)) {
          values[field] = false;
          at += 5;
        } else {
          return null;
        }
      } else {
        const first = at;
        while (at < length && text.charCodeAt(at) !== COMMA && text.charCodeAt(at) !== CLOSE) at++;
        const value = canonicalNumber(text, first, at);
        if (value === null) return null;
        values[field] = value;
      }
    }
    if (at !== length - 1 || text.charCodeAt(at) !== CLOSE) return null;
    const raw: Record<string, StreamValue> = {};
    for (let field = 0; field < count; field++) raw[names[field]!] = values[field]!;
    const result = validate(raw, options);
    if (!result.ok) return null;
    const event = result.event;
    for (let field = 0; field < count; field++) if (event[names[field]!] !== values[field]) return null;
    return event[timeField] as number;
  };
}

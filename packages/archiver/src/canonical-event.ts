// A fast path for messages that already are their own normalized line: byte for byte what
// `JSON.stringify(event)` prints for core's normalized event (all ten fields in order, numbers in
// shortest form, plain printable-ASCII strings). Such a message is archived as is — its fields are
// read straight from the bytes and judged by core's `validateEvent`, which skips JSON.parse and
// re-serializing, the two largest costs per event. Anything else (other key order, whitespace,
// escapes, non-ASCII, ISO timestamps, missing fields, invalid events) returns null and takes the
// general path through `parseEvent`. A property test checks both paths agree on every input.
import { type EventParseOptions, validateEvent } from '@tandem/core';

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
function canonicalNumber(text: string, start: number, end: number): number | null {
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

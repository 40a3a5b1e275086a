// TEST-ONLY ORACLE: the first build's hand-written web-event validator (src/events.ts before
// streams became data), kept verbatim but for import paths. The compiled stream validator
// (src/stream-validator.ts) must give the web stream exactly these verdicts; the parity tests
// compare the two on random valid, boundary and invalid lines. Never import it from src.
// Event validation for the speed layer and every other consumer of raw messages: size, UTF-8,
// JSON, then the web stream's schema (packages/core/src/web-stream.ts, docs/architecture.md).
// Hand-written rather than ajv because the SQL
// twin (event-staging-sql.ts) must reach the very same verdict, rule by rule, and because it runs
// on every Kafka message. Keep the two files in step; test/event-staging-sql.test.ts checks parity.
import type { ErrorCode } from '../../src/errors.ts';
import { parseEventTimestampString } from '../../src/time.ts';
import type { EventField, TandemEvent } from '../../src/types.ts';

/** Limits and clock of event validation; `parseEvent` takes any subset. */
export interface EventParseOptions {
  /** Largest accepted message in UTF-8 bytes. @defaultValue 65536 */
  maxBytes: number;
  /** How far past `now()` an event time may lie. @defaultValue 300000 */
  futureToleranceMs: number;
  /** Clock for the future check. @defaultValue Date.now */
  now: () => number;
}

/** 64 KiB messages, 5 minutes of clock skew, the system clock. */
/**
 * Names the rules of `parseEvent` / `validateEvent` and the normalized event they produce. Change it
 * whenever either changes: the archiver records it in each file's manifest, and the batch layer
 * trusts a file's lines without re-validating them only when it matches.
 */
export const EVENT_VALIDATOR_VERSION = 'tandem-events/1';

export const defaultEventParseOptions: EventParseOptions = {
  maxBytes: 65536,
  futureToleranceMs: 300000,
  now: () => Date.now(),
};

/** Why an event was rejected; `field` and `rule` go verbatim into dead-letter envelopes. */
export interface EventRejection {
  code: ErrorCode;
  field: string | null;
  rule: EventRule;
  message: string;
}

/** A normalized event, or why the message was rejected. */
export type EventParseResult = { ok: true; event: TandemEvent } | { ok: false; error: EventRejection };

/**
 * Every rule a rejection can name. `size`, `utf8`, `json` come with the codes
 * `TANDEM_ERR_EVENT_TOO_LARGE`, `_INVALID_UTF8`, `_INVALID_JSON`; the rest with `TANDEM_ERR_EVENT_INVALID`
 * (`object`: the message is not a JSON object; field is null then).
 */
export const eventRules = [
  'size',
  'utf8',
  'json',
  'object',
  'required',
  'type',
  'minLength',
  'maxLength',
  'format',
  'integer',
  'finite',
  'minimum',
  'maximum',
  'future',
] as const;
export type EventRule = (typeof eventRules)[number];

/** Length limits of string fields, in Unicode code points (DuckDB's `length`). */
export const eventStringLimits = {
  event_id: { min: 1, max: 128 },
  endpoint: { min: 1, max: 512 },
  method: { min: 1, max: 32 },
  user_id: { min: 0, max: 256 },
  session_id: { min: 0, max: 256 },
  page_id: { min: 0, max: 256 },
} as const;

/** Numeric bounds (inclusive). `timestamp`'s upper bound is `now + futureToleranceMs` (rule `future`). */
export const eventNumberLimits = {
  status_code: { min: 100, max: 599 },
  // A latency over a day is a unit or clock bug (µs or ns sent as ms), not a request; the bound also
  // keeps every sum of latencies finite (two values near 1e308 would add up to Infinity and no
  // engine could store the cell).
  response_time_ms: { min: 0, max: 86_400_000 },
  bytes_sent: { min: 0, max: Number.MAX_SAFE_INTEGER },
  timestamp: { min: 0 },
} as const;

/** Default of the optional `method`. */
export const DEFAULT_METHOD = 'GET';

const ruleText: Record<EventRule, string> = {
  size: 'the message is larger than the configured maximum (EVENT_MAX_BYTES)',
  utf8: 'the message is not valid UTF-8',
  json: 'the message is not valid JSON',
  object: 'the message must be a JSON object',
  required: 'is required',
  type: 'has the wrong JSON type',
  minLength: 'is too short',
  maxLength: 'is too long',
  format: 'must be ISO-8601 with a zone (2024-05-01T10:00:00.000Z) or epoch milliseconds',
  integer: 'must be an integer',
  finite: 'must be a finite number',
  minimum: 'is below its minimum',
  maximum: 'is above its maximum',
  future: 'lies further in the future than the allowed tolerance',
};

const fieldText: Partial<Record<EventField, string>> = {
  event_id: 'a string of 1-128 characters',
  timestamp: 'ISO-8601 with zone or epoch milliseconds, not before 1970 and not in the future',
  endpoint: 'a string of 1-512 characters',
  method: 'a string of 1-32 characters',
  status_code: 'an integer 100-599',
  response_time_ms: 'a finite number >= 0',
  bytes_sent: 'an integer >= 0',
  user_id: 'a string of at most 256 characters',
  session_id: 'a string of at most 256 characters',
  page_id: 'a string of at most 256 characters',
};

/** The human message for a (field, rule) verdict; the SQL twin's rows get theirs from here too. */
export function describeRejection(field: string | null, rule: EventRule): string {
  if (field === null) return `event rejected: ${ruleText[rule]}`;
  const expected = fieldText[field as EventField];
  return `event field "${field}" ${ruleText[rule]}${expected === undefined ? '' : `; expected ${expected}`}`;
}

/** The error code a rule is reported under. */
export function rejectionCode(rule: EventRule): ErrorCode {
  switch (rule) {
    case 'size':
      return 'TANDEM_ERR_EVENT_TOO_LARGE';
    case 'utf8':
      return 'TANDEM_ERR_EVENT_INVALID_UTF8';
    case 'json':
      return 'TANDEM_ERR_EVENT_INVALID_JSON';
    default:
      return 'TANDEM_ERR_EVENT_INVALID';
  }
}

function reject(field: string | null, rule: EventRule): { ok: false; error: EventRejection } {
  return {
    ok: false,
    error: { code: rejectionCode(rule), field, rule, message: describeRejection(field, rule) },
  };
}

/** Code points of a well-formed string. */
function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n;
}

function checkString(value: string, min: number, max: number): EventRule | null {
  if (value.length < min) return 'minLength';
  if (value.length > max && codePointLength(value) > max) return 'maxLength';
  return null;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const loneSurrogateEscape = /\\u[dD][89a-fA-F]/;

/** True when some string or key in a parsed JSON value holds an unpaired surrogate. */
function hasIllFormedString(value: unknown): boolean {
  if (typeof value === 'string') return !value.isWellFormed();
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(hasIllFormedString);
  for (const [key, inner] of Object.entries(value)) {
    if (!key.isWellFormed() || hasIllFormedString(inner)) return true;
  }
  return false;
}

/** Options with every field set are used as they are: callers on the hot path pass one object. */
function resolveOptions(options: Partial<EventParseOptions> | undefined): EventParseOptions {
  if (options === undefined) return defaultEventParseOptions;
  if (
    options.maxBytes !== undefined &&
    options.futureToleranceMs !== undefined &&
    options.now !== undefined
  ) {
    return options as EventParseOptions;
  }
  return { ...defaultEventParseOptions, ...options };
}

/**
 * Parses one raw message: size, UTF-8, JSON, then `validateEvent`. Never throws.
 * A JSON text whose strings hold an escaped unpaired surrogate (`"\ud800"`) is rejected as
 * invalid JSON, as DuckDB's JSON reader rejects it. Duplicate keys are not detected (JS keeps the
 * last, DuckDB the first); producers that serialize objects never write them.
 */
export function parseEvent(
  bytes: Uint8Array | string,
  options?: Partial<EventParseOptions>,
): EventParseResult {
  const opts = resolveOptions(options);
  let text: string;
  if (typeof bytes === 'string') {
    text = bytes;
    if (text.length * 3 > opts.maxBytes && Buffer.byteLength(text, 'utf8') > opts.maxBytes) {
      return reject(null, 'size');
    }
    if (!text.isWellFormed()) return reject(null, 'utf8');
  } else {
    if (bytes.byteLength > opts.maxBytes) return reject(null, 'size');
    try {
      text = utf8Decoder.decode(bytes);
    } catch {
      return reject(null, 'utf8');
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return reject(null, 'json');
  }
  if (loneSurrogateEscape.test(text) && hasIllFormedString(value)) return reject(null, 'json');
  return checkEvent(value, opts);
}

function isNumber(v: unknown): v is number {
  return typeof v === 'number';
}

/** Checks an already parsed value against the event schema and normalizes it. Never throws. */
export function validateEvent(value: unknown, options?: Partial<EventParseOptions>): EventParseResult {
  return checkEvent(value, resolveOptions(options));
}

function checkEvent(value: unknown, opts: EventParseOptions): EventParseResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return reject(null, 'object');
  const raw = value as Record<string, unknown>;
  let rule: EventRule | null;

  const eventId = raw.event_id;
  if (eventId === undefined || eventId === null) return reject('event_id', 'required');
  if (typeof eventId !== 'string') return reject('event_id', 'type');
  rule = checkString(eventId, 1, 128);
  if (rule !== null) return reject('event_id', rule);

  const rawTs = raw.timestamp;
  let timestamp: number;
  if (rawTs === undefined || rawTs === null) return reject('timestamp', 'required');
  if (typeof rawTs === 'string') {
    const parsed = parseEventTimestampString(rawTs);
    if (parsed === null) return reject('timestamp', 'format');
    timestamp = parsed;
  } else if (isNumber(rawTs)) {
    if (!Number.isInteger(rawTs)) return reject('timestamp', 'integer');
    timestamp = rawTs;
  } else {
    return reject('timestamp', 'type');
  }
  if (timestamp < 0) return reject('timestamp', 'minimum');
  if (timestamp > opts.now() + opts.futureToleranceMs) return reject('timestamp', 'future');

  const endpoint = raw.endpoint;
  if (endpoint === undefined || endpoint === null) return reject('endpoint', 'required');
  if (typeof endpoint !== 'string') return reject('endpoint', 'type');
  rule = checkString(endpoint, 1, 512);
  if (rule !== null) return reject('endpoint', rule);

  let method = raw.method;
  if (method === undefined || method === null) method = DEFAULT_METHOD;
  else if (typeof method !== 'string') return reject('method', 'type');
  else {
    rule = checkString(method, 1, 32);
    if (rule !== null) return reject('method', rule);
  }

  const status = raw.status_code;
  if (status === undefined || status === null) return reject('status_code', 'required');
  if (!isNumber(status)) return reject('status_code', 'type');
  if (!Number.isInteger(status)) return reject('status_code', 'integer');
  if (status < 100) return reject('status_code', 'minimum');
  if (status > 599) return reject('status_code', 'maximum');

  const latency = raw.response_time_ms;
  if (latency === undefined || latency === null) return reject('response_time_ms', 'required');
  if (!isNumber(latency)) return reject('response_time_ms', 'type');
  if (!Number.isFinite(latency)) return reject('response_time_ms', 'finite');
  if (latency < 0) return reject('response_time_ms', 'minimum');
  if (latency > eventNumberLimits.response_time_ms.max) return reject('response_time_ms', 'maximum');

  let bytesSent = raw.bytes_sent;
  if (bytesSent === undefined || bytesSent === null) bytesSent = null;
  else if (!isNumber(bytesSent)) return reject('bytes_sent', 'type');
  else if (!Number.isInteger(bytesSent)) return reject('bytes_sent', 'integer');
  else if (bytesSent < 0) return reject('bytes_sent', 'minimum');
  else if (bytesSent > Number.MAX_SAFE_INTEGER) return reject('bytes_sent', 'maximum');

  const optional: Array<string | null> = [null, null, null];
  const optionalNames = ['user_id', 'session_id', 'page_id'] as const;
  for (let i = 0; i < 3; i++) {
    const name = optionalNames[i] as (typeof optionalNames)[number];
    const v = raw[name];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') return reject(name, 'type');
    if (v.length > 256 && codePointLength(v) > 256) return reject(name, 'maxLength');
    optional[i] = v;
  }

  return {
    ok: true,
    event: {
      event_id: eventId,
      // -0 and 0 are the same instant; normalize so both engines print the same bucket.
      timestamp: timestamp === 0 ? 0 : timestamp,
      endpoint,
      method: method as string,
      status_code: status,
      response_time_ms: latency,
      bytes_sent: bytesSent as number | null,
      user_id: optional[0] as string | null,
      session_id: optional[1] as string | null,
      page_id: optional[2] as string | null,
    },
  };
}

// What both validator engines share: the rules a rejection can name, their error codes, the
// options of validation, and the human message of a (stream, field, rule) verdict. The TS validator
// (stream-validator.ts) and the DuckDB staging SQL (stream-staging-sql.ts) only ever report these.
import type { ErrorCode } from './errors.ts';
import type { Stream } from './stream.ts';
import type { StreamField, StreamScalar } from './stream-schema.ts';

/** Limits and clock of event validation; the validators take any subset. */
export interface EventParseOptions {
  /** Largest accepted message in UTF-8 bytes. @defaultValue 65536 */
  maxBytes: number;
  /** How far past `now()` an event time may lie. @defaultValue 300000 */
  futureToleranceMs: number;
  /** Clock for the future check. @defaultValue Date.now */
  now: () => number;
}

/** 64 KiB messages, 5 minutes of clock skew, the system clock. */
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

/**
 * Every rule a rejection can name. `size`, `utf8`, `json` come with the codes
 * `TANDEM_ERR_EVENT_TOO_LARGE`, `_INVALID_UTF8`, `_INVALID_JSON`; the rest with `TANDEM_ERR_EVENT_INVALID`
 * (`object`: the message is not a JSON object; field is null then). The Confluent framing rules of
 * registry-backed streams have their own codes: `framing` (no magic byte 0 or shorter than the
 * 5-byte header) `TANDEM_ERR_EVENT_FRAMING`, `schema_id` `_SCHEMA_UNKNOWN`, `decode`
 * `_UNDECODABLE`, `schema_compat` (a writer version that breaks a view) `_SCHEMA_INCOMPATIBLE`.
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
  'enum',
  'future',
  // Only registry-backed streams (Confluent framing): see registryRejectionCodes.
  'framing',
  'schema_id',
  'decode',
  'schema_compat',
] as const;
export type EventRule = (typeof eventRules)[number];

/** The error code a rule is reported under. */
export function rejectionCode(rule: EventRule): ErrorCode {
  switch (rule) {
    case 'size':
      return 'TANDEM_ERR_EVENT_TOO_LARGE';
    case 'utf8':
      return 'TANDEM_ERR_EVENT_INVALID_UTF8';
    case 'json':
      return 'TANDEM_ERR_EVENT_INVALID_JSON';
    case 'framing':
      return 'TANDEM_ERR_EVENT_FRAMING';
    case 'schema_id':
      return 'TANDEM_ERR_EVENT_SCHEMA_UNKNOWN';
    case 'decode':
      return 'TANDEM_ERR_EVENT_UNDECODABLE';
    case 'schema_compat':
      return 'TANDEM_ERR_EVENT_SCHEMA_INCOMPATIBLE';
    default:
      return 'TANDEM_ERR_EVENT_INVALID';
  }
}

/**
 * Options with every field set are used as they are (callers on the hot path pass one object);
 * otherwise the missing ones come from `defaultEventParseOptions`.
 */
export function resolveEventParseOptions(options: Partial<EventParseOptions> | undefined): EventParseOptions {
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
 * The bounds an integer field is checked against: its own, within ±(2^53 - 1), so every accepted
 * integer is exact in a double (JS) and in a BIGINT (SQL). Crossing an implicit bound is reported
 * as `minimum` / `maximum` like crossing a declared one.
 */
export function integerBounds(field: StreamField): { min: number; max: number } {
  return {
    min: Math.max(field.minimum ?? -Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
    max: Math.min(field.maximum ?? Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
  };
}

const ruleText: Record<EventRule, string> = {
  size: 'the message is larger than the configured maximum (EVENT_MAX_BYTES)',
  utf8: 'the message is not valid UTF-8',
  json: 'the message is not valid JSON',
  object: 'the message must be a JSON object',
  required: 'is required',
  type: 'has the wrong JSON type',
  minLength: 'is too short',
  maxLength: 'is too long',
  format: 'is not a timestamp of the expected form',
  integer: 'must be an integer',
  finite: 'must be a finite number',
  minimum: 'is below its minimum',
  maximum: 'is above its maximum',
  enum: 'is not one of the allowed values',
  future: 'lies further in the future than the allowed tolerance',
  framing: 'the message is not Confluent-framed (magic byte 0, then a 4-byte schema id)',
  schema_id: "the message's schema id is not a version of the stream's registry subject",
  decode: "the message body does not decode with its writer's schema",
  schema_compat: "the message's schema version drops or retypes a field a view reads",
};

const timeText: Record<Stream['timeEncoding'], string> = {
  auto: 'ISO-8601 with zone or epoch milliseconds',
  iso8601: 'ISO-8601 with zone (2024-05-01T10:00:00.000Z)',
  epoch_ms: 'epoch milliseconds (an integer, or a string of 1-15 digits)',
  epoch_s: 'epoch seconds',
  epoch_us: 'epoch microseconds (an integer)',
};

function range(low: number | null, high: number | null): string {
  if (low !== null && high !== null) return low >= 0 ? ` ${low}-${high}` : ` from ${low} to ${high}`;
  if (low !== null) return ` >= ${low}`;
  if (high !== null) return ` <= ${high}`;
  return '';
}

function enumText(values: readonly StreamScalar[]): string {
  const shown = values.slice(0, 10).map((v) => JSON.stringify(v));
  return `one of ${shown.join(', ')}${values.length > 10 ? `, … (${values.length} values)` : ''}`;
}

/** What a field expects, in words: the tail of every message about it. */
function expectedText(stream: Stream, field: StreamField, rule: EventRule): string {
  if (field.name === stream.timeField) {
    const form =
      stream.timeEncoding === 'epoch_s'
        ? `${timeText.epoch_s} (${field.type === 'integer' ? 'an integer' : 'a number, kept to the millisecond'})`
        : timeText[stream.timeEncoding];
    return `${form}, not before 1970 and not in the future`;
  }
  let text: string;
  if (field.enum !== null && rule !== 'type' && rule !== 'required') {
    text = enumText(field.enum);
  } else {
    switch (field.type) {
      case 'string': {
        const min = field.minLength ?? 0;
        const max = field.maxLength;
        if (max !== null && min === max) text = `a string of exactly ${min} characters`;
        else if (max !== null)
          text = min > 0 ? `a string of ${min}-${max} characters` : `a string of at most ${max} characters`;
        else text = min > 0 ? `a string of at least ${min} characters` : 'a string';
        break;
      }
      case 'integer': {
        // The implicit bounds are named only when one of them was crossed.
        const { min, max } = integerBounds(field);
        const implicit =
          (rule === 'minimum' && field.minimum === null) || (rule === 'maximum' && field.maximum === null);
        text = `an integer${implicit ? range(min, max) : range(field.minimum, field.maximum)}`;
        break;
      }
      case 'number':
        text = `a finite number${range(field.minimum, field.maximum)}`;
        break;
      case 'boolean':
        text = 'true or false';
        break;
    }
  }
  if (field.required && field.nullable) text += ', or null';
  return text;
}

const messageCache = new WeakMap<Stream, Map<string, string>>();

/**
 * The human message of a verdict on an event of `stream`: what was wrong and what the field expects
 * (`event field "endpoint" is too long; expected a string of 1-512 characters`). Give rows of the
 * staging SQL theirs from here too. A field the stream does not have gets the rule's text alone.
 */
export function describeStreamRejection(stream: Stream, field: string | null, rule: EventRule): string {
  const known = Object.hasOwn(ruleText, rule);
  if (field === null) return `event rejected: ${known ? ruleText[rule] : rule}`;
  let messages = messageCache.get(stream);
  if (messages === undefined) {
    messages = new Map();
    messageCache.set(stream, messages);
  }
  const key = `${field}\u0000${rule}`;
  const cached = messages.get(key);
  if (cached !== undefined) return cached;
  const text = known ? ruleText[rule] : `breaks the rule "${rule}"`;
  const declared = stream.fields.find((f) => f.name === field);
  // Only declared fields and known rules are cached: names read back from elsewhere (a stored row,
  // say) must not grow the map.
  if (declared === undefined || !known) return `event field "${field}" ${text}`;
  const message = `event field "${field}" ${text}; expected ${expectedText(stream, declared, rule)}`;
  messages.set(key, message);
  return message;
}

// The web stream's validator under its first names: thin wrappers over the validator compiled from
// webStream's schema (stream-validator.ts), typed as TandemEvent. New code validates through
// `compileStreamValidator(stream)`; these stay while callers move to the stream API.
import {
  describeStreamRejection,
  type EventParseOptions,
  type EventRejection,
  type EventRule,
} from './event-rules.ts';
import { compileStreamValidator } from './stream-validator.ts';
import type { TandemEvent } from './types.ts';
import { webStream, webStreamSpec } from './web-stream.ts';

export {
  defaultEventParseOptions,
  type EventParseOptions,
  type EventRejection,
  type EventRule,
  eventRules,
  rejectionCode,
} from './event-rules.ts';

/**
 * Names the rules of `parseEvent` / `validateEvent` and the normalized event they produce: the web
 * stream's fingerprint. The archiver records it in each file's manifest, and the batch layer trusts
 * a file's lines without re-validating them only when it matches.
 */
export const EVENT_VALIDATOR_VERSION: string = webStream.fingerprint;

/** A normalized web event, or why the message was rejected. */
export type EventParseResult = { ok: true; event: TandemEvent } | { ok: false; error: EventRejection };

const webProperties = webStreamSpec.schema.properties;

/** Length limits of the web stream's string fields, in Unicode code points (DuckDB's `length`). */
export const eventStringLimits = {
  event_id: { min: webProperties.event_id.minLength, max: webProperties.event_id.maxLength },
  endpoint: { min: webProperties.endpoint.minLength, max: webProperties.endpoint.maxLength },
  method: { min: webProperties.method.minLength, max: webProperties.method.maxLength },
  user_id: { min: 0, max: webProperties.user_id.maxLength },
  session_id: { min: 0, max: webProperties.session_id.maxLength },
  page_id: { min: 0, max: webProperties.page_id.maxLength },
} as const;

/** Numeric bounds (inclusive). `timestamp`'s upper bound is `now + futureToleranceMs` (rule `future`). */
export const eventNumberLimits = {
  status_code: { min: webProperties.status_code.minimum, max: webProperties.status_code.maximum },
  response_time_ms: {
    min: webProperties.response_time_ms.minimum,
    max: webProperties.response_time_ms.maximum,
  },
  // No declared maximum: integers are bounded by 2^53 - 1 (see integerBounds in event-rules.ts).
  bytes_sent: { min: webProperties.bytes_sent.minimum, max: Number.MAX_SAFE_INTEGER },
  timestamp: { min: 0 },
} as const;

/** Default of the optional `method`. */
export const DEFAULT_METHOD: string = webProperties.method.default;

/** The human message for a (field, rule) verdict on a web event; rows of the staging SQL get theirs here too. */
export function describeRejection(field: string | null, rule: EventRule): string {
  return describeStreamRejection(webStream, field, rule);
}

const webValidator = compileStreamValidator(webStream);

/**
 * Parses one raw web message: size, UTF-8, JSON, then `validateEvent`. Never throws.
 * A JSON text whose strings hold an escaped unpaired surrogate (`"\ud800"`) is rejected as
 * invalid JSON, as DuckDB's JSON reader rejects it. Duplicate keys are not detected (JS keeps the
 * last, DuckDB the first); producers that serialize objects never write them.
 */
export function parseEvent(
  bytes: Uint8Array | string,
  options?: Partial<EventParseOptions>,
): EventParseResult {
  return webValidator.parse(bytes, options) as EventParseResult;
}

/** Checks an already parsed value against the web event schema and normalizes it. Never throws. */
export function validateEvent(value: unknown, options?: Partial<EventParseOptions>): EventParseResult {
  return webValidator.validate(value, options) as EventParseResult;
}

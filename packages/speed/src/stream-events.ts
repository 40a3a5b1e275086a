// What the worker needs to know about one stream's messages, compiled once per worker: how to
// validate and normalize a message (core's validator for the stream, so the speed layer, the
// archiver and the batch layer reach the same verdict), which identity makes two events producer
// duplicates, and where the event time is.
import { hash } from 'node:crypto';
import * as core from '@tandem/core';
import {
  type EventParseOptions,
  parseEvent,
  type Stream,
  type StreamEvent,
  TandemError,
  webStream,
} from '@tandem/core';
import type { Rejection } from './dead-letters.ts';

/** A normalized event, or why the message goes to the dead-letter topic. */
export type StreamParseResult = { ok: true; event: StreamEvent } | { ok: false; error: Rejection };

/** One stream's message rules, as the fold applies them to every message. */
export interface StreamEventRules {
  readonly stream: Stream;
  /** Size, UTF-8, JSON, the stream's schema and the far-future bound. */
  parse(bytes: Buffer): StreamParseResult;
  /** The dedup identity: the id field's value, or the whole normalized event when there is none. */
  identity(event: StreamEvent): string;
}

/**
 * Longest content identity kept as it is; a longer one is replaced by its SHA-256, so the dedup
 * window's memory stays bounded by its length, not by the size of the events.
 */
export const MAX_CONTENT_IDENTITY_CHARS = 64;

/** The shape of core's `compileStreamValidator(stream)` (packages/core/src/stream-validator.ts). */
interface CompiledStreamValidator {
  parse(bytes: Uint8Array, options?: Partial<EventParseOptions>): StreamParseResult;
}

function compileValidator(stream: Stream): CompiledStreamValidator {
  // Looked up at run time while core's stream validator is being written; a static import once it lands.
  const compile = (core as unknown as { compileStreamValidator?: (s: Stream) => CompiledStreamValidator })
    .compileStreamValidator;
  if (compile === undefined) {
    throw new TandemError(
      'TANDEM_ERR_CONFIG_INVALID',
      `stream "${stream.name}": this build of @tandem/core has no compileStreamValidator; only the web stream can be consumed`,
      { details: { stream: stream.name } },
    );
  }
  return compile(stream);
}

/**
 * Compiles the rules of `stream`. The web stream's schema (same fingerprint, whatever its topics)
 * keeps core's hand-tuned `parseEvent`, the same verdicts on the speed layer's hottest path.
 */
export function compileStreamEventRules(stream: Stream, options: EventParseOptions): StreamEventRules {
  // one object with every field set: the validators use it without merging defaults per message
  const parseOptions: EventParseOptions = {
    maxBytes: options.maxBytes,
    futureToleranceMs: options.futureToleranceMs,
    now: options.now,
  };
  let parse: (bytes: Buffer) => StreamParseResult;
  if (stream.fingerprint === webStream.fingerprint) {
    parse = (bytes) => parseEvent(bytes, parseOptions);
  } else {
    const validator = compileValidator(stream);
    parse = (bytes) => validator.parse(bytes, parseOptions);
  }
  const idField = stream.idField;
  let identity: (event: StreamEvent) => string;
  if (idField === null) {
    identity = contentIdentity(stream);
  } else if (stream.fieldTypes[idField] === 'string') {
    identity = (event) => event[idField] as string;
  } else {
    identity = (event) => String(event[idField]);
  }
  return { stream, parse, identity };
}

/**
 * Identity of an event of a stream without an id field: two events are duplicates when every
 * normalized field is equal. It is the JSON array of the normalized values in declaration order
 * (the canonical JSON of the event without its field names, which every event of the stream
 * shares), or the SHA-256 of that text (base64) when it is longer than
 * `MAX_CONTENT_IDENTITY_CHARS`. A JSON array starts with `[`, which base64 never holds, so a
 * digest never equals a short identity.
 */
export function contentIdentity(stream: Stream): (event: StreamEvent) => string {
  const names = stream.fields.map((field) => field.name);
  const count = names.length;
  return (event) => {
    const values = new Array<unknown>(count);
    for (let i = 0; i < count; i++) values[i] = event[names[i]!];
    const text = JSON.stringify(values);
    return text.length <= MAX_CONTENT_IDENTITY_CHARS ? text : hash('sha256', text, 'base64');
  };
}

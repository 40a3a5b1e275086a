// What the worker needs to know about one stream's messages, compiled once per worker: how to
// validate and normalize a message (core's validator for the stream, so the speed layer, the
// archiver and the batch layer reach the same verdict; for a registry-backed stream the Confluent
// frame and the writer's body decoding come first), and which identity makes two events producer
// duplicates.
import { hash } from 'node:crypto';
import type { Logger } from 'pino';
import { compileFramedStreamParser, createSchemaRegistryClient } from '@tandem/connections';
import {
  compileStreamValidator,
  type EventParseOptions,
  type SchemaRegistryConfig,
  type Stream,
  type StreamEvent,
  type StreamParseResult,
} from '@tandem/core';

export type { StreamParseResult };

/** One stream's message rules, as the fold applies them to every message. */
export interface StreamEventRules {
  readonly stream: Stream;
  /** Size, UTF-8, JSON, the stream's schema and the far-future bound: core's validator of the stream. */
  parse(bytes: Buffer): StreamParseResult;
  /**
   * Registry-backed streams only (undefined otherwise, so plain streams pay nothing): looks up the
   * writer schemas of ids a batch holds that are not known yet; null when there are none.
   */
  prepare?: (messages: ReadonlyArray<{ value: Buffer | null }>) => Promise<void> | null;
  /** The dedup identity: the id field's value, or the whole normalized event when there is none. */
  identity(event: StreamEvent): string;
}

/**
 * Longest content identity kept as it is; a longer one is replaced by its SHA-256, so the dedup
 * window's memory stays bounded by its length, not by the size of the events.
 */
export const MAX_CONTENT_IDENTITY_CHARS = 64;

/**
 * Compiles the rules of `stream` (the web stream's validator is the one `parseEvent` wraps). A
 * registry-backed stream asks `registry` for schema ids registered after its config loaded; without
 * one, such ids are dead-lettered as unknown.
 */
export function compileStreamEventRules(
  stream: Stream,
  options: EventParseOptions,
  registry?: SchemaRegistryConfig,
  logger?: Pick<Logger, 'warn'>,
  onIncompatible?: (warning: { version: number; message: string }) => void,
): StreamEventRules {
  // one object with every field set: the validator uses it without merging defaults per message
  const parseOptions: EventParseOptions = {
    maxBytes: options.maxBytes,
    futureToleranceMs: options.futureToleranceMs,
    now: options.now,
  };
  let parse: (bytes: Buffer) => StreamParseResult;
  let prepare: StreamEventRules['prepare'];
  if (stream.registry === null) {
    const validator = compileStreamValidator(stream);
    parse = (bytes) => validator.parse(bytes, parseOptions);
  } else {
    const subject = stream.registry.subject;
    const client = registry?.url ? createSchemaRegistryClient(registry) : null;
    const framed = compileFramedStreamParser(
      stream,
      client === null ? undefined : (id) => client.schemaById(id, subject),
    );
    parse = (bytes) => framed.parse(bytes, parseOptions);
    // A version that breaks a view is said once, when first met (its messages go to the DLQ).
    let warned = 0;
    const warn = (): void => {
      const broken = framed.incompatibleWriters();
      for (const { writer, problems } of broken.slice(warned)) {
        onIncompatible?.({
          version: writer.version,
          message: `schema version ${writer.version} of "${writer.subject}" breaks a view (${problems.map((p) => p.message).join('; ')}); its messages go to the dead-letter topic`,
        });
        logger?.warn(
          {
            subject: writer.subject,
            version: writer.version,
            schemaId: writer.id,
            problems: problems.map((p) => p.message),
          },
          `schema version ${writer.version} of "${writer.subject}" breaks a view; its messages go to the dead-letter topic (TANDEM_ERR_EVENT_SCHEMA_INCOMPATIBLE)`,
        );
      }
      warned = broken.length;
    };
    warn();
    prepare = (messages) => framed.prepare(messages.map((message) => message.value))?.then(warn) ?? null;
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
  return prepare === undefined ? { stream, parse, identity } : { stream, parse, prepare, identity };
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

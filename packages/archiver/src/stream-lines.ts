// How one stream's Kafka messages become archive lines. The stream's validator judges and
// normalizes each message; the line is exactly `JSON.stringify` of the normalized event, fields in
// declaration order — what the batch layer's trusted path reads with the stream's typed columns.
// Two ways lead there, with the same output (property tests hold them together):
//
// - the canonical fast path (canonical-event.ts): a message that already is its own normalized
//   line is judged from its bytes and archived byte for byte;
// - the general path: the validator's `parse`, then the serializer.
//
// The web stream (any stream with its fingerprint, i.e. its rules) keeps its hand-tuned pieces: the
// ten-field scanner and the line template of event-line.ts. Every other stream gets the scanner
// compiled from its field list and `JSON.stringify`. A registry-backed stream's messages are
// Confluent-framed, never their own line: each is decoded by its writer's schema (connections'
// framed-stream parser), judged by the validator and serialized, so batch input stays NDJSON.
// The subpath keeps Kafka and Redis clients out of the parse workers.
import { compileFramedStreamParser } from '@tandem/connections/framed-stream';
import {
  compileStreamValidator,
  type EventParseOptions,
  type RegistryWriter,
  resolveEventParseOptions,
  type Stream,
  type StreamEvent,
  type TandemEvent,
  webStream,
} from '@tandem/core';
import { type CanonicalEventTime, canonicalEventTime, compileCanonicalEventTime } from './canonical-event.ts';
import { eventLine } from './event-line.ts';

export interface StreamLines {
  /** The event time of a message that is already its canonical, valid line; null otherwise. */
  canonicalTime: CanonicalEventTime;
  /** The normalized event of a message, or null when the stream's validator rejects it. */
  parse(bytes: Uint8Array, options: Partial<EventParseOptions>): StreamEvent | null;
  /** The event time (epoch ms) of a normalized event. */
  time(event: StreamEvent): number;
  /** `JSON.stringify(event)` of a normalized event. */
  line(event: StreamEvent): string;
  /** Registry-backed streams: writer schemas of ids registered after the config loaded. */
  learn?: (writers: readonly RegistryWriter[]) => void;
}

const neverCanonical = (): null => null;

/** The line makers of a registry-backed stream (framed messages, decoded by their writers). */
function framedStreamLines(stream: Stream): StreamLines {
  const framed = compileFramedStreamParser(stream);
  const { timeField } = stream;
  // The builder passes one options object per batch: resolve it once, not per message.
  let given: Partial<EventParseOptions> | null = null;
  let resolved: EventParseOptions | null = null;
  return {
    canonicalTime: neverCanonical,
    parse(bytes, options) {
      if (options !== given) {
        given = options;
        resolved = resolveEventParseOptions(options);
      }
      const buffer = Buffer.isBuffer(bytes)
        ? bytes
        : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const result = framed.parse(buffer, resolved!);
      return result.ok ? result.event : null;
    },
    time: (event) => event[timeField] as number,
    line: (event) => JSON.stringify(event),
    learn: (writers) => framed.learn(writers),
  };
}

/** Whether the stream validates exactly as the web stream does (same fingerprint, same rules). */
export function hasWebRules(stream: Stream): boolean {
  return stream.fingerprint === webStream.fingerprint;
}

/** The line makers of one stream. */
export function compileStreamLines(stream: Stream): StreamLines {
  if (stream.registry !== null) return framedStreamLines(stream);
  const validator = compileStreamValidator(stream);
  const parse = (bytes: Uint8Array, options: Partial<EventParseOptions>): StreamEvent | null => {
    const result = validator.parse(bytes, options);
    return result.ok ? result.event : null;
  };
  if (hasWebRules(stream)) {
    return {
      canonicalTime: canonicalEventTime,
      parse,
      time: (event) => (event as TandemEvent).timestamp,
      line: (event) => eventLine(event as TandemEvent),
    };
  }
  const { timeField } = stream;
  return {
    canonicalTime: compileCanonicalEventTime(stream, (value, options) => validator.validate(value, options)),
    parse,
    time: (event) => event[timeField] as number,
    line: (event) => JSON.stringify(event),
  };
}

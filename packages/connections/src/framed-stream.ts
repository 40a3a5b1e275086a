// Decodes the messages of a registry-backed stream: the Confluent frame (magic byte 0, the writer's
// 4-byte schema id, then the body), the body with that writer's schema (Avro binary, or JSON text),
// then core's validator of the stream — so the speed layer, the archiver and the DLQ tools reach the
// same verdict, and every refusal is a dead letter with its rule (framing, schema_id, decode,
// schema_compat, or the field rule the decoded event breaks).
//
// `parse` is synchronous, as the layers' per-message loops are: writers are looked up in a map
// filled from the stream's known versions, and `prepare` fetches the ids a batch holds that are not
// in it yet (a version registered after the config loaded) before the batch is parsed.
import {
  compileStreamValidator,
  describeStreamRejection,
  type EventParseOptions,
  type EventRejection,
  type EventRule,
  type RegistryWriter,
  rejectionCode,
  type SchemaIncompatibility,
  type Stream,
  type StreamParseResult,
  TandemError,
  viewsBrokenByWriter,
  writerFields,
} from '@tandem/core';
import avro from 'avsc';

/** Bytes before the body: magic byte 0 and the schema id (big-endian uint32). */
export const CONFLUENT_HEADER_BYTES = 5;

/** How a writer's bodies decode, or why its messages are refused. */
type WriterEntry =
  | { kind: 'avro'; writer: RegistryWriter; type: avro.Type }
  | { kind: 'json'; writer: RegistryWriter }
  | {
      kind: 'refused';
      writer: RegistryWriter | null;
      rule: EventRule;
      message: string;
      problems: SchemaIncompatibility[];
    };

/** What `decode` makes of a message: the writer and the decoded body, or why it failed. */
export type FramedDecode =
  | { ok: true; schemaId: number; version: number; body: unknown }
  | { ok: false; schemaId: number | null; version: number | null; error: EventRejection };

/** Looks up a schema id the stream's known versions do not hold; null when the subject has no such id. */
export type WriterLookup = (id: number) => Promise<RegistryWriter | null>;

/** A registry-backed stream's message rules. */
export interface FramedStreamParser {
  readonly stream: Stream;
  /**
   * Learns the writers of the ids among `values` that are not known yet, one lookup per new id. Does
   * nothing (and returns null, so a hot loop need not await) when every id is known.
   */
  prepare(values: Iterable<Buffer | null | undefined>): Promise<void> | null;
  /** Frame, body and the stream's validator: a normalized event or the dead-letter verdict. */
  parse(bytes: Buffer, options: EventParseOptions): StreamParseResult;
  /** The frame and body only (what `tandem dlq show` prints): the decoded body, or why not. */
  decode(bytes: Buffer): FramedDecode;
  /**
   * Takes writers another thread or process looked up (the archiver's main thread for its parse
   * workers); ids already known are kept as they are.
   */
  learn(writers: readonly RegistryWriter[]): void;
  /** The schema id a message carries, or null when it is not framed. */
  schemaIdOf(bytes: Buffer): number | null;
  /** The known writer of an id, or null. */
  writer(id: number): RegistryWriter | null;
  /** Versions whose messages are refused because they break a view, with the views and fields. */
  incompatibleWriters(): Array<{ writer: RegistryWriter; problems: SchemaIncompatibility[] }>;
}

function rejection(stream: Stream, rule: EventRule, message?: string): EventRejection {
  return {
    code: rejectionCode(rule),
    field: null,
    rule,
    message: message ?? describeStreamRejection(stream, null, rule),
  };
}

/** The schema id of a framed message, or null (too short, or no magic byte). */
export function confluentSchemaId(bytes: Uint8Array): number | null {
  if (bytes.byteLength < CONFLUENT_HEADER_BYTES || bytes[0] !== 0) return null;
  return ((bytes[1]! << 24) >>> 0) + (bytes[2]! << 16) + (bytes[3]! << 8) + bytes[4]!;
}

/** The frame of a message written with schema `id`: magic byte 0 and the id. */
export function confluentFrame(id: number, body: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(CONFLUENT_HEADER_BYTES + body.byteLength);
  framed[0] = 0;
  framed.writeUInt32BE(id, 1);
  framed.set(body, CONFLUENT_HEADER_BYTES);
  return framed;
}

/**
 * The rules of a registry-backed stream. `lookup` fetches writers of ids registered after the config
 * loaded (the speed layer passes the registry client's `schemaById`); without it an id not among
 * the stream's known versions is refused as unknown.
 */
export function compileFramedStreamParser(stream: Stream, lookup?: WriterLookup): FramedStreamParser {
  const registry = stream.registry;
  if (registry === null) {
    throw new TandemError('TANDEM_ERR_CONFIG_INVALID', `stream "${stream.name}" is not registry-backed`, {
      details: { stream: stream.name },
    });
  }
  const validator = compileStreamValidator(stream);
  const expectedType = registry.format === 'avro' ? 'AVRO' : 'JSON';
  const entries = new Map<number, WriterEntry>();
  const pending = new Map<number, Promise<void>>();

  const entryOf = (writer: RegistryWriter): WriterEntry => {
    const refuse = (
      rule: EventRule,
      message: string,
      problems: SchemaIncompatibility[] = [],
    ): WriterEntry => ({
      kind: 'refused',
      writer,
      rule,
      message,
      problems,
    });
    if (writer.schemaType !== expectedType) {
      return refuse(
        'decode',
        `schema id ${writer.id} (version ${writer.version} of subject "${writer.subject}") is a ${writer.schemaType} schema; stream "${stream.name}" reads ${registry.format}`,
      );
    }
    let problems: SchemaIncompatibility[];
    try {
      problems = viewsBrokenByWriter(stream, writerFields(writer), writer.version);
    } catch (error) {
      return refuse('schema_compat', `${(error as Error).message}`);
    }
    if (problems.length > 0) {
      return refuse('schema_compat', problems.map((problem) => problem.message).join('; '), problems);
    }
    if (writer.schemaType === 'JSON') return { kind: 'json', writer };
    // wrapUnions 'auto' (the default) decodes ["null", T] to null or the bare value, as JSON holds it.
    return { kind: 'avro', writer, type: avro.Type.forSchema(JSON.parse(writer.schema) as avro.Schema) };
  };
  for (const writer of registry.writers) entries.set(writer.id, entryOf(writer));

  const learn = async (id: number): Promise<void> => {
    const writer = lookup === undefined ? null : await lookup(id);
    entries.set(
      id,
      writer === null
        ? {
            kind: 'refused',
            writer: null,
            rule: 'schema_id',
            message: `schema id ${id} is not a version of subject "${registry.subject}" (stream "${stream.name}")`,
            problems: [],
          }
        : entryOf(writer),
    );
  };

  const unknownId = (id: number): EventRejection =>
    rejection(
      stream,
      'schema_id',
      `schema id ${id} is not a version of subject "${registry.subject}" (stream "${stream.name}")`,
    );

  /** The body decoded by its writer, or the rejection; `entry` is known and not refused. */
  const decodeBody = (
    entry: Extract<WriterEntry, { kind: 'avro' | 'json' }>,
    bytes: Buffer,
  ): { ok: true; value: unknown } | { ok: false; error: EventRejection } => {
    const body = bytes.subarray(CONFLUENT_HEADER_BYTES);
    try {
      if (entry.kind === 'avro') return { ok: true, value: entry.type.fromBuffer(body) };
      return { ok: true, value: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) };
    } catch (error) {
      return {
        ok: false,
        error: rejection(
          stream,
          'decode',
          `the body does not decode as ${entry.kind === 'avro' ? 'Avro' : 'JSON'} of schema id ${entry.writer.id} (version ${entry.writer.version}): ${(error as Error).message}`,
        ),
      };
    }
  };

  return {
    stream,
    prepare(values) {
      const waits: Array<Promise<void>> = [];
      for (const value of values) {
        if (value === null || value === undefined) continue;
        const id = confluentSchemaId(value);
        if (id === null || entries.has(id)) continue;
        let wait = pending.get(id);
        if (wait === undefined) {
          wait = learn(id).finally(() => pending.delete(id));
          pending.set(id, wait);
        }
        waits.push(wait);
      }
      return waits.length === 0 ? null : Promise.all(waits).then(() => undefined);
    },
    parse(bytes, options) {
      if (bytes.byteLength > options.maxBytes) return { ok: false, error: rejection(stream, 'size') };
      const id = confluentSchemaId(bytes);
      if (id === null) return { ok: false, error: rejection(stream, 'framing') };
      const entry = entries.get(id);
      if (entry === undefined) return { ok: false, error: unknownId(id) };
      if (entry.kind === 'refused') return { ok: false, error: rejection(stream, entry.rule, entry.message) };
      if (entry.kind === 'json') {
        // The validator parses the JSON text itself (UTF-8, JSON, then the fields).
        const verdict = validator.parse(bytes.subarray(CONFLUENT_HEADER_BYTES), options);
        if (!verdict.ok && (verdict.error.rule === 'json' || verdict.error.rule === 'utf8')) {
          return {
            ok: false,
            error: rejection(
              stream,
              'decode',
              `the body does not decode as JSON of schema id ${id} (version ${entry.writer.version}): ${verdict.error.message}`,
            ),
          };
        }
        return verdict;
      }
      const decoded = decodeBody(entry, bytes);
      return decoded.ok ? validator.validate(decoded.value, options) : decoded;
    },
    decode(bytes) {
      const id = confluentSchemaId(bytes);
      if (id === null)
        return { ok: false, schemaId: null, version: null, error: rejection(stream, 'framing') };
      const entry = entries.get(id);
      if (entry === undefined) return { ok: false, schemaId: id, version: null, error: unknownId(id) };
      const version = entry.writer?.version ?? null;
      if (entry.kind === 'refused' && entry.rule !== 'schema_compat') {
        return { ok: false, schemaId: id, version, error: rejection(stream, entry.rule, entry.message) };
      }
      // A version that breaks a view still decodes: show its body.
      const writer = entry.writer!;
      const decodable: Extract<WriterEntry, { kind: 'avro' | 'json' }> =
        entry.kind === 'refused'
          ? writer.schemaType === 'JSON'
            ? { kind: 'json', writer }
            : { kind: 'avro', writer, type: avro.Type.forSchema(JSON.parse(writer.schema) as avro.Schema) }
          : entry;
      const decoded = decodeBody(decodable, bytes);
      if (!decoded.ok) return { ok: false, schemaId: id, version, error: decoded.error };
      return { ok: true, schemaId: id, version: writer.version, body: decoded.value };
    },
    learn(writers) {
      for (const writer of writers) if (!entries.has(writer.id)) entries.set(writer.id, entryOf(writer));
    },
    schemaIdOf: confluentSchemaId,
    writer(id) {
      return entries.get(id)?.writer ?? null;
    },
    incompatibleWriters() {
      const found: Array<{ writer: RegistryWriter; problems: SchemaIncompatibility[] }> = [];
      for (const entry of entries.values()) {
        if (entry.kind === 'refused' && entry.problems.length > 0 && entry.writer !== null) {
          found.push({ writer: entry.writer, problems: entry.problems });
        }
      }
      return found;
    },
  };
}

/** Writes a registry-backed stream's events as its producers do, with the stream's own schema version. */
export interface FramedStreamEncoder {
  /** The schema id the messages carry (the version the stream's schema was taken from). */
  readonly schemaId: number;
  /**
   * A normalized event (time in epoch ms, defaults applied) as a framed message: Avro binary, or
   * the event's JSON (the time field written back in the stream's encoding: ISO-8601, seconds, µs).
   */
  encode(event: Readonly<Record<string, unknown>>): Buffer;
}

/** The encoder of a registry-backed stream (what `tandem generate --stream` and benchmarks produce). */
export function compileFramedStreamEncoder(stream: Stream): FramedStreamEncoder {
  const registry = stream.registry;
  const writer = registry?.writers.find((candidate) => candidate.id === registry.schemaId);
  if (registry === null || writer === undefined) {
    throw new TandemError('TANDEM_ERR_CONFIG_INVALID', `stream "${stream.name}" is not registry-backed`, {
      details: { stream: stream.name },
    });
  }
  const { timeField, timeEncoding } = stream;
  const timeOf = (ms: number): unknown => {
    switch (timeEncoding) {
      case 'iso8601':
        return new Date(ms).toISOString();
      case 'epoch_s':
        return ms / 1000;
      case 'epoch_us':
        return ms * 1000;
      default:
        return ms;
    }
  };
  const written = (event: Readonly<Record<string, unknown>>) => ({
    ...event,
    [timeField]: timeOf(event[timeField] as number),
  });
  if (registry.format === 'json') {
    return {
      schemaId: writer.id,
      encode: (event) => confluentFrame(writer.id, Buffer.from(JSON.stringify(written(event)))),
    };
  }
  const type = avro.Type.forSchema(JSON.parse(writer.schema) as avro.Schema);
  return { schemaId: writer.id, encode: (event) => confluentFrame(writer.id, type.toBuffer(written(event))) };
}

// A registry-backed stream: its messages are Confluent-framed (magic byte 0, a 4-byte schema id, then
// an Avro or JSON body) and its schema lives under a subject of a Confluent-compatible registry.
// Reading the registry is I/O (packages/connections fetches every version of the subject at load);
// this module turns what was fetched into the stream's schema (the pinned version, or the latest),
// and says which fields each view needs from a writer's schema, so a version that drops one is
// caught before it computes wrong numbers.
import { TandemError } from './errors.ts';
import { viewFieldsRead } from './view-fields.ts';
import { translateRegistrySchema } from './registry-schema.ts';
import type { StreamField, StreamFieldType, StreamSchemaSpec } from './stream-schema.ts';
import { configPathError, jsonPath } from './stream-schema.ts';
import type { Stream, TimeEncoding } from './stream.ts';
import type { View } from './view.ts';

/** Body encodings of a registry-backed stream. */
export const registryFormats = ['avro', 'json'] as const;
export type RegistryFormat = (typeof registryFormats)[number];

/** What a config file declares instead of `schema`: `registry: { subject, format, version? }`. */
export interface StreamRegistrySpec {
  /** The registry subject, e.g. `orders-value` (Confluent's TopicNameStrategy names it `<topic>-value`). */
  subject: string;
  /** How message bodies are written: `avro` (Avro binary) or `json` (JSON Schema, JSON text). */
  format: RegistryFormat;
  /** Pin one version of the subject. @defaultValue the latest version when the config loads */
  version?: number;
}

/** One version of a subject, as the registry's Confluent API returns it. */
export interface RegistryVersion {
  subject: string;
  version: number;
  /** The global schema id that framed messages carry. */
  id: number;
  /** `AVRO` when the API leaves it out. */
  schemaType: string;
  schema: string;
  references?: readonly unknown[];
  /**
   * Why a stream that follows the latest version can not take this one (set by the catalog: a view
   * over the stream can not read it, or the subset can not express it); it still decodes messages.
   */
  unusable?: string;
}

/** A writer schema a decoder knows: the id messages carry and the version it is. */
export interface RegistryWriter {
  readonly id: number;
  readonly subject: string;
  readonly version: number;
  readonly schemaType: string;
  readonly schema: string;
}

/** The registry side of a validated stream. */
export interface StreamRegistry {
  readonly subject: string;
  readonly format: RegistryFormat;
  /** The version the config pinned, or null (the latest at load). */
  readonly pinnedVersion: number | null;
  /** The version the stream's schema (its fields and validator) was taken from. */
  readonly version: number;
  /** That version's schema id. */
  readonly schemaId: number;
  /**
   * Every version of the subject known at load, oldest first: ids in messages are looked up here
   * first (a decoder asks the registry only for ids it does not find).
   */
  readonly writers: readonly RegistryWriter[];
  /**
   * The fields each view over the stream reads, by view name (the catalog fills it in once the views
   * are defined): every layer refuses the messages of a writer version that breaks one of them, so
   * the speed layer, the archiver and the batch layer count the same events.
   */
  readonly viewsRead: Readonly<Record<string, readonly string[]>>;
  /**
   * Versions newer than `version` that the stream could not take although it follows the latest,
   * with why: their messages are dead-lettered (a status warning, and what `tandem config check` fails on).
   */
  readonly skipped: ReadonlyArray<{ version: number; reason: string }>;
}

/** How a config file names the local registry and the way to start it (for messages). */
export const REGISTRY_START_HINT =
  'set SCHEMA_REGISTRY_URL to the Confluent API of a schema registry (the local stack runs one: `TANDEM_STACK_REGISTRY=1 scripts/stack up`, then SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7)';

const subjectPattern = /^[^\s/\\]{1,255}$/;
const registryKeys = new Set(['subject', 'format', 'version']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks a stream's `registry` declaration. `path` is the stream's JSON path (`config.streams[0]`).
 * Throws `TANDEM_ERR_CONFIG_INVALID` naming the path.
 */
export function readStreamRegistrySpec(raw: unknown, path: string): StreamRegistrySpec {
  const at = jsonPath(path, 'registry');
  if (!isPlainObject(raw)) {
    throw configPathError(at, 'must be an object like { subject: "orders-value", format: "avro" }');
  }
  for (const key of Object.keys(raw)) {
    if (!registryKeys.has(key)) {
      throw configPathError(jsonPath(at, key), 'unknown setting; known: subject, format, version');
    }
  }
  if (typeof raw.subject !== 'string' || !subjectPattern.test(raw.subject)) {
    throw configPathError(
      jsonPath(at, 'subject'),
      `${JSON.stringify(raw.subject)} is not a registry subject (1-255 characters, no spaces or slashes)`,
    );
  }
  if (!(registryFormats as readonly unknown[]).includes(raw.format)) {
    throw configPathError(
      jsonPath(at, 'format'),
      `${JSON.stringify(raw.format)} is not supported; use "avro" or "json" (Confluent-framed Avro or JSON Schema)`,
    );
  }
  if (raw.version !== undefined && (!Number.isSafeInteger(raw.version) || (raw.version as number) < 1)) {
    throw configPathError(
      jsonPath(at, 'version'),
      `${JSON.stringify(raw.version)} is not a version number (1, 2, …)`,
    );
  }
  return {
    subject: raw.subject,
    format: raw.format as RegistryFormat,
    ...(raw.version === undefined ? {} : { version: raw.version as number }),
  };
}

/** The subject and stream named in every registry error. */
function registryError(stream: string, subject: string, message: string, details = {}): TandemError {
  return new TandemError(
    'TANDEM_ERR_CONFIG_INVALID',
    `stream "${stream}" (registry subject "${subject}"): ${message}`,
    {
      details: { stream, subject, ...details },
    },
  );
}

/** The schema a registry-backed stream takes from the versions fetched for its subject. */
export interface ResolvedRegistrySchema {
  schema: StreamSchemaSpec;
  registry: StreamRegistry;
  /** The time encoding the writer's types imply for `timeField` (Avro timestamp-*, date-time), if any. */
  timeEncoding: TimeEncoding | undefined;
}

/**
 * Picks the pinned (or latest) version among `versions` (every version of the subject, as fetched),
 * checks it has the declared format and translates it. Throws `TANDEM_ERR_CONFIG_INVALID` naming the
 * stream and subject.
 */
export function resolveRegistrySchema(
  streamName: string,
  spec: StreamRegistrySpec,
  versions: readonly RegistryVersion[] | undefined,
  timeField: string,
  path: string,
): ResolvedRegistrySchema {
  const { subject, format } = spec;
  if (versions === undefined) {
    throw registryError(
      streamName,
      subject,
      `its schema was not fetched from a registry; load the config through the cli (tandem), or ${REGISTRY_START_HINT}`,
    );
  }
  if (versions.length === 0) {
    throw registryError(streamName, subject, 'the subject has no versions; register the schema first');
  }
  const sorted = [...versions].sort((a, b) => a.version - b.version);
  const usable = sorted.filter((entry) => entry.unusable === undefined);
  const chosen =
    spec.version === undefined
      ? (usable.at(-1) ?? sorted.at(-1)!)
      : sorted.find((entry) => entry.version === spec.version);
  if (chosen === undefined) {
    throw registryError(
      streamName,
      subject,
      `version ${spec.version} does not exist; the subject has versions ${sorted.map((v) => v.version).join(', ')}`,
      { version: spec.version },
    );
  }
  const expected = format === 'avro' ? 'AVRO' : 'JSON';
  const schemaType = chosen.schemaType || 'AVRO';
  if (schemaType !== expected) {
    throw registryError(
      streamName,
      subject,
      `version ${chosen.version} is a ${schemaType} schema but the stream declares format "${format}"`,
      { version: chosen.version },
    );
  }
  const translated = translateRegistrySchema(
    { schemaType, schema: chosen.schema, ...(chosen.references ? { references: chosen.references } : {}) },
    `${jsonPath(path, 'registry')} (subject "${subject}" version ${chosen.version})`,
  );
  return {
    schema: translated.schema,
    timeEncoding: translated.timeEncodings[timeField],
    registry: {
      subject,
      format,
      pinnedVersion: spec.version ?? null,
      version: chosen.version,
      schemaId: chosen.id,
      writers: sorted.map(({ id, version, schemaType: type, schema }) => ({
        id,
        subject,
        version,
        schemaType: type || 'AVRO',
        schema,
      })),
      viewsRead: {},
      skipped: sorted
        .filter((entry) => entry.version > chosen.version && entry.unusable !== undefined)
        .map((entry) => ({ version: entry.version, reason: entry.unusable! })),
    },
  };
}

/** The stream with the fields each of `views` reads recorded in its registry side (a plain stream as it is). */
export function withRegistryViews(stream: Stream, views: readonly View[]): Stream {
  if (stream.registry === null) return stream;
  const viewsRead: Record<string, readonly string[]> = {};
  for (const view of views) {
    if (view.stream === stream.name) viewsRead[view.name] = [...viewFieldsRead(view, stream)];
  }
  return { ...stream, registry: { ...stream.registry, viewsRead } };
}

// ---------------------------------------------------------------------------------------------------
// What views need from a writer's schema

/** A field a view reads that a writer schema does not provide as the view needs it. */
export interface SchemaIncompatibility {
  view: string;
  field: string;
  subject: string;
  version: number;
  /** The type the stream declares. */
  expected: StreamFieldType;
  /** The writer's type, or null when the writer has no such field. */
  found: StreamFieldType | null;
  message: string;
}

/** Whether values of the writer's type are values of the reader's (an integer is a number). */
function typeCompatible(reader: StreamFieldType, writer: StreamFieldType): boolean {
  return reader === writer || (reader === 'number' && writer === 'integer');
}

/**
 * Every (view, field) that a writer schema (its translated fields) breaks: a field the view reads
 * that the writer has with another type, or does not have — unless the stream declares the field
 * optional and the writer is older than the version the stream's schema was taken from (events
 * written before the field existed count with it absent, as a reader of the newer schema reads
 * them). A version newer than the stream's that lacks a field a view reads dropped it: its events
 * would count as if the field were absent, so they are refused instead. Empty when the writer
 * supports every view.
 */
export function viewsBrokenByWriter(
  stream: Stream,
  writerFields: readonly StreamField[],
  version: number,
): SchemaIncompatibility[] {
  const writer = new Map(writerFields.map((field) => [field.name, field]));
  const problems: SchemaIncompatibility[] = [];
  const subject = stream.registry?.subject ?? stream.name;
  for (const [view, names] of Object.entries(stream.registry?.viewsRead ?? {})) {
    for (const name of names) {
      const declared = stream.fields.find((field) => field.name === name);
      if (declared === undefined) continue;
      const found = writer.get(name);
      if (found !== undefined && typeCompatible(declared.type, found.type)) continue;
      if (found === undefined && !declared.required && version < (stream.registry?.version ?? 0)) continue;
      problems.push({
        view,
        field: name,
        subject,
        version,
        expected: declared.type,
        found: found?.type ?? null,
        message:
          found === undefined
            ? `view "${view}" reads field "${name}", which version ${version} of subject "${subject}" does not have`
            : `view "${view}" reads field "${name}" as ${declared.type}, but version ${version} of subject "${subject}" makes it ${found.type}`,
      });
    }
  }
  return problems;
}

/** The translated fields of a writer schema; throws `TANDEM_ERR_CONFIG_INVALID` on a construct the subset refuses. */
export function writerFields(writer: RegistryWriter): readonly StreamField[] {
  return translateRegistrySchema(
    { schemaType: writer.schemaType, schema: writer.schema },
    `subject "${writer.subject}" version ${writer.version} (schema id ${writer.id})`,
  ).fields;
}

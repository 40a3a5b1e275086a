// A stream: one Kafka topic of JSON events with a declared schema, event-time field and optional
// event-id field. Everything a layer needs to know about a stream (its topics, lake prefix, fields
// and their types, the fingerprint that names its validation rules) is here; the two validator
// compilers read the same normalized fields, so the speed layer, the archiver and the batch layer
// judge every event the same way.
import { createHash } from 'node:crypto';
import type { FieldSchema, FieldType } from './fields.ts';
import {
  configPathError,
  jsonPath,
  normalizeStreamSchema,
  type StreamField,
  type StreamSchemaSpec,
} from './stream-schema.ts';
import { TandemError } from './errors.ts';
import {
  type RegistryVersion,
  readStreamRegistrySpec,
  resolveRegistrySchema,
  type StreamRegistry,
  type StreamRegistrySpec,
} from './registry-stream.ts';

/**
 * How the event-time field is written.
 * - `iso8601`: `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)` strings;
 * - `epoch_ms`: integer numbers of milliseconds, or strings of 1–15 ASCII digits;
 * - `epoch_s`: finite numbers of seconds (a fraction is kept to the millisecond, rounded down);
 * - `epoch_us`: integer numbers of microseconds (rounded down to the millisecond);
 * - `auto`: `iso8601` strings or `epoch_ms` values (the web stream's rule).
 */
export const timeEncodings = ['auto', 'iso8601', 'epoch_ms', 'epoch_s', 'epoch_us'] as const;
export type TimeEncoding = (typeof timeEncodings)[number];

/** What a config file declares for one stream. */
export interface StreamSpec {
  /** Lower-case letters, digits and _ (max 63); names the stream in views, the CLI and the API. */
  name: string;
  /** Kafka topic. @defaultValue the stream's name */
  topic?: string;
  /** Dead-letter topic. @defaultValue `<topic>.dlq` */
  dlqTopic?: string;
  /** Topic of events too late for the speed layer. @defaultValue `<topic>.late` */
  lateTopic?: string;
  /** Where its raw-log partitions live under the lake URL. @defaultValue `streams/<name>/logs` */
  lakePrefix?: string;
  /** The event schema (a JSON Schema subset). */
  schema: StreamSchemaSpec;
  /** Only on a `RegistryStreamSpec`. */
  registry?: undefined;
  /**
   * The event-time field (declared in the schema and required) and how it is written. A
   * registry-backed stream takes the encoding its schema implies when none is given (Avro
   * `timestamp-millis`/`-micros`, JSON Schema `format: "date-time"`).
   */
  time: { field: string; encoding?: TimeEncoding };
  /**
   * A required string or integer field naming each event uniquely: events with the same id are
   * producer retries, and both layers count one of them. Without it, two events are duplicates
   * when every field of their normalized form is equal. @defaultValue null
   */
  idField?: string | null;
}

/**
 * A stream whose messages are Confluent-framed Avro or JSON Schema: instead of `schema`, `registry`
 * names the subject whose pinned or latest version (in the schema registry at `SCHEMA_REGISTRY_URL`)
 * is its schema.
 */
export type RegistryStreamSpec = Omit<StreamSpec, 'schema' | 'registry'> & {
  schema?: undefined;
  registry: StreamRegistrySpec;
};

/** A validated stream. */
export interface Stream {
  readonly name: string;
  readonly topic: string;
  readonly dlqTopic: string;
  readonly lateTopic: string;
  readonly lakePrefix: string;
  /** Fields in declaration order, the time field among them. */
  readonly fields: readonly StreamField[];
  /** Types of the normalized fields (the time field is an integer of epoch ms): what views read. */
  readonly fieldTypes: FieldSchema;
  /** DuckDB column types of the normalized fields. */
  readonly sqlTypes: Readonly<Record<string, string>>;
  readonly timeField: string;
  readonly timeEncoding: TimeEncoding;
  readonly idField: string | null;
  /** Where a registry-backed stream's schema lives and which writer schemas are known; null otherwise. */
  readonly registry: StreamRegistry | null;
  /**
   * Names the validation rules and the normalized form: a hash of the fields, time and id
   * declarations and the compilers' semantics version. The archiver stores it in each file's
   * manifest; the batch layer trusts a file without re-validating it only when it matches.
   */
  readonly fingerprint: string;
}

/**
 * Version of what the validator compilers do with a schema. Bump it whenever a rule's meaning
 * changes, so every stream's fingerprint changes and archived files are validated again.
 */
export const STREAM_VALIDATOR_SEMANTICS = 'tandem-stream-validator/1';

const namePattern = /^[a-z][a-z0-9_]{0,62}$/;
const topicPattern = /^[A-Za-z0-9._-]{1,249}$/;
const prefixPattern = /^[A-Za-z0-9._=-]+(\/[A-Za-z0-9._=-]+)*$/;
const specKeys = new Set([
  'name',
  'topic',
  'dlqTopic',
  'lateTopic',
  'lakePrefix',
  'schema',
  'time',
  'idField',
  'registry',
]);

const sqlTypeOf: Record<FieldType, string> = {
  string: 'VARCHAR',
  integer: 'BIGINT',
  number: 'DOUBLE',
  boolean: 'BOOLEAN',
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalTopic(path: string, raw: unknown, fallback: string): string {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !topicPattern.test(raw)) {
    throw configPathError(
      path,
      `${JSON.stringify(raw)} is not a valid Kafka topic name (letters, digits, . _ -)`,
    );
  }
  return raw;
}

/**
 * Validates a stream declaration. Throws `TANDEM_ERR_CONFIG_INVALID` naming the JSON path below
 * `path` (a config file's `streams[0]`, say).
 */
export function defineStream(
  spec: StreamSpec | RegistryStreamSpec,
  path = 'stream',
  /** Every version of each registry subject, fetched by the caller (core does no I/O), by subject. */
  registryVersions?: ReadonlyMap<string, readonly RegistryVersion[]>,
): Stream {
  if (!isPlainObject(spec))
    throw configPathError(path, 'a stream must be an object with name, schema and time');
  for (const key of Object.keys(spec)) {
    if (!specKeys.has(key)) {
      throw configPathError(
        jsonPath(path, key),
        `unknown stream setting; known: ${[...specKeys].join(', ')}`,
      );
    }
  }
  const name = spec.name;
  if (typeof name !== 'string' || !namePattern.test(name)) {
    throw configPathError(
      jsonPath(path, 'name'),
      `stream name ${JSON.stringify(name)} is invalid; use lower-case letters, digits and _ (max 63)`,
    );
  }
  const topic = optionalTopic(jsonPath(path, 'topic'), spec.topic, name);
  const dlqTopic = optionalTopic(jsonPath(path, 'dlqTopic'), spec.dlqTopic, `${topic}.dlq`);
  const lateTopic = optionalTopic(jsonPath(path, 'lateTopic'), spec.lateTopic, `${topic}.late`);
  if (new Set([topic, dlqTopic, lateTopic]).size !== 3) {
    throw configPathError(path, 'topic, dlqTopic and lateTopic must be three different topics');
  }
  const lakePrefix = spec.lakePrefix ?? `streams/${name}/logs`;
  if (
    typeof lakePrefix !== 'string' ||
    !prefixPattern.test(lakePrefix) ||
    lakePrefix.split('/').includes('..')
  ) {
    throw configPathError(
      jsonPath(path, 'lakePrefix'),
      `${JSON.stringify(lakePrefix)} is not a relative lake path like "streams/${name}/logs"`,
    );
  }
  let schema: StreamSchemaSpec | undefined = spec.schema;
  let registry: StreamRegistry | null = null;
  let impliedEncoding: TimeEncoding | undefined;
  if (spec.registry !== undefined) {
    if (spec.schema !== undefined) {
      throw configPathError(
        path,
        'give schema or registry, not both (a registry-backed stream takes its schema from the registry)',
      );
    }
    const registrySpec = readStreamRegistrySpec(spec.registry, path);
    const resolved = resolveRegistrySchema(
      name,
      registrySpec,
      registryVersions?.get(registrySpec.subject),
      isPlainObject(spec.time) ? String(spec.time.field) : '',
      path,
    );
    schema = resolved.schema;
    registry = resolved.registry;
    impliedEncoding = resolved.timeEncoding;
  } else if (schema === undefined) {
    throw configPathError(
      jsonPath(path, 'schema'),
      'is required (or registry, for Confluent-framed messages)',
    );
  }
  const fields = normalizeStreamSchema(schema, jsonPath(path, 'schema'));
  const byName = new Map(fields.map((field) => [field.name, field]));

  const timePath = jsonPath(path, 'time');
  if (!isPlainObject(spec.time))
    throw configPathError(timePath, 'must be an object like { field: "ts", encoding: "auto" }');
  for (const key of Object.keys(spec.time)) {
    if (key !== 'field' && key !== 'encoding')
      throw configPathError(jsonPath(timePath, key), 'unknown setting; known: field, encoding');
  }
  const timeField = byName.get(spec.time.field as string);
  if (timeField === undefined) {
    throw configPathError(
      jsonPath(timePath, 'field'),
      `the event-time field ${JSON.stringify(spec.time.field)} is not a property of the schema`,
    );
  }
  const timeEncoding = spec.time.encoding ?? impliedEncoding ?? 'auto';
  if (!(timeEncodings as readonly string[]).includes(timeEncoding)) {
    throw configPathError(
      jsonPath(timePath, 'encoding'),
      `${JSON.stringify(timeEncoding)} is not supported; use one of ${timeEncodings.join(', ')}`,
    );
  }
  checkTimeField(jsonPath(jsonPath(path, 'schema'), 'properties'), timeField, timeEncoding);

  const idField = spec.idField ?? null;
  if (idField !== null) {
    const field = byName.get(idField);
    const idPath = jsonPath(path, 'idField');
    if (field === undefined)
      throw configPathError(idPath, `${JSON.stringify(idField)} is not a property of the schema`);
    if (!field.required || field.nullable)
      throw configPathError(idPath, `the event-id field "${idField}" must be required and not nullable`);
    if (field.type !== 'string' && field.type !== 'integer') {
      throw configPathError(
        idPath,
        `the event-id field "${idField}" must be a string or an integer, not ${field.type}`,
      );
    }
    if (field.name === timeField.name)
      throw configPathError(idPath, 'the event-id field can not be the event-time field');
  }

  const fieldTypes: Record<string, FieldType> = {};
  const sqlTypes: Record<string, string> = {};
  for (const field of fields) {
    const type: FieldType = field.name === timeField.name ? 'integer' : field.type;
    fieldTypes[field.name] = type;
    sqlTypes[field.name] = sqlTypeOf[type];
  }
  const fingerprint = createHash('sha256')
    .update(
      JSON.stringify({
        semantics: STREAM_VALIDATOR_SEMANTICS,
        fields,
        time: [timeField.name, timeEncoding],
        idField,
        // Only registry-backed streams add a key, so every other stream keeps its fingerprint.
        ...(registry === null ? {} : { registry: [registry.subject, registry.format] }),
      }),
    )
    .digest('hex')
    .slice(0, 16);
  return {
    name,
    topic,
    dlqTopic,
    lateTopic,
    lakePrefix,
    fields,
    fieldTypes,
    sqlTypes,
    timeField: timeField.name,
    timeEncoding,
    idField,
    registry,
    fingerprint: `${name}/${fingerprint}`,
  };
}

function checkTimeField(propertiesPath: string, field: StreamField, encoding: TimeEncoding): void {
  const path = jsonPath(propertiesPath, field.name);
  if (!field.required || field.nullable) {
    throw configPathError(path, `the event-time field "${field.name}" must be required and not nullable`);
  }
  const allowed: Record<TimeEncoding, readonly string[]> = {
    auto: ['string', 'integer'],
    iso8601: ['string'],
    epoch_ms: ['integer'],
    epoch_s: ['integer', 'number'],
    epoch_us: ['integer'],
  };
  if (!allowed[encoding].includes(field.type)) {
    throw configPathError(
      jsonPath(path, 'type'),
      `the event-time field with encoding "${encoding}" must be declared as ${allowed[encoding].join(' or ')}`,
    );
  }
  for (const keyword of ['minLength', 'maxLength', 'minimum', 'maximum', 'enum'] as const) {
    if (field[keyword] !== null) {
      throw configPathError(
        jsonPath(path, keyword),
        'the event-time field takes its rules from time.encoding (not before 1970, not in the future)',
      );
    }
  }
}

/** The field of that name; the caller knows it exists. */
export function streamField(stream: Stream, name: string): StreamField {
  const field = stream.fields.find((f) => f.name === name);
  if (field === undefined)
    throw new TandemError('TANDEM_ERR_VIEW_FIELD_UNKNOWN', `stream "${stream.name}" has no field "${name}"`);
  return field;
}

const archivedForms = new WeakMap<Stream, Stream>();

/**
 * The stream as the archiver writes it: every line is the normalized event, so its time field
 * holds epoch milliseconds whatever the stream's own encoding. Lines of an archived file that must
 * be validated again (no manifest, or one from older rules) are judged by this form; judging them
 * by the raw rules would read `epoch_s` milliseconds as seconds. The stream itself when its
 * encoding already accepts epoch milliseconds (`auto`, `epoch_ms`).
 */
export function archivedFormOf(stream: Stream): Stream {
  if (stream.timeEncoding === 'auto' || stream.timeEncoding === 'epoch_ms') return stream;
  let form = archivedForms.get(stream);
  if (form === undefined) {
    form = {
      ...stream,
      timeEncoding: 'epoch_ms',
      fields: stream.fields.map((field) =>
        field.name === stream.timeField ? { ...field, type: 'integer' } : field,
      ),
      fingerprint: `${stream.fingerprint}+archived`,
    };
    archivedForms.set(stream, form);
  }
  return form;
}

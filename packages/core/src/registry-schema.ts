// Translates a schema kept in a Confluent-compatible registry (JSON Schema or Avro, as the registry
// returns it) into Tandem's stream schema subset (stream-schema.ts), so a registry-backed stream is
// validated by the same compilers as one declared in the config file. What the subset cannot express
// is refused here, at load, naming the construct and its path, never dropped silently: a field Tandem
// could not check would let events through that the producer's schema forbids, or the reverse.
import { configPathError, jsonPath, normalizeStreamSchema, propertyKeywords } from './stream-schema.ts';
import type {
  StreamField,
  StreamFieldType,
  StreamPropertySchema,
  StreamScalar,
  StreamSchemaSpec,
} from './stream-schema.ts';
import type { TimeEncoding } from './stream.ts';
import type { TandemError } from './errors.ts';

/** Schema types of the Confluent API (`schemaType`; absent means AVRO). */
export const registrySchemaTypes = ['AVRO', 'JSON', 'PROTOBUF'] as const;
export type RegistrySchemaType = (typeof registrySchemaTypes)[number];

/** A schema as the registry's Confluent API returns it (`GET /subjects/S/versions/latest`). */
export interface RegisteredSchema {
  /** @defaultValue 'AVRO' (the Confluent API leaves it out for Avro) */
  schemaType?: string;
  /** The schema document as text. */
  schema: string;
  /** Schema references (other subjects this schema imports). */
  references?: readonly unknown[];
}

/** A registry schema in Tandem's terms. */
export interface TranslatedSchema {
  readonly schemaType: 'AVRO' | 'JSON';
  /** The stream schema, as a config file would declare it (`normalizeStreamSchema` accepts it). */
  readonly schema: StreamSchemaSpec;
  /** Its normalized fields, in the registry schema's order. */
  readonly fields: readonly StreamField[];
  /**
   * How the fields whose registry type says they hold an instant write it: Avro `timestamp-millis`
   * → `epoch_ms`, `timestamp-micros` → `epoch_us`, JSON Schema `format: "date-time"` → `iso8601`.
   * A stream takes its `time.encoding` from here when its config names no encoding.
   */
  readonly timeEncodings: Readonly<Record<string, TimeEncoding>>;
}

const SUBSET =
  'a stream schema is one flat record of string, integer, number and boolean fields, each optionally nullable';

/** A coded error (`TANDEM_ERR_CONFIG_INVALID`) naming the construct the subset cannot express. */
function refused(path: string, construct: string, what: string): TandemError {
  return configPathError(path, `${what} is not supported (${SUBSET})`, { construct });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Translates a schema as the registry returns it. `path` names it in errors (a stream's
 * `streams[0].registry`, or the subject and version). Throws `TANDEM_ERR_CONFIG_INVALID` with
 * `details.construct` naming what is not supported and `details.path` where it is.
 */
export function translateRegistrySchema(registered: RegisteredSchema, path: string): TranslatedSchema {
  const schemaType = registered.schemaType ?? 'AVRO';
  if (registered.references !== undefined && registered.references.length > 0) {
    throw refused(
      jsonPath(path, 'references'),
      'references',
      `a schema that references other subjects (${registered.references.length} reference(s))`,
    );
  }
  if (schemaType === 'PROTOBUF') {
    throw configPathError(
      path,
      "a Protobuf schema is not supported; register the stream's schema as JSON Schema or Avro",
      { construct: 'protobuf' },
    );
  }
  if (schemaType !== 'AVRO' && schemaType !== 'JSON') {
    throw configPathError(
      path,
      `schema type ${JSON.stringify(schemaType)} is unknown; expected AVRO or JSON`,
      {
        construct: 'schemaType',
      },
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(registered.schema);
  } catch (error) {
    throw configPathError(
      path,
      `the registry's ${schemaType} schema is not JSON (${(error as Error).message})`,
    );
  }
  return schemaType === 'AVRO' ? translateAvroSchema(document, path) : translateJsonSchema(document, path);
}

// ---------------------------------------------------------------------------------------------------
// Avro

const avroPrimitives: Readonly<Record<string, StreamFieldType>> = {
  string: 'string',
  int: 'integer',
  long: 'integer',
  float: 'number',
  double: 'number',
  boolean: 'boolean',
};
/** Avro types that exist but have no stream field type, with what to say about them. */
const avroRefusedTypes: Readonly<Record<string, string>> = {
  bytes: 'an Avro "bytes" field (binary data)',
  fixed: 'an Avro "fixed" field (binary data)',
  array: 'an Avro array',
  map: 'an Avro map',
  record: 'a nested Avro record',
  error: 'an Avro error record',
  null: 'an Avro field that is always null',
};
const timeLogicalTypes: Readonly<Record<string, TimeEncoding>> = {
  'timestamp-millis': 'epoch_ms',
  'timestamp-micros': 'epoch_us',
};

/** What one Avro field type becomes. */
interface AvroFieldType {
  type: StreamFieldType;
  nullable: boolean;
  /** The index of "null" in a nullable union (Avro defaults follow the union's first branch). */
  nullFirst: boolean;
  enum: string[] | null;
  timeEncoding: TimeEncoding | null;
  /** An Avro `int`: a 32-bit signed integer, so the field's bounds are those of the type. */
  int32?: boolean;
}

/** The range of an Avro `int`. */
const INT32 = { minimum: -(2 ** 31), maximum: 2 ** 31 - 1 };

/** Named types seen so far (enums may be referenced by name after their definition). */
type AvroNames = Map<string, { kind: 'enum'; symbols: string[] } | { kind: 'record' | 'fixed' }>;

function avroFullName(name: string, namespace: string | null): string {
  return name.includes('.') || namespace === null || namespace === '' ? name : `${namespace}.${name}`;
}

function avroEnum(path: string, raw: Record<string, unknown>): string[] {
  const symbols = raw.symbols;
  if (!Array.isArray(symbols) || symbols.length === 0 || symbols.some((s) => typeof s !== 'string')) {
    throw configPathError(
      jsonPath(path, 'symbols'),
      'an Avro enum needs a non-empty array of string symbols',
    );
  }
  return symbols as string[];
}

/** A non-union Avro type: a name (primitive or named type) or an object. */
function avroSingleType(
  path: string,
  raw: unknown,
  names: AvroNames,
  namespace: string | null,
): Omit<AvroFieldType, 'nullable' | 'nullFirst'> {
  if (typeof raw === 'string') {
    const primitive = avroPrimitives[raw];
    if (primitive !== undefined)
      return { type: primitive, enum: null, timeEncoding: null, int32: raw === 'int' };
    const refusedWhat = avroRefusedTypes[raw];
    if (refusedWhat !== undefined) throw refused(path, raw, refusedWhat);
    const named = names.get(avroFullName(raw, namespace)) ?? names.get(raw);
    if (named?.kind === 'enum') return { type: 'string', enum: [...named.symbols], timeEncoding: null };
    if (named !== undefined) {
      throw refused(
        path,
        named.kind,
        `a reference to the Avro ${named.kind} "${raw}" (a nested ${named.kind})`,
      );
    }
    throw configPathError(path, `Avro type ${JSON.stringify(raw)} is not defined before this use`);
  }
  if (Array.isArray(raw)) throw refused(path, 'union', 'an Avro union nested in a type');
  if (!isPlainObject(raw)) throw configPathError(path, 'an Avro type must be a name, an object or a union');
  const type = raw.type;
  if (typeof type !== 'string') {
    throw configPathError(jsonPath(path, 'type'), 'an Avro type object needs a "type" name');
  }
  if (type === 'enum') {
    const symbols = avroEnum(path, raw);
    if (typeof raw.name === 'string') {
      const ns = typeof raw.namespace === 'string' ? raw.namespace : namespace;
      names.set(avroFullName(raw.name, ns), { kind: 'enum', symbols });
    }
    return { type: 'string', enum: symbols, timeEncoding: null };
  }
  if ((type === 'record' || type === 'error' || type === 'fixed') && typeof raw.name === 'string') {
    const ns = typeof raw.namespace === 'string' ? raw.namespace : namespace;
    names.set(avroFullName(raw.name, ns), { kind: type === 'fixed' ? 'fixed' : 'record' });
  }
  const refusedWhat = avroRefusedTypes[type];
  if (refusedWhat !== undefined) throw refused(path, type, refusedWhat);
  const primitive = avroPrimitives[type];
  if (primitive === undefined) {
    // A named type wrapped in an object, {"type": "Method"}.
    return avroSingleType(jsonPath(path, 'type'), type, names, namespace);
  }
  const logicalType = raw.logicalType;
  const int32 = type === 'int';
  if (logicalType === undefined) return { type: primitive, enum: null, timeEncoding: null, int32 };
  if (typeof logicalType !== 'string') {
    throw configPathError(jsonPath(path, 'logicalType'), 'must be a string');
  }
  const encoding = timeLogicalTypes[logicalType];
  if (encoding !== undefined && type === 'long') {
    return { type: 'integer', enum: null, timeEncoding: encoding };
  }
  // Other logical types (date, time-millis, uuid, local-timestamp-*, and any a reader does not know)
  // are their underlying type, as the Avro specification says a reader must treat them. (A decimal
  // is bytes or fixed, refused above.)
  return { type: primitive, enum: null, timeEncoding: null, int32 };
}

function avroFieldType(
  path: string,
  raw: unknown,
  names: AvroNames,
  namespace: string | null,
): AvroFieldType {
  if (!Array.isArray(raw))
    return { ...avroSingleType(path, raw, names, namespace), nullable: false, nullFirst: false };
  const branches = raw.map((branch, i) => ({ branch, i }));
  const nulls = branches.filter(
    ({ branch }) => branch === 'null' || (isPlainObject(branch) && branch.type === 'null'),
  );
  const others = branches.filter(({ branch }) => !nulls.some((n) => n.branch === branch));
  if (others.length === 1 && nulls.length <= 1) {
    const [only] = others;
    const single = avroSingleType(jsonPath(path, only!.i), only!.branch, names, namespace);
    return { ...single, nullable: nulls.length === 1, nullFirst: nulls.length === 1 && nulls[0]!.i === 0 };
  }
  if (others.length === 0) throw refused(path, 'union', 'an Avro union of only "null"');
  throw refused(
    path,
    'union',
    `an Avro union of several non-null types (${others.map(({ branch }) => describeAvroBranch(branch)).join(', ')})`,
  );
}

function describeAvroBranch(branch: unknown): string {
  if (typeof branch === 'string') return branch;
  if (isPlainObject(branch) && typeof branch.type === 'string') return branch.type;
  return JSON.stringify(branch);
}

/** Translates an Avro schema document (parsed JSON): a record of primitive, enum and nullable fields. */
export function translateAvroSchema(raw: unknown, path: string): TranslatedSchema {
  if (!isPlainObject(raw) || raw.type !== 'record') {
    const found = isPlainObject(raw) ? raw.type : raw;
    throw refused(
      path,
      'top-level',
      `an Avro schema whose top level is not a record (it is ${JSON.stringify(Array.isArray(found) ? 'union' : found)})`,
    );
  }
  const namespace = typeof raw.namespace === 'string' ? raw.namespace : null;
  const names: AvroNames = new Map();
  if (typeof raw.name === 'string') names.set(avroFullName(raw.name, namespace), { kind: 'record' });
  const fieldsPath = jsonPath(path, 'fields');
  if (!Array.isArray(raw.fields) || raw.fields.length === 0) {
    throw configPathError(fieldsPath, 'an Avro record needs a non-empty array of fields');
  }
  const properties: Record<string, StreamPropertySchema> = {};
  const required: string[] = [];
  const timeEncodings: Record<string, TimeEncoding> = {};
  raw.fields.forEach((field: unknown, i: number) => {
    const fieldPath = jsonPath(fieldsPath, i);
    if (!isPlainObject(field) || typeof field.name !== 'string') {
      throw configPathError(fieldPath, 'an Avro field needs a name and a type');
    }
    const name = field.name;
    if (Object.hasOwn(properties, name))
      throw configPathError(fieldPath, `field "${name}" is declared twice`);
    const translated = avroFieldType(jsonPath(fieldPath, 'type'), field.type, names, namespace);
    const property: { -readonly [K in keyof StreamPropertySchema]: StreamPropertySchema[K] } = {
      type: translated.nullable ? [translated.type, 'null'] : translated.type,
    };
    if (translated.enum !== null) property.enum = translated.enum;
    if (translated.int32 === true) Object.assign(property, INT32);
    if (typeof field.doc === 'string') property.description = field.doc;
    // A field with a default is optional: events written before it was added decode without it, and
    // take the default, as an Avro reader resolving the older writer's schema would give it.
    // The default of a nullable union follows its first branch: null when "null" comes first.
    const hasDefault = Object.hasOwn(field, 'default');
    if (hasDefault && field.default === null && !translated.nullable) {
      throw configPathError(jsonPath(fieldPath, 'default'), `null is not a value of field "${name}"'s type`);
    }
    if (hasDefault && field.default !== null) {
      if (translated.nullFirst) {
        throw configPathError(
          jsonPath(fieldPath, 'default'),
          `the default of a union whose first branch is "null" must be null (field "${name}")`,
        );
      }
      property.default = field.default as StreamScalar;
    }
    if (!hasDefault && !translated.nullable) required.push(name);
    if (translated.timeEncoding !== null) timeEncodings[name] = translated.timeEncoding;
    properties[name] = property;
  });
  const schema: StreamSchemaSpec = {
    type: 'object',
    properties,
    ...(required.length > 0 ? { required } : {}),
    ...(typeof raw.name === 'string' ? { title: avroFullName(raw.name, namespace) } : {}),
    ...(typeof raw.doc === 'string' ? { description: raw.doc } : {}),
  };
  return { schemaType: 'AVRO', schema, fields: normalizeStreamSchema(schema, path), timeEncodings };
}

// ---------------------------------------------------------------------------------------------------
// JSON Schema

/** Keywords of the top-level object: kept, or annotations dropped on the way. */
const jsonObjectKept = new Set([
  'type',
  'properties',
  'required',
  'title',
  'description',
  '$schema',
  '$id',
  '$comment',
]);
const jsonAnnotations = new Set([
  'examples',
  'deprecated',
  'readOnly',
  'writeOnly',
  'default',
  '$defs',
  'definitions',
]);
/** Keywords the subset cannot express, with what to say about them. */
const jsonRefusedKeywords: ReadonlyMap<string, string> = new Map([
  ['$ref', 'a $ref to another schema'],
  ['$dynamicRef', 'a $dynamicRef to another schema'],
  ['$recursiveRef', 'a $recursiveRef to another schema'],
  ['allOf', 'allOf (a combination of schemas)'],
  ['anyOf', 'anyOf (a choice of schemas)'],
  ['oneOf', 'oneOf (a choice of schemas)'],
  ['not', 'not (a negated schema)'],
  ['if', 'if/then/else (a conditional schema)'],
  ['then', 'if/then/else (a conditional schema)'],
  ['else', 'if/then/else (a conditional schema)'],
  ['patternProperties', 'patternProperties (fields named by a pattern)'],
  ['propertyNames', 'propertyNames (rules on field names)'],
  ['dependencies', 'dependencies between fields'],
  ['dependentRequired', 'dependentRequired (fields required by others)'],
  ['dependentSchemas', 'dependentSchemas (rules that depend on other fields)'],
  ['unevaluatedProperties', 'unevaluatedProperties'],
  ['minProperties', 'minProperties'],
  ['maxProperties', 'maxProperties'],
  ['properties', 'a nested object'],
  ['items', 'an array'],
  ['prefixItems', 'an array'],
  ['contains', 'an array'],
  ['minItems', 'an array'],
  ['maxItems', 'an array'],
  ['uniqueItems', 'an array'],
  ['pattern', 'pattern (a regular expression on strings)'],
  ['multipleOf', 'multipleOf'],
  ['contentEncoding', 'contentEncoding (binary content in a string)'],
  ['contentMediaType', 'contentMediaType'],
]);
const jsonTypes = new Set(['string', 'integer', 'number', 'boolean']);
const jsonRefusedTypes: Readonly<Record<string, string>> = {
  object: 'a nested object',
  array: 'an array',
  null: 'a field that is always null',
};

function jsonType(path: string, raw: unknown): { type: StreamFieldType; nullable: boolean } {
  const single = (t: unknown): StreamFieldType => {
    if (typeof t === 'string' && jsonTypes.has(t)) return t as StreamFieldType;
    const what = typeof t === 'string' ? jsonRefusedTypes[t] : undefined;
    if (what !== undefined) throw refused(path, t as string, `${what} (type ${JSON.stringify(t)})`);
    throw configPathError(path, `type ${JSON.stringify(t)} is not a JSON Schema type`);
  };
  if (!Array.isArray(raw)) return { type: single(raw), nullable: false };
  const others = raw.filter((t) => t !== 'null');
  const nulls = raw.length - others.length;
  if (others.length === 1 && nulls <= 1) return { type: single(others[0]), nullable: nulls === 1 };
  if (others.length === 0) throw refused(path, 'null', 'a field that is always null (type ["null"])');
  throw refused(path, 'union', `a union of several types (type ${JSON.stringify(raw)})`);
}

/** One property: a scalar type, its bounds, enum and default. */
function jsonProperty(
  path: string,
  name: string,
  raw: unknown,
  required: boolean,
  timeEncodings: Record<string, TimeEncoding>,
): StreamPropertySchema {
  if (raw === true || (isPlainObject(raw) && Object.keys(raw).length === 0)) {
    throw refused(path, 'any', `field "${name}" that may hold any value (schema ${JSON.stringify(raw)})`);
  }
  if (!isPlainObject(raw)) throw configPathError(path, `field "${name}" needs a schema object with a type`);
  for (const keyword of Object.keys(raw)) {
    const what = jsonRefusedKeywords.get(keyword);
    if (what !== undefined) throw refused(jsonPath(path, keyword), keyword, `${what} in field "${name}"`);
  }
  if (raw.type === undefined) {
    if (raw.const !== undefined || raw.enum !== undefined) {
      throw configPathError(jsonPath(path, 'type'), `field "${name}" needs a type beside its enum or const`);
    }
    throw refused(jsonPath(path, 'type'), 'any', `field "${name}" without a type (it may hold any value)`);
  }
  const { type, nullable } = jsonType(jsonPath(path, 'type'), raw.type);
  const property: { -readonly [K in keyof StreamPropertySchema]: StreamPropertySchema[K] } = {
    type: nullable ? [type, 'null'] : type,
  };
  for (const keyword of Object.keys(raw)) {
    if (keyword === 'type' || keyword === 'const' || keyword === 'format') continue;
    if (keyword === 'exclusiveMinimum' || keyword === 'exclusiveMaximum') continue;
    if (keyword === 'default') continue;
    if (propertyKeywords.has(keyword)) {
      (property as Record<string, unknown>)[keyword] = raw[keyword];
    } else if (!jsonAnnotations.has(keyword)) {
      throw refused(jsonPath(path, keyword), keyword, `keyword "${keyword}" in field "${name}"`);
    }
  }
  if (raw.const !== undefined) {
    if (raw.enum !== undefined)
      throw configPathError(jsonPath(path, 'const'), 'give const or enum, not both');
    property.enum = [raw.const as StreamScalar];
  }
  // exclusiveMinimum n of an integer is minimum n + 1 (draft 6 and later: a number); of a number
  // it has no inclusive equivalent.
  for (const [keyword, bound, step] of [
    ['exclusiveMinimum', 'minimum', 1],
    ['exclusiveMaximum', 'maximum', -1],
  ] as const) {
    const value = raw[keyword];
    if (value === undefined) continue;
    if (type !== 'integer' || typeof value !== 'number' || !Number.isFinite(value)) {
      throw refused(
        jsonPath(path, keyword),
        keyword,
        `${keyword} ${JSON.stringify(value)} on ${type} field "${name}" (only integer fields have an inclusive equivalent)`,
      );
    }
    const inclusive = step > 0 ? Math.floor(value) + 1 : Math.ceil(value) - 1;
    const current = property[bound];
    property[bound] =
      current === undefined
        ? inclusive
        : step > 0
          ? Math.max(current, inclusive)
          : Math.min(current, inclusive);
  }
  // A default is an annotation: it means something to Tandem only for an optional field.
  if (raw.default !== undefined && raw.default !== null && !required)
    property.default = raw.default as StreamScalar;
  if (raw.format === 'date-time' && type === 'string') timeEncodings[name] = 'iso8601';
  return property;
}

/** Translates a JSON Schema document (parsed JSON): an object whose properties are scalars. */
export function translateJsonSchema(raw: unknown, path: string): TranslatedSchema {
  if (!isPlainObject(raw)) {
    throw refused(path, 'top-level', 'a JSON Schema that is not an object schema');
  }
  for (const keyword of Object.keys(raw)) {
    if (keyword === 'properties') continue;
    const what = jsonRefusedKeywords.get(keyword);
    if (what !== undefined) throw refused(jsonPath(path, keyword), keyword, what);
  }
  if (raw.type !== 'object') {
    throw refused(
      jsonPath(path, 'type'),
      'top-level',
      `a JSON Schema whose top level is not type "object" (it is ${JSON.stringify(raw.type ?? null)})`,
    );
  }
  const additional = raw.additionalProperties;
  if (
    additional !== undefined &&
    typeof additional !== 'boolean' &&
    !(isPlainObject(additional) && Object.keys(additional).length === 0)
  ) {
    // Extra fields are never read by a view; only a schema for them is a map Tandem cannot check.
    throw refused(
      jsonPath(path, 'additionalProperties'),
      'additionalProperties',
      'additionalProperties with a schema (a map of extra fields)',
    );
  }
  for (const keyword of Object.keys(raw)) {
    if (!jsonObjectKept.has(keyword) && !jsonAnnotations.has(keyword) && keyword !== 'additionalProperties') {
      throw refused(jsonPath(path, keyword), keyword, `keyword "${keyword}"`);
    }
  }
  const propertiesPath = jsonPath(path, 'properties');
  if (!isPlainObject(raw.properties)) {
    throw configPathError(propertiesPath, 'must be an object with at least one property');
  }
  const requiredList = Array.isArray(raw.required) ? raw.required : [];
  const required = new Set(requiredList.filter((name): name is string => typeof name === 'string'));
  const properties: Record<string, StreamPropertySchema> = {};
  const timeEncodings: Record<string, TimeEncoding> = {};
  for (const [name, property] of Object.entries(raw.properties)) {
    properties[name] = jsonProperty(
      jsonPath(propertiesPath, name),
      name,
      property,
      required.has(name),
      timeEncodings,
    );
  }
  const schema: StreamSchemaSpec = {
    type: 'object',
    properties,
    ...(raw.required !== undefined ? { required: raw.required as string[] } : {}),
    ...(typeof raw.title === 'string' ? { title: raw.title } : {}),
    ...(typeof raw.description === 'string' ? { description: raw.description } : {}),
  };
  return { schemaType: 'JSON', schema, fields: normalizeStreamSchema(schema, path), timeEncodings };
}

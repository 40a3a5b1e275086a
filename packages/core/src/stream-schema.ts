// A stream's event schema: the JSON Schema subset users write in tandem.config.ts, and its
// normalized form that both validator compilers (stream-validator.ts, stream-staging-sql.ts) read.
// Anything outside the subset is refused here, at load, with the JSON path that holds it.
import { TandemError } from './errors.ts';

/** JSON types a stream field may have. */
export const streamFieldTypes = ['string', 'integer', 'number', 'boolean'] as const;
export type StreamFieldType = (typeof streamFieldTypes)[number];

/** A value a field may take (and an `enum` entry or a `default` may be). */
export type StreamScalar = string | number | boolean;

/** One property of a stream schema as users write it: a JSON Schema subset. */
export interface StreamPropertySchema {
  /** One type, or `[type, 'null']` (the same as `nullable: true`). */
  type: StreamFieldType | readonly [StreamFieldType, 'null'] | readonly ['null', StreamFieldType];
  /** A required field may be present as null (the value is then null). Optional fields always may. */
  nullable?: boolean;
  /** Length bounds of strings, in Unicode code points. */
  minLength?: number;
  maxLength?: number;
  /** Inclusive bounds of numbers. */
  minimum?: number;
  maximum?: number;
  /** The only values allowed. */
  enum?: readonly StreamScalar[];
  /** The value of an optional field that is absent or null. */
  default?: StreamScalar;
  title?: string;
  description?: string;
  $comment?: string;
}

/** A stream schema as users write it: an object with properties, some required. */
export interface StreamSchemaSpec {
  type?: 'object';
  properties: Readonly<Record<string, StreamPropertySchema>>;
  required?: readonly string[];
  title?: string;
  description?: string;
  $schema?: string;
  $id?: string;
  $comment?: string;
}

/** One field of a normalized schema; absent keywords are null. */
export interface StreamField {
  readonly name: string;
  readonly type: StreamFieldType;
  readonly required: boolean;
  /** Only meaningful for required fields: whether an explicit null is accepted. */
  readonly nullable: boolean;
  readonly minLength: number | null;
  readonly maxLength: number | null;
  readonly minimum: number | null;
  readonly maximum: number | null;
  readonly enum: readonly StreamScalar[] | null;
  readonly default: StreamScalar | null;
}

const objectKeywords = new Set([
  'type',
  'properties',
  'required',
  'title',
  'description',
  '$schema',
  '$id',
  '$comment',
]);
/** The keywords a property of the subset may carry (what registry schemas are translated into). */
export const propertyKeywords: ReadonlySet<string> = new Set([
  'type',
  'nullable',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'enum',
  'default',
  'title',
  'description',
  '$comment',
]);
const fieldNamePattern = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** Columns the staging SQL emits beside the fields (lower case; names are compared case-folded). */
const reservedFieldNames = new Set(['error_code', 'error_field', 'error_rule', 'line', 'canonical']);

/** A coded config error naming the JSON path where the problem is. */
export function configPathError(
  path: string,
  message: string,
  details: Record<string, unknown> = {},
): TandemError {
  return new TandemError('TANDEM_ERR_CONFIG_INVALID', `${path}: ${message}`, {
    details: { path, ...details },
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Appends a key to a JSON path (`a.b`, or `a["odd key"]`). */
export function jsonPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

function unsupported(path: string, keyword: string, allowed: ReadonlySet<string>): TandemError {
  return configPathError(
    jsonPath(path, keyword),
    `keyword "${keyword}" is not supported in a stream schema; supported: ${[...allowed].join(', ')}`,
    { keyword },
  );
}

function readType(path: string, raw: unknown): { type: StreamFieldType; nullable: boolean } {
  const isType = (t: unknown): t is StreamFieldType =>
    typeof t === 'string' && (streamFieldTypes as readonly string[]).includes(t);
  if (isType(raw)) return { type: raw, nullable: false };
  if (Array.isArray(raw) && raw.length === 2 && raw.includes('null')) {
    const other = raw.find((t) => t !== 'null');
    if (isType(other)) return { type: other, nullable: true };
  }
  throw configPathError(
    path,
    `type ${JSON.stringify(raw)} is not supported; use one of ${streamFieldTypes.join(', ')}, or [type, "null"]`,
  );
}

function finiteNumber(path: string, raw: unknown): number {
  if (typeof raw !== 'number' || !Number.isFinite(raw))
    throw configPathError(path, 'must be a finite number');
  return raw;
}

function lengthBound(path: string, raw: unknown): number {
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0) {
    throw configPathError(path, 'must be a non-negative integer');
  }
  return raw;
}

/** Whether a scalar has the JSON type a field declares (an integer is a number with no fraction). */
export function scalarHasType(type: StreamFieldType, value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
  }
}

function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** The rule a non-null value of the field's type breaks, by its own keywords (not type), or null. */
export function keywordViolation(field: StreamField, value: StreamScalar): string | null {
  if (typeof value === 'string') {
    const n = codePoints(value);
    if (field.minLength !== null && n < field.minLength) return 'minLength';
    if (field.maxLength !== null && n > field.maxLength) return 'maxLength';
  }
  if (typeof value === 'number') {
    if (field.minimum !== null && value < field.minimum) return 'minimum';
    if (field.maximum !== null && value > field.maximum) return 'maximum';
  }
  if (field.enum !== null && !field.enum.includes(value)) return 'enum';
  return null;
}

function readProperty(path: string, name: string, raw: unknown, required: boolean): StreamField {
  if (!fieldNamePattern.test(name)) {
    throw configPathError(
      path,
      `field name ${JSON.stringify(name)} is invalid; use letters, digits and _ (max 63)`,
    );
  }
  if (!isPlainObject(raw))
    throw configPathError(path, 'a property schema must be an object like { type: "string" }');
  for (const keyword of Object.keys(raw)) {
    if (!propertyKeywords.has(keyword)) throw unsupported(path, keyword, propertyKeywords);
  }
  if (raw.type === undefined) throw configPathError(jsonPath(path, 'type'), 'is required');
  const { type, nullable: nullableByType } = readType(jsonPath(path, 'type'), raw.type);
  if (raw.nullable !== undefined && typeof raw.nullable !== 'boolean') {
    throw configPathError(jsonPath(path, 'nullable'), 'must be true or false');
  }
  const stringOnly = ['minLength', 'maxLength'];
  const numberOnly = ['minimum', 'maximum'];
  for (const keyword of stringOnly) {
    if (raw[keyword] !== undefined && type !== 'string') {
      throw configPathError(jsonPath(path, keyword), `applies to string fields, and this field is ${type}`);
    }
  }
  for (const keyword of numberOnly) {
    if (raw[keyword] !== undefined && type !== 'integer' && type !== 'number') {
      throw configPathError(
        jsonPath(path, keyword),
        `applies to integer and number fields, and this field is ${type}`,
      );
    }
  }
  const minLength =
    raw.minLength === undefined ? null : lengthBound(jsonPath(path, 'minLength'), raw.minLength);
  const maxLength =
    raw.maxLength === undefined ? null : lengthBound(jsonPath(path, 'maxLength'), raw.maxLength);
  const minimum = raw.minimum === undefined ? null : finiteNumber(jsonPath(path, 'minimum'), raw.minimum);
  const maximum = raw.maximum === undefined ? null : finiteNumber(jsonPath(path, 'maximum'), raw.maximum);
  if (minLength !== null && maxLength !== null && minLength > maxLength) {
    throw configPathError(jsonPath(path, 'minLength'), 'is greater than maxLength');
  }
  if (minimum !== null && maximum !== null && minimum > maximum) {
    throw configPathError(jsonPath(path, 'minimum'), 'is greater than maximum');
  }
  let values: StreamScalar[] | null = null;
  if (raw.enum !== undefined) {
    const enumPath = jsonPath(path, 'enum');
    if (!Array.isArray(raw.enum) || raw.enum.length === 0)
      throw configPathError(enumPath, 'must be a non-empty array');
    values = raw.enum.map((value, i) => {
      if (!scalarHasType(type, value)) {
        throw configPathError(jsonPath(enumPath, i), `${JSON.stringify(value)} is not a ${type}`);
      }
      return value as StreamScalar;
    });
    if (new Set(values).size !== values.length) throw configPathError(enumPath, 'has repeated values');
  }
  const field: StreamField = {
    name,
    type,
    required,
    nullable: nullableByType || raw.nullable === true,
    minLength,
    maxLength,
    minimum,
    maximum,
    enum: values,
    default: null,
  };
  if (raw.default !== undefined) {
    const defaultPath = jsonPath(path, 'default');
    if (required) throw configPathError(defaultPath, 'a required field can not have a default');
    if (!scalarHasType(type, raw.default)) throw configPathError(defaultPath, `must be a ${type}`);
    const rule = keywordViolation(field, raw.default as StreamScalar);
    if (rule !== null) throw configPathError(defaultPath, `breaks the field's own "${rule}"`);
    return { ...field, default: raw.default as StreamScalar };
  }
  return field;
}

/**
 * Validates a schema as users write it and returns its fields in declaration order (the order
 * validation checks them in, and the order of normalized events). Throws `TANDEM_ERR_CONFIG_INVALID`
 * naming the JSON path under `path`.
 */
export function normalizeStreamSchema(raw: unknown, path: string): StreamField[] {
  if (!isPlainObject(raw)) throw configPathError(path, 'a schema must be an object with properties');
  for (const keyword of Object.keys(raw)) {
    if (!objectKeywords.has(keyword)) throw unsupported(path, keyword, objectKeywords);
  }
  if (raw.type !== undefined && raw.type !== 'object') {
    throw configPathError(
      jsonPath(path, 'type'),
      'a stream schema describes an object: type must be "object"',
    );
  }
  const propertiesPath = jsonPath(path, 'properties');
  if (!isPlainObject(raw.properties) || Object.keys(raw.properties).length === 0) {
    throw configPathError(propertiesPath, 'must be an object with at least one property');
  }
  const required = new Set<string>();
  if (raw.required !== undefined) {
    const requiredPath = jsonPath(path, 'required');
    if (!Array.isArray(raw.required))
      throw configPathError(requiredPath, 'must be an array of property names');
    raw.required.forEach((name, i) => {
      if (typeof name !== 'string' || !Object.hasOwn(raw.properties as object, name)) {
        throw configPathError(
          jsonPath(requiredPath, i),
          `${JSON.stringify(name)} is not a declared property`,
        );
      }
      if (required.has(name)) throw configPathError(jsonPath(requiredPath, i), `"${name}" is listed twice`);
      required.add(name);
    });
  }
  const seen = new Map<string, string>();
  for (const name of Object.keys(raw.properties)) {
    // DuckDB matches column and struct field names case-insensitively, and the staging SQL adds
    // these columns beside the fields (stream-staging-sql.ts).
    const folded = name.toLowerCase();
    if (reservedFieldNames.has(folded)) {
      throw configPathError(
        jsonPath(propertiesPath, name),
        `field name "${name}" is reserved (the staging SQL's ${[...reservedFieldNames].join(', ')} columns); rename it`,
      );
    }
    const other = seen.get(folded);
    if (other !== undefined) {
      throw configPathError(
        jsonPath(propertiesPath, name),
        `field names "${other}" and "${name}" differ only in case; SQL column names ignore case, so rename one`,
      );
    }
    seen.set(folded, name);
  }
  return Object.entries(raw.properties).map(([name, property]) =>
    readProperty(jsonPath(propertiesPath, name), name, property, required.has(name)),
  );
}

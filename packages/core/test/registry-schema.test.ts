// Registry schemas (Avro, JSON Schema) translated into the stream schema subset: exact translations
// of what the subset expresses, and a coded refusal naming the construct and its path for the rest.
import { describe, expect, it } from 'vitest';
import { TandemError } from '../src/errors.ts';
import { translateRegistrySchema } from '../src/registry-schema.ts';
import { defineStream } from '../src/stream.ts';

function refusal(schemaType: string | undefined, schema: unknown): TandemError {
  try {
    translateRegistrySchema(
      { ...(schemaType === undefined ? {} : { schemaType }), schema: JSON.stringify(schema) },
      'subject',
    );
  } catch (error) {
    if (error instanceof TandemError) return error;
    throw error;
  }
  throw new Error('expected the translation to refuse the schema');
}

const SUBSET =
  '(a stream schema is one flat record of string, integer, number and boolean fields, each optionally nullable)';

/** An Avro record around one field, for the table of refusals. */
function avroWith(type: unknown, extra: Record<string, unknown> = {}): unknown {
  return {
    type: 'record',
    name: 'Click',
    namespace: 'com.example',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'f', type, ...extra },
    ],
  };
}
/** A JSON Schema object around one property. */
function jsonWith(property: unknown, top: Record<string, unknown> = {}): unknown {
  return { type: 'object', properties: { id: { type: 'string' }, f: property }, ...top };
}

describe('translateRegistrySchema: Avro', () => {
  const clickV1 = {
    type: 'record',
    name: 'Click',
    namespace: 'com.example',
    doc: 'A page click',
    fields: [
      { name: 'event_id', type: 'string' },
      { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'page', type: 'string', doc: 'path of the page' },
      { name: 'status', type: 'int' },
      { name: 'latency', type: 'double' },
      { name: 'ratio', type: 'float' },
      { name: 'bot', type: 'boolean' },
      { name: 'user_id', type: ['null', 'string'], default: null },
      { name: 'region', type: ['string', 'null'], default: 'eu' },
      { name: 'method', type: { type: 'enum', name: 'Method', symbols: ['GET', 'POST'] }, default: 'GET' },
      { name: 'prev_method', type: ['null', 'Method'], default: null },
      { name: 'seen_us', type: { type: 'long', logicalType: 'timestamp-micros' } },
      { name: 'day', type: { type: 'int', logicalType: 'date' } },
      { name: 'retries', type: 'long', default: 0 },
    ],
  };

  it('translates a record of primitives, nullable unions, enums, defaults and timestamps exactly', () => {
    const translated = translateRegistrySchema({ schema: JSON.stringify(clickV1) }, 'subject');
    expect(translated.schemaType).toBe('AVRO');
    expect(translated.schema).toEqual({
      type: 'object',
      title: 'com.example.Click',
      description: 'A page click',
      required: ['event_id', 'ts', 'page', 'status', 'latency', 'ratio', 'bot', 'seen_us', 'day'],
      properties: {
        event_id: { type: 'string' },
        ts: { type: 'integer' },
        page: { type: 'string', description: 'path of the page' },
        // An Avro int is 32 bits: the bounds of its type.
        status: { type: 'integer', minimum: -2147483648, maximum: 2147483647 },
        latency: { type: 'number' },
        ratio: { type: 'number' },
        bot: { type: 'boolean' },
        user_id: { type: ['string', 'null'] },
        region: { type: ['string', 'null'], default: 'eu' },
        method: { type: 'string', enum: ['GET', 'POST'], default: 'GET' },
        prev_method: { type: ['string', 'null'], enum: ['GET', 'POST'] },
        seen_us: { type: 'integer' },
        day: { type: 'integer', minimum: -2147483648, maximum: 2147483647 },
        retries: { type: 'integer', default: 0 },
      },
    });
    expect(translated.timeEncodings).toEqual({ ts: 'epoch_ms', seen_us: 'epoch_us' });
    const field = (name: string, rest: Record<string, unknown>) => ({
      name,
      minLength: null,
      maxLength: null,
      minimum: null,
      maximum: null,
      enum: null,
      default: null,
      nullable: false,
      required: true,
      ...rest,
    });
    expect(translated.fields).toEqual([
      field('event_id', { type: 'string' }),
      field('ts', { type: 'integer' }),
      field('page', { type: 'string' }),
      field('status', { type: 'integer', minimum: -2147483648, maximum: 2147483647 }),
      field('latency', { type: 'number' }),
      field('ratio', { type: 'number' }),
      field('bot', { type: 'boolean' }),
      field('user_id', { type: 'string', required: false, nullable: true }),
      field('region', { type: 'string', required: false, nullable: true, default: 'eu' }),
      field('method', { type: 'string', required: false, enum: ['GET', 'POST'], default: 'GET' }),
      field('prev_method', { type: 'string', required: false, nullable: true, enum: ['GET', 'POST'] }),
      field('seen_us', { type: 'integer' }),
      field('day', { type: 'integer', minimum: -2147483648, maximum: 2147483647 }),
      field('retries', { type: 'integer', required: false, default: 0 }),
    ]);
    // The translation is a stream schema a stream can be defined with, its time encoding included.
    const stream = defineStream({
      name: 'clicks',
      schema: translated.schema,
      time: { field: 'ts', encoding: translated.timeEncodings.ts },
      idField: 'event_id',
    });
    expect(stream.fieldTypes).toMatchObject({ ts: 'integer', latency: 'number', method: 'string' });
    expect(stream.timeEncoding).toBe('epoch_ms');
  });

  it('reads a schema whose type is left out by the Confluent API as Avro, and AVRO given explicitly', () => {
    const bare = { type: 'record', name: 'R', fields: [{ name: 'a', type: { type: 'string' } }] };
    for (const schemaType of [undefined, 'AVRO']) {
      const translated = translateRegistrySchema(
        { ...(schemaType === undefined ? {} : { schemaType }), schema: JSON.stringify(bare) },
        'subject',
      );
      expect(translated.schema).toEqual({
        type: 'object',
        title: 'R',
        required: ['a'],
        properties: { a: { type: 'string' } },
      });
    }
  });

  const refusals: Array<[string, unknown, string, string, string]> = [
    [
      'a nested record',
      avroWith({ type: 'record', name: 'Geo', fields: [{ name: 'lat', type: 'double' }] }),
      'record',
      'subject.fields[1].type',
      'a nested Avro record',
    ],
    [
      'an array',
      avroWith({ type: 'array', items: 'string' }),
      'array',
      'subject.fields[1].type',
      'an Avro array',
    ],
    ['a map', avroWith({ type: 'map', values: 'long' }), 'map', 'subject.fields[1].type', 'an Avro map'],
    ['bytes', avroWith('bytes'), 'bytes', 'subject.fields[1].type', 'an Avro "bytes" field (binary data)'],
    [
      'a fixed',
      avroWith({ type: 'fixed', name: 'Hash', size: 16 }),
      'fixed',
      'subject.fields[1].type',
      'an Avro "fixed" field (binary data)',
    ],
    [
      'a union of several types',
      avroWith(['null', 'string', 'long']),
      'union',
      'subject.fields[1].type',
      'an Avro union of several non-null types (string, long)',
    ],
    [
      'a nullable nested record',
      avroWith(['null', { type: 'record', name: 'Geo', fields: [{ name: 'lat', type: 'double' }] }]),
      'record',
      'subject.fields[1].type[1]',
      'a nested Avro record',
    ],
    [
      'a nullable array',
      avroWith(['null', { type: 'array', items: 'string' }]),
      'array',
      'subject.fields[1].type[1]',
      'an Avro array',
    ],
    [
      'a recursive reference to the record itself',
      avroWith(['null', 'com.example.Click']),
      'record',
      'subject.fields[1].type[1]',
      'a reference to the Avro record "com.example.Click" (a nested record)',
    ],
    [
      'a decimal',
      avroWith({ type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 }),
      'bytes',
      'subject.fields[1].type',
      'an Avro "bytes" field (binary data)',
    ],
    [
      'a null-only union',
      avroWith(['null']),
      'union',
      'subject.fields[1].type',
      'an Avro union of only "null"',
    ],
    [
      'a top level that is not a record',
      { type: 'array', items: 'string' },
      'top-level',
      'subject',
      'an Avro schema whose top level is not a record (it is "array")',
    ],
    [
      'a top-level union',
      ['null', { type: 'record', name: 'R', fields: [{ name: 'a', type: 'int' }] }],
      'top-level',
      'subject',
      'an Avro schema whose top level is not a record (it is "union")',
    ],
  ];
  it.each(refusals)('refuses %s, naming the construct and its path', (_, schema, construct, path, what) => {
    const error = refusal(undefined, schema);
    expect(error.code).toBe('TANDEM_ERR_CONFIG_INVALID');
    expect(error.message).toBe(`${path}: ${what} is not supported ${SUBSET}`);
    expect(error.details).toEqual({ path, construct });
  });

  it('refuses schemas the Avro rules themselves forbid, naming the path', () => {
    const cases: Array<[unknown, string]> = [
      [
        avroWith('string', { default: null }),
        `subject.fields[1].default: null is not a value of field "f"'s type`,
      ],
      [
        avroWith(['null', 'string'], { default: 'x' }),
        'subject.fields[1].default: the default of a union whose first branch is "null" must be null (field "f")',
      ],
      [avroWith('Unknown'), 'subject.fields[1].type: Avro type "Unknown" is not defined before this use'],
      [
        avroWith({ type: 'enum', name: 'E', symbols: [] }),
        'subject.fields[1].type.symbols: an Avro enum needs a non-empty array of string symbols',
      ],
      [
        avroWith({ type: 'enum', name: 'E', symbols: ['A'] }, { default: 'B' }),
        'subject.properties.f.default: breaks the field\'s own "enum"',
      ],
    ];
    for (const [schema, message] of cases) {
      const error = refusal('AVRO', schema);
      expect(error.code).toBe('TANDEM_ERR_CONFIG_INVALID');
      expect(error.message).toBe(message);
    }
  });
});

describe('translateRegistrySchema: JSON Schema', () => {
  const pageView = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://example.com/page-view.json',
    title: 'PageView',
    type: 'object',
    additionalProperties: false,
    required: ['event_id', 'ts', 'status'],
    properties: {
      event_id: { type: 'string', minLength: 1, maxLength: 128 },
      ts: { type: 'string', format: 'date-time', description: 'event time' },
      status: { type: 'integer', minimum: 100, exclusiveMaximum: 600 },
      latency: { type: 'number', minimum: 0, examples: [12.5] },
      method: { type: 'string', enum: ['GET', 'POST'], default: 'GET' },
      user_id: { type: ['string', 'null'] },
      bot: { type: 'boolean', default: false },
      kind: { type: 'string', const: 'page_view' },
      score: { type: 'integer', exclusiveMinimum: 0, maximum: 10 },
      note: { type: 'string', nullable: true, deprecated: true },
    },
  };

  it('translates an object of scalar properties exactly', () => {
    const translated = translateRegistrySchema(
      { schemaType: 'JSON', schema: JSON.stringify(pageView) },
      'subject',
    );
    expect(translated.schemaType).toBe('JSON');
    expect(translated.schema).toEqual({
      type: 'object',
      title: 'PageView',
      required: ['event_id', 'ts', 'status'],
      properties: {
        event_id: { type: 'string', minLength: 1, maxLength: 128 },
        ts: { type: 'string', description: 'event time' },
        status: { type: 'integer', minimum: 100, maximum: 599 },
        latency: { type: 'number', minimum: 0 },
        method: { type: 'string', enum: ['GET', 'POST'], default: 'GET' },
        user_id: { type: ['string', 'null'] },
        bot: { type: 'boolean', default: false },
        kind: { type: 'string', enum: ['page_view'] },
        score: { type: 'integer', minimum: 1, maximum: 10 },
        note: { type: 'string', nullable: true },
      },
    });
    expect(translated.timeEncodings).toEqual({ ts: 'iso8601' });
    expect(translated.fields.map((f) => [f.name, f.type, f.required, f.nullable, f.default])).toEqual([
      ['event_id', 'string', true, false, null],
      ['ts', 'string', true, false, null],
      ['status', 'integer', true, false, null],
      ['latency', 'number', false, false, null],
      ['method', 'string', false, false, 'GET'],
      ['user_id', 'string', false, true, null],
      ['bot', 'boolean', false, false, false],
      ['kind', 'string', false, false, null],
      ['score', 'integer', false, false, null],
      ['note', 'string', false, true, null],
    ]);
    expect(translated.fields.find((f) => f.name === 'status')).toMatchObject({ minimum: 100, maximum: 599 });
  });

  it('drops the default of a required property (it can never apply)', () => {
    const translated = translateRegistrySchema(
      {
        schemaType: 'JSON',
        schema: JSON.stringify({
          type: 'object',
          required: ['a'],
          properties: { a: { type: 'string', default: 'x' } },
        }),
      },
      'subject',
    );
    expect(translated.schema.properties).toEqual({ a: { type: 'string' } });
  });

  const refusals: Array<[string, unknown, string, string, string]> = [
    [
      'a $ref',
      jsonWith({ $ref: '#/$defs/Geo' }),
      '$ref',
      'subject.properties.f.$ref',
      'a $ref to another schema in field "f"',
    ],
    [
      'a nested object',
      jsonWith({ type: 'object', properties: { lat: { type: 'number' } } }),
      'properties',
      'subject.properties.f.properties',
      'a nested object in field "f"',
    ],
    [
      'a nested object without properties',
      jsonWith({ type: 'object' }),
      'object',
      'subject.properties.f.type',
      'a nested object (type "object")',
    ],
    [
      'an array',
      jsonWith({ type: 'array', items: { type: 'string' } }),
      'items',
      'subject.properties.f.items',
      'an array in field "f"',
    ],
    [
      'an array without items',
      jsonWith({ type: 'array' }),
      'array',
      'subject.properties.f.type',
      'an array (type "array")',
    ],
    [
      'patternProperties',
      jsonWith({ type: 'string' }, { patternProperties: { '^x_': { type: 'string' } } }),
      'patternProperties',
      'subject.patternProperties',
      'patternProperties (fields named by a pattern)',
    ],
    [
      'a union of several types',
      jsonWith({ type: ['string', 'integer'] }),
      'union',
      'subject.properties.f.type',
      'a union of several types (type ["string","integer"])',
    ],
    [
      'oneOf',
      jsonWith({ oneOf: [{ type: 'string' }, { type: 'integer' }] }),
      'oneOf',
      'subject.properties.f.oneOf',
      'oneOf (a choice of schemas) in field "f"',
    ],
    [
      'allOf at the top',
      { allOf: [{ type: 'object' }], type: 'object', properties: { a: { type: 'string' } } },
      'allOf',
      'subject.allOf',
      'allOf (a combination of schemas)',
    ],
    [
      'a pattern',
      jsonWith({ type: 'string', pattern: '^a' }),
      'pattern',
      'subject.properties.f.pattern',
      'pattern (a regular expression on strings) in field "f"',
    ],
    [
      'multipleOf',
      jsonWith({ type: 'number', multipleOf: 0.5 }),
      'multipleOf',
      'subject.properties.f.multipleOf',
      'multipleOf in field "f"',
    ],
    [
      'an exclusive bound on a number',
      jsonWith({ type: 'number', exclusiveMinimum: 0 }),
      'exclusiveMinimum',
      'subject.properties.f.exclusiveMinimum',
      'exclusiveMinimum 0 on number field "f" (only integer fields have an inclusive equivalent)',
    ],
    [
      'additionalProperties with a schema',
      jsonWith({ type: 'string' }, { additionalProperties: { type: 'string' } }),
      'additionalProperties',
      'subject.additionalProperties',
      'additionalProperties with a schema (a map of extra fields)',
    ],
    [
      'a property of any value',
      jsonWith({}),
      'any',
      'subject.properties.f',
      'field "f" that may hold any value (schema {})',
    ],
    [
      'a top level that is not an object',
      { type: 'string' },
      'top-level',
      'subject.type',
      'a JSON Schema whose top level is not type "object" (it is "string")',
    ],
    [
      'an unknown keyword',
      jsonWith({ type: 'string', foo: 1 }),
      'foo',
      'subject.properties.f.foo',
      'keyword "foo" in field "f"',
    ],
  ];
  it.each(refusals)('refuses %s, naming the construct and its path', (_, schema, construct, path, what) => {
    const error = refusal('JSON', schema);
    expect(error.code).toBe('TANDEM_ERR_CONFIG_INVALID');
    expect(error.message).toBe(`${path}: ${what} is not supported ${SUBSET}`);
    expect(error.details).toEqual({ path, construct });
  });
});

describe('translateRegistrySchema: what is not a schema it can read', () => {
  it('refuses Protobuf, schema references, unknown types and text that is not JSON', () => {
    const protobuf = refusal('PROTOBUF', 'syntax = "proto3";');
    expect(protobuf.message).toBe(
      "subject: a Protobuf schema is not supported; register the stream's schema as JSON Schema or Avro",
    );
    expect(protobuf.details).toEqual({ path: 'subject', construct: 'protobuf' });
    let references: unknown;
    try {
      translateRegistrySchema(
        {
          schemaType: 'JSON',
          schema: JSON.stringify(jsonWith({ type: 'string' })),
          references: [{ name: 'geo.json', subject: 'geo', version: 1 }],
        },
        'subject',
      );
    } catch (error) {
      references = error;
    }
    expect(references).toBeInstanceOf(TandemError);
    expect((references as TandemError).message).toBe(
      `subject.references: a schema that references other subjects (1 reference(s)) is not supported ${SUBSET}`,
    );
    expect(refusal('XML', {}).message).toBe('subject: schema type "XML" is unknown; expected AVRO or JSON');
    let notJson: unknown;
    try {
      translateRegistrySchema({ schemaType: 'JSON', schema: '{"type": ' }, 'subject');
    } catch (error) {
      notJson = error;
    }
    expect((notJson as TandemError).code).toBe('TANDEM_ERR_CONFIG_INVALID');
    expect((notJson as TandemError).message).toMatch(/^subject: the registry's JSON schema is not JSON \(/);
  });
});

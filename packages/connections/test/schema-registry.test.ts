// The schema registry of the local stack (Apicurio Registry, `TANDEM_STACK_REGISTRY=1 scripts/stack
// up`; scripts/test starts it) through its Confluent API, with the client registry-backed streams
// will use: register a JSON Schema and an Avro schema, encode and decode Confluent-framed messages
// (magic byte 0, 4-byte schema id, body), fetch the latest version back and translate it into the
// stream schema subset with core's translateRegistrySchema.
import { randomUUID } from 'node:crypto';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { defineStream, loadConfig, type StreamField, translateRegistrySchema } from '@tandem/core';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { describe, expect, it } from 'vitest';
import { schemaRegistryUrl } from '@tandem/test-support/stack.ts';

// The components' own config (SCHEMA_REGISTRY_URL and its credentials), pointed at the local stack's
// registry unless the environment names another.
const config = loadConfig({
  SCHEMA_REGISTRY_URL: schemaRegistryUrl,
  SCHEMA_REGISTRY_USERNAME: process.env.SCHEMA_REGISTRY_USERNAME,
  SCHEMA_REGISTRY_PASSWORD: process.env.SCHEMA_REGISTRY_PASSWORD,
}).schemaRegistry;
const baseUrl = config.url as string;
// The client's Ajv is strict: a JSON Schema with a format it does not know (date-time) is refused.
const registry = new SchemaRegistry(
  { host: baseUrl, clientId: 'tandem-test', ...(config.auth === null ? {} : { auth: config.auth }) },
  { [SchemaType.JSON]: { formats: fullFormats } },
);
const prefix = `test-${randomUUID()}`;

interface LatestVersion {
  subject: string;
  version: number;
  id: number;
  schemaType?: string;
  schema: string;
}

/** `GET /subjects/S/versions/latest` of the Confluent API, as a registry-backed stream will read it. */
async function latest(subject: string): Promise<LatestVersion> {
  const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json' };
  if (config.auth !== null) {
    headers.authorization = `Basic ${Buffer.from(`${config.auth.username}:${config.auth.password}`).toString('base64')}`;
  }
  const response = await fetch(`${baseUrl}/subjects/${encodeURIComponent(subject)}/versions/latest`, {
    headers,
  });
  expect(response.status).toBe(200);
  return (await response.json()) as LatestVersion;
}

/** The Confluent frame: magic byte 0, then the schema id as a big-endian 32-bit integer. */
function frame(id: number): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(id, 1);
  return header;
}

/** Avro's binary encoding, written out here independently of the client's (avsc). */
function avroLong(value: number): Buffer {
  let zigzag = BigInt(value) >= 0n ? BigInt(value) << 1n : (-BigInt(value) << 1n) - 1n;
  const bytes: number[] = [];
  do {
    let byte = Number(zigzag & 0x7fn);
    zigzag >>= 7n;
    if (zigzag !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (zigzag !== 0n);
  return Buffer.from(bytes);
}
function avroString(value: string): Buffer {
  const utf8 = Buffer.from(value, 'utf8');
  return Buffer.concat([avroLong(utf8.length), utf8]);
}

function field(name: string, rest: Partial<StreamField>): StreamField {
  return {
    name,
    type: 'string',
    required: true,
    nullable: false,
    minLength: null,
    maxLength: null,
    minimum: null,
    maximum: null,
    enum: null,
    default: null,
    ...rest,
  };
}

describe('the schema registry of the local stack (Confluent API)', () => {
  it('registers a JSON Schema, frames and reads a message, and its latest version translates exactly', async () => {
    const subject = `${prefix}-page-views-value`;
    const schema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      title: 'PageView',
      type: 'object',
      additionalProperties: false,
      required: ['event_id', 'ts', 'page', 'status'],
      properties: {
        event_id: { type: 'string', minLength: 1, maxLength: 128 },
        ts: { type: 'string', format: 'date-time' },
        page: { type: 'string' },
        status: { type: 'integer', minimum: 100, maximum: 599 },
        latency_ms: { type: 'number', minimum: 0 },
        user_id: { type: ['string', 'null'] },
        method: { type: 'string', enum: ['GET', 'POST'], default: 'GET' },
      },
    };
    const { id } = await registry.register(
      { type: SchemaType.JSON, schema: JSON.stringify(schema) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
    expect(await registry.getLatestSchemaId(subject)).toBe(id);

    const event = {
      event_id: 'e-1',
      ts: '2026-12-03T10:15:00.000Z',
      page: '/pricing',
      status: 200,
      latency_ms: 12.5,
      user_id: null,
      method: 'POST',
    };
    const encoded = await registry.encode(id, event);
    // Magic byte, schema id, then the event's JSON text.
    expect(encoded.subarray(0, 5)).toEqual(frame(id));
    expect(JSON.parse(encoded.subarray(5).toString('utf8'))).toEqual(event);
    expect(await registry.decode(encoded)).toEqual(event);
    // A body the schema forbids is refused by the client before it is ever produced.
    await expect(registry.encode(id, { ...event, status: 42 })).rejects.toMatchObject({
      name: 'ConfluentSchemaRegistryValidationError',
      message: 'invalid payload',
      paths: [['/status']],
    });

    const registered = await latest(subject);
    expect(registered).toMatchObject({ subject, version: 1, id, schemaType: 'JSON' });
    const translated = translateRegistrySchema(registered, subject);
    expect(translated.schemaType).toBe('JSON');
    expect(translated.timeEncodings).toEqual({ ts: 'iso8601' });
    expect(translated.fields).toEqual([
      field('event_id', { minLength: 1, maxLength: 128 }),
      field('ts', {}),
      field('page', {}),
      field('status', { type: 'integer', minimum: 100, maximum: 599 }),
      field('latency_ms', { type: 'number', required: false, minimum: 0 }),
      field('user_id', { required: false, nullable: true }),
      field('method', { required: false, enum: ['GET', 'POST'], default: 'GET' }),
    ]);
  });

  it('registers an Avro schema, frames and reads a message, and evolves with a field that has a default', async () => {
    const subject = `${prefix}-clicks-value`;
    const v1 = {
      type: 'record',
      name: 'Click',
      namespace: 'dev.tandem.test',
      fields: [
        { name: 'event_id', type: 'string' },
        { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
        { name: 'page', type: 'string' },
        { name: 'status', type: 'int' },
        { name: 'user_id', type: ['null', 'string'], default: null },
        { name: 'method', type: { type: 'enum', name: 'Method', symbols: ['GET', 'POST'] }, default: 'GET' },
      ],
    };
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(v1) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
    const event = {
      event_id: 'e-1',
      ts: 1_764_756_900_000,
      page: '/pricing',
      status: 200,
      user_id: 'u-7',
      method: 'POST',
    };
    const encoded = await registry.encode(id, event);
    expect(encoded).toEqual(
      Buffer.concat([
        frame(id),
        avroString('e-1'),
        avroLong(1_764_756_900_000),
        avroString('/pricing'),
        avroLong(200),
        avroLong(1), // union branch 1: string
        avroString('u-7'),
        avroLong(1), // enum symbol 1: POST
      ]),
    );
    expect(await registry.decode(encoded)).toEqual(event);

    const registered = await latest(subject);
    expect(registered).toMatchObject({ subject, version: 1, id });
    // The Confluent API leaves schemaType out for Avro.
    expect(registered.schemaType ?? 'AVRO').toBe('AVRO');
    const translated = translateRegistrySchema(registered, subject);
    const v1Fields = [
      field('event_id', {}),
      field('ts', { type: 'integer' }),
      field('page', {}),
      // An Avro int is 32 bits: the bounds of its type.
      field('status', { type: 'integer', minimum: -2147483648, maximum: 2147483647 }),
      field('user_id', { required: false, nullable: true }),
      field('method', { required: false, enum: ['GET', 'POST'], default: 'GET' }),
    ];
    expect(translated.fields).toEqual(v1Fields);
    expect(translated.timeEncodings).toEqual({ ts: 'epoch_ms' });
    const stream = defineStream({
      name: 'clicks',
      schema: translated.schema,
      time: { field: 'ts', encoding: translated.timeEncodings.ts },
      idField: 'event_id',
    });
    expect(stream.fieldTypes).toEqual({
      event_id: 'string',
      ts: 'integer',
      page: 'string',
      status: 'integer',
      user_id: 'string',
      method: 'string',
    });

    // v2 adds a field with a default: BACKWARD compatible, a new id, and a v1 message still reads.
    const v2 = { ...v1, fields: [...v1.fields, { name: 'referrer', type: 'string', default: '' }] };
    const { id: id2 } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(v2) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
    expect(id2).not.toBe(id);
    const evolved = await latest(subject);
    expect(evolved).toMatchObject({ subject, version: 2, id: id2 });
    expect(translateRegistrySchema(evolved, subject).fields).toEqual([
      ...v1Fields,
      field('referrer', { required: false, default: '' }),
    ]);
    expect(await registry.decode(encoded)).toEqual(event);
    const encodedV2 = await registry.encode(id2, { ...event, referrer: 'news' });
    expect(encodedV2.subarray(0, 5)).toEqual(frame(id2));
    expect(encodedV2.subarray(5)).toEqual(Buffer.concat([encoded.subarray(5), avroString('news')]));
    expect(await registry.decode(encodedV2)).toEqual({ ...event, referrer: 'news' });
  });
});

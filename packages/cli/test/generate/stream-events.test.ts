// The schema-driven generator is checked against core's compiled validator itself: every valid,
// late or duplicate message parses to exactly the event the generator says it is, and every invalid
// one is refused with the code, field and rule it was built to break — over random schemas
// (fast-check) and over the IoT example's streams.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  compileStreamValidator,
  defineStream,
  parseEvent,
  type Stream,
  type StreamSpec,
  webStream,
} from '@tandem/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRandom } from '../../src/generate/random.ts';
import {
  canonicalEvent,
  generateStreamTraffic,
  type StreamTrafficOptions,
  type StreamTrafficRecord,
} from '../../src/generate/stream-events.ts';
import { applicableBadKinds, type StreamBadKind, streamBadKinds } from '../../src/generate/stream-poison.ts';
import { StreamTruthLedger, streamTruthEvents } from '../../src/generate/stream-truth.ts';

type Compile = typeof compileStreamValidator;

const repoRoot = resolve(import.meta.dirname, '../../../..');
const iotConfig = (
  (await import(pathToFileURL(resolve(repoRoot, 'examples/iot/tandem.config.ts')).href)) as {
    default: { streams: StreamSpec[] };
  }
).default;
// The example's streams (its views are not what this file tests).
const iotStreams = iotConfig.streams.map((spec, i) => defineStream(spec, `streams[${i}]`));
const iot = iotStreams.find((stream) => stream.name === 'iot')!;

/** Checks every record of a generated stream against the validator; returns the kinds seen. */
function checkRecords(stream: Stream, records: StreamTrafficRecord[], compile: Compile): Set<StreamBadKind> {
  const validator = compile(stream);
  const kinds = new Set<StreamBadKind>();
  const identities = new Map<string, number>();
  for (const record of records) {
    const verdict = validator.parse(record.value);
    const shown = () => Buffer.from(record.value).toString().slice(0, 300);
    if (record.label === 'bad') {
      const expected = record.bad!;
      kinds.add(expected.kind);
      if (verdict.ok || verdict.error.rule !== expected.rule || verdict.error.field !== expected.field) {
        throw new Error(
          `${stream.name}: ${expected.kind} should fail ${expected.field ?? '(message)'}/${expected.rule}, ` +
            `got ${JSON.stringify(verdict.ok ? 'ok' : verdict.error)} for ${shown()}`,
        );
      }
      expect(verdict.error.code).toBe(expected.code);
      continue;
    }
    if (!verdict.ok) {
      throw new Error(
        `${stream.name}: a ${record.label} event was refused: ${JSON.stringify(verdict.error)} for ${shown()}`,
      );
    }
    // Same fields, same values, in declaration order.
    expect(canonicalEvent(stream, verdict.event)).toBe(canonicalEvent(stream, record.event!));
    expect(Object.keys(verdict.event)).toEqual(stream.fields.map((f) => f.name));
    if (record.label !== 'duplicate') {
      // Valid and late events are distinct to the platform: unique ids, or unequal events.
      expect(identities.has(record.identity!)).toBe(false);
      identities.set(record.identity!, record.seq);
    } else {
      expect(identities.has(record.identity!)).toBe(true);
    }
  }
  return kinds;
}

const now = Date.now();
const mixed = (
  count: number,
  seed: number,
): Partial<StreamTrafficOptions> & { start: number; count: number } => ({
  seed,
  start: now - 3 * 3_600_000,
  count,
  // One event every 2 s, late ones 6-66 s behind: most of them land after the start.
  rate: 0.5,
  lateByMs: 6_000,
  maxJitterMs: 5_000,
  duplicateRatio: 0.15,
  lateRatio: 0.15,
  badRatio: 0.3,
});

describe('generateStreamTraffic', () => {
  it('is deterministic: the same options give the same bytes, another seed does not', () => {
    const bytes = (seed: number) =>
      [...generateStreamTraffic(iot, mixed(200, seed))]
        .map((r) => Buffer.from(r.value).toString())
        .join('\n');
    expect(bytes(7)).toBe(bytes(7));
    expect(bytes(8)).not.toBe(bytes(7));
  });

  it('gives the exact count, send order, unique ids and a truth that adds up', () => {
    const records = [...generateStreamTraffic(iot, mixed(300, 3))];
    const ledger = new StreamTruthLedger(iot);
    for (const record of records) ledger.observe(record);
    const truth = ledger.summary();
    expect(truth.valid).toBe(300);
    expect(truth.messages).toBe(records.length);
    expect(truth.valid + truth.late + truth.duplicates + truth.bad).toBe(records.length);
    expect(truth.late).toBeGreaterThan(10);
    expect(truth.duplicates).toBeGreaterThan(10);
    expect(truth.bad).toBeGreaterThan(40);
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i));
    for (let i = 1; i < records.length; i++)
      expect(records[i]!.sendAt).toBeGreaterThanOrEqual(records[i - 1]!.sendAt);
    const ids = streamTruthEvents(records, 'batch').map((e) => e.reading_id);
    expect(new Set(ids).size).toBe(truth.valid + truth.late);
    expect(streamTruthEvents(records, 'speed')).toHaveLength(truth.valid);
    // Optional fields are left out now and then; defaults fill them in.
    const wires = records
      .filter((r) => r.label === 'valid')
      .map((r) => JSON.parse(Buffer.from(r.value).toString()));
    expect(wires.some((w) => !('kind' in w))).toBe(true);
    expect(wires.some((w) => w.humidity === null || !('humidity' in w))).toBe(true);
    const late = records.filter((r) => r.label === 'late');
    for (const record of late) expect(record.event!.ts as number).toBeLessThan(record.sendAt - 6_000);
  });

  it('with a value pool keeps dimensions to that many values, all of them valid', () => {
    const records = [...generateStreamTraffic(iot, { ...mixed(400, 5), valuePool: 6 })];
    checkRecords(iot, records, compileStreamValidator);
    const events = streamTruthEvents(records, 'batch');
    expect(events).toHaveLength(400 + records.filter((r) => r.label === 'late').length);
    const sites = new Set(events.map((e) => e.site));
    const devices = new Set(events.map((e) => e.device));
    expect(sites.size).toBeLessThanOrEqual(6);
    expect(sites.size).toBeGreaterThan(1);
    expect(devices.size).toBeLessThanOrEqual(6);
    // The id field stays unique whatever the pool.
    expect(new Set(events.map((e) => e.reading_id)).size).toBe(events.length);
    // Without a pool, 400 readings hardly ever share a site.
    const free = streamTruthEvents([...generateStreamTraffic(iot, mixed(400, 5))], 'batch');
    expect(new Set(free.map((e) => e.site)).size).toBeGreaterThan(300);
  });

  it('with onlyBad gives only invalid events, cycling through every kind the schema can break', () => {
    const kinds = applicableBadKinds(iot, createRandom(1));
    // The IoT schema has something to break for every kind.
    expect(kinds).toEqual([...streamBadKinds]);
    const records = [
      ...generateStreamTraffic(iot, { start: now - 60_000, count: kinds.length * 2, onlyBad: true }),
    ];
    expect(records).toHaveLength(kinds.length * 2);
    expect(records.every((r) => r.label === 'bad')).toBe(true);
    expect(new Set(records.map((r) => r.bad!.kind))).toEqual(new Set(kinds));
  });

  it('refuses a schema no event can satisfy, and an id field too small for the count', () => {
    const stream = defineStream({
      name: 'tiny',
      schema: {
        properties: { ts: { type: 'integer' }, id: { type: 'string', maxLength: 1, enum: ['a', 'b'] } },
        required: ['ts', 'id'],
      },
      time: { field: 'ts', encoding: 'epoch_ms' },
      idField: 'id',
    });
    expect(() => [...generateStreamTraffic(stream, { start: now, count: 2 })]).not.toThrow();
    expect(() => [...generateStreamTraffic(stream, { start: now, count: 3 })]).toThrow(
      'the id field "id" admits only 2 distinct values',
    );
    const empty = defineStream({
      name: 'empty',
      schema: {
        properties: { ts: { type: 'integer' }, n: { type: 'integer', minimum: 0.2, maximum: 0.8 } },
        required: ['ts', 'n'],
      },
      time: { field: 'ts', encoding: 'epoch_ms' },
    });
    expect(() => [...generateStreamTraffic(empty, { start: now, count: 1 })]).toThrow(
      'field "n" has no integer between its minimum and maximum',
    );
  });
});

describe('generated events against core’s compiled validator', () => {
  const compile = compileStreamValidator;

  it.each(iotStreams.map((s) => [s.name, s] as const))(
    'the IoT example’s %s stream: valid ones parse to their events, invalid ones fail their rule',
    (_name, stream) => {
      const records = [...generateStreamTraffic(stream, mixed(1_000, 11))];
      const kinds = checkRecords(stream, records, compile);
      expect(kinds).toEqual(new Set(applicableBadKinds(stream, createRandom(1))));
      const onlyBad = [...generateStreamTraffic(stream, { start: now, count: 200, onlyBad: true, seed: 5 })];
      checkRecords(stream, onlyBad, compile);
    },
  );

  it('the web stream from its schema alone agrees with the old parseEvent too', () => {
    for (const record of generateStreamTraffic(webStream, mixed(500, 12))) {
      const verdict = parseEvent(record.value);
      if (record.label === 'bad') {
        expect(verdict.ok ? 'ok' : `${verdict.error.field}/${verdict.error.rule}`).toBe(
          `${record.bad!.field}/${record.bad!.rule}`,
        );
      } else {
        expect(verdict.ok && canonicalEvent(webStream, verdict.event)).toBe(
          canonicalEvent(webStream, record.event!),
        );
      }
    }
  });

  it('random schemas: every generated event gets the verdict it was made for', () => {
    fc.assert(
      fc.property(streamSpecArbitrary(), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (spec, seed) => {
        const stream = defineStream(spec as unknown as StreamSpec, 'random');
        const records = [...generateStreamTraffic(stream, mixed(40, seed))];
        checkRecords(stream, records, compile);
        const kinds = applicableBadKinds(stream, createRandom(seed));
        const onlyBad = [
          ...generateStreamTraffic(stream, {
            seed,
            start: now - 60_000,
            count: kinds.length * 2,
            onlyBad: true,
          }),
        ];
        const seen = checkRecords(stream, onlyBad, compile);
        expect(seen).toEqual(new Set(kinds));
      }),
      { numRuns: 150 },
    );
  });
});

// ---- random stream schemas -------------------------------------------------------------------

const fieldNames = ['a', 'b_2', 'Value', 'x', 'constructor', '__proto__', 'toString', 'n', 'long_name_field'];

type PropertySpec = Record<string, unknown>;

/** A property schema of one type with a random subset of its keywords (always satisfiable). */
function propertyArbitrary(): fc.Arbitrary<{ spec: PropertySpec; required: boolean }> {
  const bounds = (integer: boolean) =>
    fc
      .tuple(
        fc.option(
          integer
            ? fc.oneof(fc.integer({ min: -1_000, max: 1_000 }), fc.constant(-(2 ** 60)))
            : fc.oneof(
                fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
                fc.constantFrom(-1e308, 0, 1e-9),
              ),
          { nil: undefined },
        ),
        fc.option(
          integer
            ? fc.oneof(
                fc.integer({ min: -1_000, max: 1_000 }),
                fc.constantFrom(2 ** 60, 9_007_199_254_740_991),
              )
            : fc.oneof(
                fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
                fc.constantFrom(1e308, 0.5),
              ),
          { nil: undefined },
        ),
      )
      .map(([a, b]) => {
        // -0 and 0: one bound (fc.double takes -0 < 0).
        if (Object.is(a, -0)) a = 0;
        if (Object.is(b, -0)) b = 0;
        if (a !== undefined && b !== undefined && a > b) [a, b] = [b, a];
        // An integer range must hold an integer.
        if (integer && a !== undefined && b !== undefined && Math.ceil(a) > Math.floor(b)) b = Math.ceil(a);
        return { minimum: a, maximum: b };
      });
  const typed = fc.oneof(
    fc
      .tuple(
        fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
        fc.boolean(),
      )
      .chain(([min, max, withEnum]) => {
        let minLength = min;
        let maxLength = max;
        if (minLength !== undefined && maxLength !== undefined && minLength > maxLength)
          [minLength, maxLength] = [maxLength, minLength];
        const lo = minLength ?? 0;
        const hi = maxLength ?? lo + 6;
        const value = fc.string({ minLength: lo, maxLength: hi, unit: 'grapheme-ascii' });
        return fc.record({
          type: fc.constant('string'),
          minLength: fc.constant(minLength),
          maxLength: fc.constant(maxLength),
          enum: withEnum ? fc.uniqueArray(value, { minLength: 1, maxLength: 4 }) : fc.constant(undefined),
        });
      }),
    bounds(true).chain(({ minimum, maximum }) => {
      const lo = Math.max(Math.ceil(minimum ?? -1e6), -1e6);
      const hi = Math.min(Math.floor(maximum ?? 1e6), 1e6);
      const inRange = lo <= hi ? fc.integer({ min: lo, max: hi }) : fc.constant(Math.ceil(minimum!));
      return fc.record({
        type: fc.constant('integer'),
        minimum: fc.constant(minimum),
        maximum: fc.constant(maximum),
        enum: fc.option(fc.uniqueArray(inRange, { minLength: 1, maxLength: 4 }), { nil: undefined }),
      });
    }),
    bounds(false).chain(({ minimum, maximum }) =>
      fc.record({
        type: fc.constant('number'),
        minimum: fc.constant(minimum),
        maximum: fc.constant(maximum),
        enum: fc.option(
          fc.uniqueArray(
            fc.double({
              min: Math.max(minimum ?? -1e6, -1e6),
              max: Math.min(maximum ?? 1e6, 1e6),
              noNaN: true,
              noDefaultInfinity: true,
            }),
            { minLength: 1, maxLength: 3 },
          ),
          { nil: undefined },
        ),
      }),
    ),
    fc.record({
      type: fc.constant('boolean'),
      enum: fc.option(fc.constantFrom([true], [false], [true, false]), { nil: undefined }),
    }),
  );
  return fc
    .tuple(typed, fc.boolean(), fc.boolean(), fc.boolean())
    .map(([raw, required, nullable, withDefault]) => {
      const spec: PropertySpec = {};
      for (const [k, v] of Object.entries(raw))
        if (v !== undefined && !(Array.isArray(v) && v.length === 0)) spec[k] = v;
      if (Array.isArray(spec.enum) && spec.type === 'number' && spec.enum.some((v) => Object.is(v, -0)))
        spec.enum = (spec.enum as number[]).map((v) => (Object.is(v, -0) ? 0 : v));
      if (Array.isArray(spec.enum)) spec.enum = [...new Set(spec.enum as unknown[])];
      if (nullable) spec.type = [spec.type, 'null'];
      if (!required && withDefault) {
        // The default must pass the field's own rules: an enum value, or a bound, or a plain value.
        const values = spec.enum as unknown[] | undefined;
        const type = raw.type;
        const min = spec.minimum as number | undefined;
        const max = spec.maximum as number | undefined;
        const safe = Number.MAX_SAFE_INTEGER;
        spec.default =
          values?.[0] ??
          (type === 'string'
            ? 'x'.repeat((spec.minLength as number | undefined) ?? 1)
            : type === 'boolean'
              ? true
              : type === 'integer'
                ? Math.min(
                    Math.max(7, Math.max(Math.ceil(min ?? -safe), -safe)),
                    Math.min(Math.floor(max ?? safe), safe),
                  )
                : (min ?? max ?? 2.5));
        if (
          type === 'string' &&
          spec.maxLength !== undefined &&
          (spec.default as string).length > (spec.maxLength as number)
        )
          delete spec.default;
      }
      return { spec, required };
    });
}

function streamSpecArbitrary(): fc.Arbitrary<Record<string, unknown>> {
  const encodings = fc.constantFrom(
    { encoding: 'auto', type: 'string' },
    { encoding: 'auto', type: 'integer' },
    { encoding: 'iso8601', type: 'string' },
    { encoding: 'epoch_ms', type: 'integer' },
    { encoding: 'epoch_s', type: 'integer' },
    { encoding: 'epoch_s', type: 'number' },
    { encoding: 'epoch_us', type: 'integer' },
  );
  const idKind = fc.constantFrom('none', 'string', 'integer');
  return fc
    .tuple(
      fc.uniqueArray(fc.constantFrom(...fieldNames), { minLength: 1, maxLength: 6 }),
      fc.array(propertyArbitrary(), { minLength: 6, maxLength: 6 }),
      encodings,
      idKind,
      fc.nat(5),
    )
    .map(([names, properties, time, id, timePosition]) => {
      const props: Array<[string, PropertySpec]> = [];
      const required: string[] = [];
      names.forEach((name, i) => {
        const { spec, required: isRequired } = properties[i]!;
        props.push([name, spec]);
        if (isRequired) required.push(name);
      });
      const at = Math.min(timePosition, props.length);
      props.splice(at, 0, ['event_time', { type: time.type }]);
      required.push('event_time');
      let idField: string | null = null;
      if (id !== 'none') {
        props.push([
          'event_id',
          id === 'string' ? { type: 'string', minLength: 1, maxLength: 64 } : { type: 'integer' },
        ]);
        required.push('event_id');
        idField = 'event_id';
      }
      const propertyObject: Record<string, PropertySpec> = {};
      for (const [name, spec] of props)
        Object.defineProperty(propertyObject, name, { value: spec, enumerable: true });
      return {
        name: 'random',
        schema: { type: 'object', properties: propertyObject, required },
        time: { field: 'event_time', encoding: time.encoding },
        idField,
      };
    });
}

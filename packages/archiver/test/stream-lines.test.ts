// Any stream's archive lines: the fast path compiled from a stream's field list agrees with the
// stream's validator on every input (when it accepts a message, the validator accepts it with the
// same event time, and JSON.stringify of the normalized event is the message, byte for byte), and
// the SegmentBuilder writes exactly JSON.stringify of each normalized event, fields in declaration
// order, into the hour of the stream's time field.
import { compileStreamValidator, defineStream, type Stream, webStream } from '@tandem/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileCanonicalEventTime } from '../src/canonical-event.ts';
import { packBatch, SegmentBuilder } from '../src/segment-builder.ts';
import { compileStreamLines, hasWebRules } from '../src/stream-lines.ts';
import { generateIotStream, iotLine, iotPoison, iotStream } from './iot.ts';

const NOW = 2_000_000_000_000;
const options = { now: () => NOW, futureToleranceMs: 300_000, maxBytes: 65_536 };

/** A stream with every type and keyword: integer id, enum, required-nullable, defaults, ISO or epoch time. */
function miscStream(encoding: 'auto' | 'epoch_ms' | 'epoch_s' | 'iso8601'): Stream {
  return defineStream({
    name: `misc_${encoding}`,
    schema: {
      type: 'object',
      properties: {
        id: { type: 'integer', minimum: 0 },
        at: { type: encoding === 'iso8601' ? 'string' : encoding === 'epoch_s' ? 'number' : 'integer' },
        kind: { type: 'string', enum: ['a', 'b', 'c'], default: 'a' },
        label: { type: ['string', 'null'], maxLength: 8 },
        score: { type: 'number', minimum: -1, maximum: 1e9 },
        flag: { type: 'boolean', default: true },
        count: { type: 'integer', maximum: 100 },
        note: { type: 'string' },
      },
      required: ['id', 'at', 'label', 'score'],
    },
    time: { field: 'at', encoding },
    idField: 'id',
  });
}

const streams: Stream[] = [
  iotStream('iot'),
  miscStream('auto'),
  miscStream('epoch_ms'),
  miscStream('epoch_s'),
  miscStream('iso8601'),
];

const ascii = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  maxLength: 12,
});
const scalar = fc.oneof(
  ascii,
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.integer({ min: -5, max: 2_100_000_000_000 }),
  fc.double({ noNaN: true, min: -2, max: 1e22 }),
  fc.constantFrom(-0, 0, 1e21, 0.1, 100, 101, true, false, null, 'a', 'b', 'd', '', '1700000000000'),
  fc.constantFrom('2024-01-01T00:00:00Z', '2024-01-01T00:00:00.5+02:00'),
);

/** A plausible value for a field, or anything. */
function valueFor(stream: Stream, name: string): fc.Arbitrary<unknown> {
  const type = stream.fields.find((field) => field.name === name)!.type;
  const typed =
    name === stream.timeField
      ? stream.timeEncoding === 'iso8601'
        ? fc.constantFrom('2024-01-01T00:00:00Z', '2023-11-14T22:13:20.123Z')
        : stream.timeEncoding === 'epoch_s'
          ? fc.oneof(
              fc.integer({ min: 0, max: 1_900_000_000 }),
              fc.double({ min: 0, max: 1.9e9, noNaN: true }),
            )
          : fc.integer({ min: 0, max: 2_000_000_000_000 })
      : type === 'string'
        ? fc.oneof(ascii, fc.constantFrom('a', 'b', 'c'))
        : type === 'boolean'
          ? fc.boolean()
          : type === 'integer'
            ? fc.integer({ min: -3, max: 120 })
            : fc.double({ noNaN: true, min: -1, max: 1e9 });
  return fc.oneof({ arbitrary: typed, weight: 4 }, { arbitrary: scalar, weight: 1 });
}

function recordFor(stream: Stream): fc.Arbitrary<Record<string, unknown>> {
  const model = Object.fromEntries(stream.fields.map((field) => [field.name, valueFor(stream, field.name)]));
  const required = stream.fields.filter((field) => field.required).map((field) => field.name);
  return fc.oneof(
    fc.record(model, { requiredKeys: required }),
    fc.record(model, { requiredKeys: [] }),
  ) as fc.Arbitrary<Record<string, unknown>>;
}

function checker(stream: Stream): (text: string) => number | null {
  const validator = compileStreamValidator(stream);
  const fast = compileCanonicalEventTime(stream, (value, opts) => validator.validate(value, opts));
  return (text) => {
    const bytes = Buffer.from(text, 'utf8');
    const time = fast(bytes, 0, bytes.length, options, options.maxBytes);
    if (time !== null) {
      const slow = validator.parse(bytes, options);
      expect(slow.ok, text).toBe(true);
      if (slow.ok) {
        expect(slow.event[stream.timeField], text).toBe(time);
        expect(JSON.stringify(slow.event)).toBe(text);
      }
    }
    return time;
  };
}

describe('compileCanonicalEventTime', () => {
  it.for(streams.map((stream) => [stream.name, stream] as const))(
    'takes the fast path for the normalized line of every valid ASCII %s event whose normal form is its own',
    ([, stream]) => {
      const check = checker(stream);
      const validator = compileStreamValidator(stream);
      let fastPaths = 0;
      fc.assert(
        fc.property(recordFor(stream), (raw) => {
          const parsed = validator.parse(JSON.stringify(raw), options);
          if (!parsed.ok) return;
          const line = JSON.stringify(parsed.event);
          const fast = check(line);
          // The line re-validates to itself unless the time is re-encoded (epoch_s, ISO → epoch ms).
          const again = validator.parse(line, options);
          const idempotent = again.ok && JSON.stringify(again.event) === line;
          if (/^[\x20-\x7e]*$/.test(line) && !line.includes('\\') && idempotent)
            expect(fast, line).not.toBeNull();
          if (fast !== null) {
            expect(idempotent, line).toBe(true);
            fastPaths++;
          }
        }),
        { numRuns: 2000 },
      );
      // Re-encoded times (epoch_s, ISO) are their own normal form only by accident (epoch 0).
      if (stream.timeEncoding === 'auto' || stream.timeEncoding === 'epoch_ms') {
        expect(fastPaths).toBeGreaterThan(100);
      }
    },
  );

  it.for(streams.map((stream) => [stream.name, stream] as const))(
    'never disagrees with the %s validator on arbitrary, reordered, reformatted or broken messages',
    ([, stream]) => {
      const check = checker(stream);
      const validator = compileStreamValidator(stream);
      const variants = fc
        .tuple(recordFor(stream), fc.nat(), fc.integer({ min: 0, max: 8 }))
        .map(([raw, seed, how]) => {
          const parsed = validator.parse(JSON.stringify(raw), options);
          const text = parsed.ok ? JSON.stringify(parsed.event) : JSON.stringify(raw);
          switch (how) {
            case 0:
              return JSON.stringify(raw);
            case 1:
              return text;
            case 2:
              return text.slice(0, seed % (text.length + 1));
            case 3:
              return `${text} `;
            case 4:
              return text.replace(/:(\d+)/, ':$1.0');
            case 5:
              return JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(text)).reverse()));
            case 6:
              return text.replace('"', '\\"');
            case 7:
              return text.replace(/:(true|false|null)/, ':"$1"');
            default:
              return parsed.ok ? JSON.stringify({ ...parsed.event, extra: 1 }) : text;
          }
        });
      fc.assert(
        fc.property(variants, (text) => void check(text)),
        { numRuns: 3000 },
      );
    },
  );

  it('declines what the IoT validator rejects or normalizes', ({ expect }) => {
    const stream = iotStream('iot');
    const check = checker(stream);
    const reading = {
      reading_id: 'r1',
      ts: 1_700_000_000_000,
      site: 's',
      device: 'd',
      temperature_c: 21.5,
      battery_low: false,
      humidity: null,
    };
    const line = JSON.stringify(reading);
    expect(check(line)).toBe(1_700_000_000_000);
    expect(check(JSON.stringify({ ...reading, humidity: 40 }))).toBe(1_700_000_000_000);
    expect(check(JSON.stringify({ ...reading, battery_low: true }))).toBe(1_700_000_000_000);
    expect(check(JSON.stringify({ ...reading, battery_low: null }))).toBeNull(); // defaults to false
    expect(check(JSON.stringify({ ...reading, ts: '1700000000000' }))).toBeNull(); // re-encoded
    expect(check(JSON.stringify({ ...reading, temperature_c: 151 }))).toBeNull(); // invalid
    expect(check(JSON.stringify({ ...reading, ts: NOW + 3_600_000 }))).toBeNull(); // future
    expect(check(JSON.stringify({ ...reading, humidity: 'x' }))).toBeNull();
    expect(check(line.replace('21.5', '21.50'))).toBeNull();
    expect(check(line.replace('false', 'true '))).toBeNull();
    expect(check(line.replace('"s"', '"\\u0073"'))).toBeNull();
    const { humidity: _humidity, ...withoutHumidity } = reading;
    expect(check(JSON.stringify(withoutHumidity))).toBeNull(); // a field missing
    const bytes = Buffer.from(line);
    const validator = compileStreamValidator(stream);
    const fast = compileCanonicalEventTime(stream, (value, opts) => validator.validate(value, opts));
    expect(fast(bytes, 0, bytes.length, options, 20)).toBeNull(); // over maxBytes
  });
});

describe('compileStreamLines', () => {
  it('keeps the tuned web pieces for streams with the web rules only', ({ expect }) => {
    expect(hasWebRules(webStream)).toBe(true);
    expect(hasWebRules(structuredClone(webStream))).toBe(true);
    expect(hasWebRules(iotStream('iot'))).toBe(false);
  });

  it('writes JSON.stringify of each normalized IoT reading into its hour; poison is counted', ({
    expect,
  }) => {
    const stream = iotStream('iot');
    const data = generateIotStream({ valid: 2_000, partitions: 1, poisonEvery: 50 });
    const builder = new SegmentBuilder({
      stream: structuredClone(stream),
      limits: { maxRecords: 1_000_000, maxBytes: 1 << 30 },
      events: undefined,
    });
    const now = Date.now();
    const messages = [
      ...data.messages.map((message, index) => ({
        offset: String(index),
        value: Buffer.from(message.value),
      })),
      { offset: String(data.messages.length), value: null },
    ];
    const batch = builder.handle(packBatch(0, 0, now, messages));
    expect(batch.partitions[0]!.invalid).toBe(data.poison + 1);
    const sealed = builder.handle({
      kind: 'seal',
      partitions: [0],
      reason: 'stop',
      now,
      maxWaitMs: 0,
    }).sealed;
    expect(sealed).toHaveLength(1);
    const expected = new Map<number, string[]>();
    for (const message of data.messages) {
      if (message.reading === null) continue;
      const hour = Math.floor(message.reading.ts / 3_600_000) * 3_600_000;
      expected.set(hour, [...(expected.get(hour) ?? []), iotLine(message.reading)]);
    }
    const files = new Map(
      sealed[0]!.files.map((file) => [
        file.hour,
        new TextDecoder().decode(file.ndjson).split('\n').slice(0, -1),
      ]),
    );
    expect([...files.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [hour, lines] of expected) expect(files.get(hour)).toEqual(lines);
    expect(sealed[0]!.records - sealed[0]!.invalid).toBe(data.truth.size);
  });

  it('rejects every IoT poison message on both paths', ({ expect }) => {
    const lines = compileStreamLines(iotStream('iot'));
    for (const text of iotPoison(Date.now())) {
      const bytes = Buffer.from(text);
      expect(lines.canonicalTime(bytes, 0, bytes.length, {}, 65_536), text).toBeNull();
      expect(lines.parse(bytes, {}), text).toBeNull();
    }
  });
});

// The compiled TS validator of any stream: each rule of each type and time encoding rejects what it
// should with its field, rule, code and message; absent, null and default values; declaration
// order; odd field names; and it never throws. (Parity with the SQL twin: stream-staging-sql.test.ts.)
import { describe, expect, it } from 'vitest';
import { describeStreamRejection } from '../src/event-rules.ts';
import { defineStream, type Stream, type StreamSpec, type TimeEncoding } from '../src/stream.ts';
import type { StreamPropertySchema } from '../src/stream-schema.ts';
import { compileStreamValidator, epochSecondsToMs, type StreamParseResult } from '../src/stream-validator.ts';
import { webStream } from '../src/web-stream.ts';

const NOW = Date.UTC(2024, 5, 1, 12);
const options = { now: () => NOW, futureToleranceMs: 300_000 };

function streamOf(
  properties: Record<string, StreamPropertySchema>,
  required: string[],
  time: { field: string; encoding?: TimeEncoding } = { field: 'ts' },
): Stream {
  const spec: StreamSpec = {
    name: 'test_stream',
    schema: {
      type: 'object',
      properties: { ts: { type: 'integer' }, ...properties },
      required: ['ts', ...required],
    },
    time,
  };
  return defineStream(spec);
}

function verdict(result: StreamParseResult): string {
  return result.ok ? 'ok' : `${result.error.code} ${result.error.field} ${result.error.rule}`;
}

const readings = streamOf(
  {
    site: { type: 'string', minLength: 2, maxLength: 4 },
    kind: { type: 'string', enum: ['temp', 'hum'], default: 'temp' },
    count: { type: 'integer', minimum: 0, enum: [1, 2, 3] },
    big: { type: 'integer' },
    level: { type: 'number', minimum: -1.5, maximum: 1e3 },
    ok: { type: 'boolean', enum: [true] },
    on: { type: ['boolean', 'null'] },
    note: { type: 'string', nullable: true },
    flag: { type: 'boolean', default: false },
  },
  ['site', 'level', 'note'],
);
const valid = { ts: NOW - 1000, site: 'ab', level: 0.5, note: 'n' };
const check = (patch: Record<string, unknown>) =>
  verdict(compileStreamValidator(readings).validate({ ...valid, ...patch }, options));

describe('compileStreamValidator', () => {
  it('normalizes: every field in declaration order, defaults and nulls, unknown fields dropped', () => {
    const result = compileStreamValidator(readings).parse(
      JSON.stringify({ extra: 1, ...valid, level: -0 }),
      options,
    );
    expect(result).toEqual({
      ok: true,
      event: {
        ts: NOW - 1000,
        site: 'ab',
        kind: 'temp',
        count: null,
        big: null,
        level: 0,
        ok: null,
        on: null,
        note: 'n',
        flag: false,
      },
    });
    expect(Object.keys(result.ok ? result.event : {})).toEqual(readings.fields.map((f) => f.name));
    expect(Object.is(result.ok && result.event.level, 0)).toBe(true);
    expect(check({ note: null })).toBe('ok');
    // required and nullable: absent is null too (only required and not nullable refuses it)
    expect(check({ note: undefined })).toBe('ok');
    expect(check({ on: null, flag: null, kind: null })).toBe('ok');
  });

  it('checks each type rule by rule, first failing field in declaration order', () => {
    expect(check({ site: undefined })).toBe('TANDEM_ERR_EVENT_INVALID site required');
    expect(check({ site: 7 })).toBe('TANDEM_ERR_EVENT_INVALID site type');
    expect(check({ site: 'a' })).toBe('TANDEM_ERR_EVENT_INVALID site minLength');
    // code points, not UTF-16 units: one astral character is one
    expect(check({ site: '😀' })).toBe('TANDEM_ERR_EVENT_INVALID site minLength');
    expect(check({ site: '😀😀😀😀' })).toBe('ok');
    expect(check({ site: '😀😀😀😀😀' })).toBe('TANDEM_ERR_EVENT_INVALID site maxLength');
    expect(check({ kind: 'wind' })).toBe('TANDEM_ERR_EVENT_INVALID kind enum');
    expect(check({ count: 2 })).toBe('ok');
    expect(check({ count: '2' })).toBe('TANDEM_ERR_EVENT_INVALID count type');
    expect(check({ count: 2.5 })).toBe('TANDEM_ERR_EVENT_INVALID count integer');
    expect(check({ count: -1 })).toBe('TANDEM_ERR_EVENT_INVALID count minimum');
    expect(check({ count: 4 })).toBe('TANDEM_ERR_EVENT_INVALID count enum');
    // integers without bounds are still exact: ±(2^53 - 1)
    expect(check({ big: Number.MAX_SAFE_INTEGER })).toBe('ok');
    expect(check({ big: 2 ** 53 })).toBe('TANDEM_ERR_EVENT_INVALID big maximum');
    expect(check({ big: -(2 ** 53) })).toBe('TANDEM_ERR_EVENT_INVALID big minimum');
    expect(check({ level: Number.POSITIVE_INFINITY })).toBe('TANDEM_ERR_EVENT_INVALID level finite');
    expect(check({ level: -1.5 })).toBe('ok');
    expect(check({ level: -1.6 })).toBe('TANDEM_ERR_EVENT_INVALID level minimum');
    expect(check({ level: 1000.5 })).toBe('TANDEM_ERR_EVENT_INVALID level maximum');
    expect(check({ level: true })).toBe('TANDEM_ERR_EVENT_INVALID level type');
    expect(check({ ok: false })).toBe('TANDEM_ERR_EVENT_INVALID ok enum');
    expect(check({ ok: 1 })).toBe('TANDEM_ERR_EVENT_INVALID ok type');
    expect(check({ on: 'true' })).toBe('TANDEM_ERR_EVENT_INVALID on type');
    expect(check({ flag: 0 })).toBe('TANDEM_ERR_EVENT_INVALID flag type');
    expect(check({ site: 'a', count: 9, level: 'x' })).toBe('TANDEM_ERR_EVENT_INVALID site minLength');
    expect(check({ count: 9, level: 'x' })).toBe('TANDEM_ERR_EVENT_INVALID count enum');
  });

  it('reads each time encoding, rejects the others, and normalizes to epoch ms', () => {
    const at = Date.UTC(2024, 5, 1, 11, 0, 0, 250);
    const cases: Array<[TimeEncoding, 'string' | 'integer' | 'number', unknown, string | number]> = [
      ['auto', 'string', '2024-06-01T11:00:00.250Z', at],
      ['auto', 'string', String(at), at],
      ['auto', 'integer', at, at],
      ['auto', 'string', at + 0.5, 'integer'],
      ['auto', 'string', '1e12', 'format'],
      ['auto', 'string', true, 'type'],
      ['iso8601', 'string', '2024-06-01T13:00:00.250+02:00', at],
      ['iso8601', 'string', String(at), 'format'],
      ['iso8601', 'string', at, 'type'],
      ['epoch_ms', 'integer', at, at],
      ['epoch_ms', 'integer', String(at), at],
      ['epoch_ms', 'integer', '2024-06-01T11:00:00.250Z', 'format'],
      ['epoch_ms', 'integer', 1.5, 'integer'],
      ['epoch_s', 'number', at / 1000, at],
      ['epoch_s', 'number', 1.001, 1001],
      ['epoch_s', 'number', 1717239600.2509, at],
      ['epoch_s', 'number', 0.0005, 0],
      ['epoch_s', 'number', '1717239600', 'type'],
      ['epoch_s', 'integer', 1717239600, at - 250],
      ['epoch_s', 'integer', 1717239600.25, 'integer'],
      ['epoch_us', 'integer', at * 1000 + 999, at],
      ['epoch_us', 'integer', at * 1000 + 0.5, 'integer'],
      ['epoch_us', 'integer', String(at * 1000), 'type'],
      ['epoch_us', 'integer', -1, 'minimum'],
      ['epoch_ms', 'integer', -1, 'minimum'],
      ['epoch_ms', 'integer', NOW + 300_000, NOW + 300_000],
      ['epoch_ms', 'integer', NOW + 300_001, 'future'],
      ['epoch_s', 'number', (NOW + 300_001) / 1000, 'future'],
      ['epoch_ms', 'integer', -0, 0],
      ['epoch_ms', 'integer', null, 'required'],
    ];
    for (const [encoding, type, value, expected] of cases) {
      const stream = streamOf({ ts: { type } }, [], { field: 'ts', encoding });
      const result = compileStreamValidator(stream).validate({ ts: value }, options);
      const got = result.ok
        ? result.event.ts
        : result.error.field === 'ts'
          ? result.error.rule
          : verdict(result);
      expect({ encoding, type, value, got }).toEqual({ encoding, type, value, got: expected });
      if (got === 0) expect(Object.is(got, 0)).toBe(true);
    }
    expect(epochSecondsToMs(1.001)).toBe(1001);
    expect(epochSecondsToMs(1.0019)).toBe(1001);
    expect(epochSecondsToMs(-0.0005)).toBe(-1);
  });

  it('reads fields named like Object.prototype members as own properties only', () => {
    const stream = defineStream({
      name: 'odd_names',
      schema: {
        type: 'object',
        properties: JSON.parse(
          '{"ts":{"type":"integer"},"constructor":{"type":"string"},"__proto__":{"type":"integer","default":7},"toString":{"type":"string","default":"x"}}',
        ),
        required: ['ts', 'constructor'],
      },
      time: { field: 'ts', encoding: 'epoch_ms' },
    });
    const validator = compileStreamValidator(stream);
    expect(verdict(validator.parse('{"ts":1}', options))).toBe(
      'TANDEM_ERR_EVENT_INVALID constructor required',
    );
    const result = validator.parse('{"ts":1,"constructor":"c","__proto__":3}', options);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(Object.getPrototypeOf(result.event)).toBe(Object.prototype);
      expect(Object.entries(result.event)).toEqual([
        ['ts', 1],
        ['constructor', 'c'],
        ['__proto__', 3],
        ['toString', 'x'],
      ]);
    }
    const defaulted = validator.parse('{"ts":1,"constructor":"c"}', options);
    expect(defaulted.ok && Object.entries(defaulted.event)).toEqual([
      ['ts', 1],
      ['constructor', 'c'],
      ['__proto__', 7],
      ['toString', 'x'],
    ]);
  });

  it('never throws, whatever it is given', () => {
    const validator = compileStreamValidator(readings);
    for (const value of [
      undefined,
      null,
      0,
      'x',
      [],
      [valid],
      () => 1,
      Symbol('s'),
      new Map(),
      Object.create(null),
    ]) {
      expect(() => validator.validate(value, options)).not.toThrow();
    }
    for (const text of ['', '{', '[]', 'null', '"x"', '{"a":"\\ud800"}', '\uFEFF{}', '{"site":"ab"']) {
      expect(validator.parse(text, options).ok).toBe(false);
    }
    expect(verdict(validator.parse(new Uint8Array([0x7b, 0xff, 0x7d]), options))).toBe(
      'TANDEM_ERR_EVENT_INVALID_UTF8 null utf8',
    );
    expect(
      verdict(
        validator.parse(JSON.stringify({ ...valid, note: 'x'.repeat(100) }), { ...options, maxBytes: 64 }),
      ),
    ).toBe('TANDEM_ERR_EVENT_TOO_LARGE null size');
  });

  it('is compiled once per stream object', () => {
    expect(compileStreamValidator(readings)).toBe(compileStreamValidator(readings));
    expect(compileStreamValidator(webStream).stream).toBe(webStream);
  });

  it('explains a rejection with the field, the rule and what the field expects', () => {
    const message = (patch: Record<string, unknown>) => {
      const result = compileStreamValidator(readings).validate({ ...valid, ...patch }, options);
      if (result.ok) throw new Error('accepted');
      expect(result.error.message).toBe(
        describeStreamRejection(readings, result.error.field, result.error.rule),
      );
      return result.error.message;
    };
    expect(message({ site: 'abcdefg' })).toBe(
      'event field "site" is too long; expected a string of 2-4 characters',
    );
    expect(message({ kind: 'wind' })).toBe(
      'event field "kind" is not one of the allowed values; expected one of "temp", "hum"',
    );
    expect(message({ big: 2 ** 53 })).toBe(
      'event field "big" is above its maximum; expected an integer from -9007199254740991 to 9007199254740991',
    );
    expect(message({ level: 2000 })).toBe(
      'event field "level" is above its maximum; expected a finite number from -1.5 to 1000',
    );
    expect(message({ site: undefined })).toBe(
      'event field "site" is required; expected a string of 2-4 characters',
    );
    expect(message({ note: 5 })).toBe(
      'event field "note" has the wrong JSON type; expected a string, or null',
    );
    expect(message({ ok: 'yes' })).toBe('event field "ok" has the wrong JSON type; expected true or false');
    expect(message({ ts: 'soon' })).toBe(
      'event field "ts" is not a timestamp of the expected form; expected ISO-8601 with zone or epoch milliseconds, not before 1970 and not in the future',
    );
    const seconds = streamOf({ ts: { type: 'number' } }, [], { field: 'ts', encoding: 'epoch_s' });
    expect(describeStreamRejection(seconds, 'ts', 'type')).toBe(
      'event field "ts" has the wrong JSON type; expected epoch seconds (a number, kept to the millisecond), not before 1970 and not in the future',
    );
    expect(describeStreamRejection(webStream, 'endpoint', 'maxLength')).toBe(
      'event field "endpoint" is too long; expected a string of 1-512 characters',
    );
    expect(describeStreamRejection(webStream, null, 'json')).toBe(
      'event rejected: the message is not valid JSON',
    );
  });
});

// fast-check generators for the stream validators' parity test: random stream schemas (field sets,
// types, keywords, required / nullable, defaults, enums, every time encoding, an optional id field)
// and, per schema, random raw lines around it — valid values and exact boundaries, values just past
// each bound, wrong JSON types, absent fields and nulls, escapes, big numbers, fractions where
// integers belong, timestamps of every encoding, broken JSON and non-objects.
import fc from 'fast-check';
import type { StreamSpec, TimeEncoding } from '../../src/stream.ts';
import {
  keywordViolation,
  type StreamField,
  type StreamPropertySchema,
  type StreamScalar,
} from '../../src/stream-schema.ts';
import { isoTokens, mutations, NOW, numberTokens, otherTokens, TOLERANCE } from './web-event-lines.ts';

/**
 * Field names, unique ignoring case; some are names Object.prototype has (a validator reading
 * `raw.constructor` would find a function on every event).
 */
const fieldNamePool = [
  'a',
  'b',
  'c',
  'Dd',
  'e_1',
  'qty',
  'flag',
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
];
const timeNamePool = ['ts', 'time', 'at'];

const stringPool = [
  '',
  'a',
  'ab',
  'abc',
  'é',
  'e\u0301',
  '😀',
  '😀😀',
  'x"y',
  'back\\slash',
  'tab\t',
  'zz',
  'GET',
];
const integerPool = [0, 1, -1, 2, 5, 100, -100, 599, 9007199254740991, -9007199254740991];
const numberPool = [0, 0.1, -2.5, 3, 1e21, 1e-7, 86_400_000, 12.5];

type FieldKind = 'string' | 'integer' | 'number' | 'boolean';

const optionalNumber = (values: number[]) => fc.option(fc.constantFrom(...values), { nil: undefined });
/** `arb` once in `1 + misses` draws, else undefined (fc.option's freq is the odds of nil). */
const sometimes = <T>(arb: fc.Arbitrary<T>, misses: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: misses, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

/** One property's schema for a field of `type`: random keywords, consistent by construction. */
function propertyArb(type: FieldKind): fc.Arbitrary<Omit<StreamPropertySchema, 'type'>> {
  switch (type) {
    case 'string':
      return fc
        .record({
          minLength: optionalNumber([0, 1, 2, 3]),
          maxLength: optionalNumber([1, 2, 3, 5, 10]),
          enum: sometimes(fc.uniqueArray(fc.constantFrom(...stringPool), { minLength: 1, maxLength: 4 }), 3),
        })
        .map((p) =>
          p.minLength !== undefined && p.maxLength !== undefined && p.minLength > p.maxLength
            ? { ...p, minLength: p.maxLength }
            : p,
        );
    case 'integer':
      return fc
        .record({
          minimum: optionalNumber([-5, 0, 1, 100, 2.5, -1e3, 1e20, -9007199254740991]),
          maximum: optionalNumber([0, 5, 599, 1e3, 7.5, 9007199254740991, 1e20]),
          enum: sometimes(fc.uniqueArray(fc.constantFrom(...integerPool), { minLength: 1, maxLength: 4 }), 3),
        })
        .map((p) =>
          p.minimum !== undefined && p.maximum !== undefined && p.minimum > p.maximum
            ? { ...p, minimum: p.maximum }
            : p,
        );
    case 'number':
      return fc
        .record({
          minimum: optionalNumber([-1.5, 0, 0.1, 1e3]),
          maximum: optionalNumber([0, 1, 86_400_000, 1e300]),
          enum: sometimes(fc.uniqueArray(fc.constantFrom(...numberPool), { minLength: 1, maxLength: 4 }), 3),
        })
        .map((p) =>
          p.minimum !== undefined && p.maximum !== undefined && p.minimum > p.maximum
            ? { ...p, minimum: p.maximum }
            : p,
        );
    case 'boolean':
      return fc.record({
        enum: sometimes(fc.constantFrom([true], [false], [true, false]), 3),
      });
  }
}

const defaultCandidates: Record<FieldKind, readonly StreamScalar[]> = {
  string: stringPool,
  integer: integerPool,
  number: numberPool,
  boolean: [true, false],
};

interface FieldDraft {
  name: string;
  type: FieldKind;
  required: boolean;
  nullable: 'no' | 'keyword' | 'type';
  keywords: Omit<StreamPropertySchema, 'type'>;
  defaultPick: number | null;
}

const fieldDraftArb = (name: string): fc.Arbitrary<FieldDraft> =>
  fc.constantFrom<FieldKind>('string', 'integer', 'number', 'boolean').chain((type) =>
    fc.record({
      name: fc.constant(name),
      type: fc.constant(type),
      required: fc.boolean(),
      nullable: fc.constantFrom<FieldDraft['nullable']>('no', 'no', 'keyword', 'type'),
      keywords: propertyArb(type),
      defaultPick: fc.option(fc.nat(20)),
    }),
  );

/** The first candidate default (from `pick` on) that the field's own keywords accept, or undefined. */
function pickDefault(draft: FieldDraft, property: StreamPropertySchema): StreamScalar | undefined {
  if (draft.required || draft.defaultPick === null) return undefined;
  const field: StreamField = {
    name: draft.name,
    type: draft.type,
    required: false,
    nullable: false,
    minLength: property.minLength ?? null,
    maxLength: property.maxLength ?? null,
    minimum: property.minimum ?? null,
    maximum: property.maximum ?? null,
    enum: property.enum ?? null,
    default: null,
  };
  const candidates = [...(property.enum ?? []), ...defaultCandidates[draft.type]];
  for (let k = 0; k < candidates.length; k++) {
    const value = candidates[(draft.defaultPick + k) % candidates.length] as StreamScalar;
    if (keywordViolation(field, value) === null) return value;
  }
  return undefined;
}

const timeTypes: Record<TimeEncoding, readonly FieldKind[]> = {
  auto: ['string', 'integer'],
  iso8601: ['string'],
  epoch_ms: ['integer'],
  epoch_s: ['integer', 'number'],
  epoch_us: ['integer'],
};

/** Random stream declarations that defineStream accepts. */
export const streamSpecArb: fc.Arbitrary<StreamSpec> = fc
  .record({
    names: fc.uniqueArray(fc.constantFrom(...fieldNamePool), { minLength: 1, maxLength: 6 }),
    timeName: fc.constantFrom(...timeNamePool),
    timeAt: fc.nat(6),
    encoding: fc.constantFrom<TimeEncoding>('auto', 'iso8601', 'epoch_ms', 'epoch_s', 'epoch_us'),
    timeTypePick: fc.nat(1),
    wantId: fc.boolean(),
  })
  .chain(({ names, timeName, timeAt, encoding, timeTypePick, wantId }) =>
    fc.tuple(...names.map(fieldDraftArb)).map((drafts) => {
      const properties: Record<string, StreamPropertySchema> = {};
      const required: string[] = [];
      const timeIndex = Math.min(timeAt, drafts.length);
      const allowed = timeTypes[encoding];
      const timeType = allowed[timeTypePick % allowed.length] as FieldKind;
      const order: Array<FieldDraft | 'time'> = [...drafts];
      order.splice(timeIndex, 0, 'time');
      for (const draft of order) {
        if (draft === 'time') {
          properties[timeName] = { type: timeType };
          required.push(timeName);
          continue;
        }
        const base: StreamPropertySchema = {
          type: draft.nullable === 'type' ? [draft.type, 'null'] : draft.type,
          ...(draft.nullable === 'keyword' ? { nullable: true } : {}),
        };
        for (const [keyword, value] of Object.entries(draft.keywords)) {
          if (value !== undefined) (base as unknown as Record<string, unknown>)[keyword] = value;
        }
        const fallback = pickDefault(draft, base);
        // Defined with defineProperty: a `__proto__` key must be a property, not the prototype.
        Object.defineProperty(properties, draft.name, {
          value: fallback === undefined ? base : { ...base, default: fallback },
          enumerable: true,
          writable: true,
          configurable: true,
        });
        if (draft.required) required.push(draft.name);
      }
      const idCandidate = drafts.find(
        (d) => d.required && d.nullable === 'no' && (d.type === 'string' || d.type === 'integer'),
      );
      return {
        name: 'random_stream',
        schema: { type: 'object' as const, properties, required },
        time: { field: timeName, encoding },
        idField: wantId && idCandidate !== undefined ? idCandidate.name : null,
      } satisfies StreamSpec;
    }),
  );

const str = (s: string) => JSON.stringify(s);
/** A string as JSON with its non-ASCII characters written as \u escapes (same value, other text). */
const escaped = (s: string) =>
  str(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const wrongTypeTokens = ['true', 'false', '[]', '{}', '[1]', '{"a":1}', '"x"', '"1"', '7', '1.5', '"true"'];

function stringOfLength(n: number, unit: string): string {
  return unit.repeat(n);
}

/** JSON tokens for a non-time field: mostly valid (exact bounds included), some just outside. */
function fieldTokenArb(field: StreamField): fc.Arbitrary<string> {
  const valid: Array<fc.Arbitrary<string>> = [];
  const invalid: Array<fc.Arbitrary<string>> = [fc.constantFrom(...wrongTypeTokens)];
  switch (field.type) {
    case 'string': {
      const min = field.minLength ?? 0;
      const max = field.maxLength ?? min + 4;
      const unit = fc.constantFrom('a', 'é', '😀', 'e\u0301', '"', '\\', '\n', '/');
      valid.push(
        fc.tuple(fc.integer({ min, max }), unit).map(([n, u]) => str(stringOfLength(n, u))),
        fc.tuple(fc.integer({ min, max }), unit).map(([n, u]) => escaped(stringOfLength(n, u))),
      );
      if (min > 0) invalid.push(unit.map((u) => str(stringOfLength(min - 1, u))));
      if (field.maxLength !== null) invalid.push(unit.map((u) => str(stringOfLength(max + 1, u))));
      if (field.enum !== null) {
        valid.length = 0;
        valid.push(fc.constantFrom(...(field.enum as string[])).map(str));
        valid.push(fc.constantFrom(...(field.enum as string[])).map(escaped));
        invalid.push(fc.constantFrom(...stringPool).map(str));
      }
      invalid.push(fc.constantFrom(...numberTokens));
      break;
    }
    case 'integer':
    case 'number': {
      const integer = field.type === 'integer';
      const limit = integer ? Number.MAX_SAFE_INTEGER : 1e308;
      const lo = Math.max(field.minimum ?? -limit, -limit);
      const hi = Math.min(field.maximum ?? limit, limit);
      const inside = [
        lo,
        hi,
        Math.ceil(lo),
        Math.floor(hi),
        0,
        1,
        -1,
        100,
        0.5,
        2.5,
        1e-7,
        123456.789,
      ].filter((x) => x >= lo && x <= hi && (!integer || Number.isInteger(x)));
      const outside = [lo - 1, hi + 1, lo - 0.5, hi + 0.5, 2 ** 53, -(2 ** 53), 1e300, -1e300];
      if (inside.length > 0) {
        valid.push(fc.constantFrom(...inside).map((x) => JSON.stringify(x)));
        // Other spellings of the same number: 5.0, 5e0, -0.
        valid.push(
          fc
            .constantFrom(...inside)
            .map((x) => (Number.isInteger(x) && Math.abs(x) < 1e15 ? `${x}.0` : String(x))),
        );
      }
      if (lo <= 0 && hi >= 0) valid.push(fc.constant('-0'));
      const [from, to] = [Math.ceil(Math.max(lo, -1e6)), Math.floor(Math.min(hi, 1e6))];
      if (from <= to) valid.push(fc.integer({ min: from, max: to }).map(String));
      if (!integer && lo <= 1e6 && hi >= -1e6) {
        valid.push(
          fc
            .double({ min: Math.max(lo, -1e6), max: Math.min(hi, 1e6), noNaN: true, noDefaultInfinity: true })
            .map((x) => JSON.stringify(x)),
        );
      }
      invalid.push(
        fc.constantFrom(...outside).map((x) => JSON.stringify(x)),
        fc.constantFrom(...numberTokens),
        fc.constantFrom('1e400', '-1e400', '9007199254740993', '123456789012345678901234567890'),
      );
      if (integer) invalid.push(fc.constantFrom('0.5', '1.5', '-2.25', '1e-7'));
      if (field.enum !== null) {
        valid.length = 0;
        valid.push(fc.constantFrom(...(field.enum as number[])).map((x) => JSON.stringify(x)));
        invalid.push(fc.constantFrom(...numberPool, ...integerPool).map((x) => JSON.stringify(x)));
      }
      break;
    }
    case 'boolean':
      valid.push(fc.constantFrom(...((field.enum as boolean[] | null) ?? [true, false])).map(String));
      invalid.push(fc.constantFrom('true', 'false', '"true"', '0', '1', 'null'));
      break;
  }
  if (valid.length === 0) valid.push(fc.constantFrom(...wrongTypeTokens));
  return fc.oneof(
    { weight: 30, arbitrary: fc.oneof(...valid) },
    { weight: 2, arbitrary: fc.oneof(...invalid) },
    { weight: 1, arbitrary: fc.constantFrom(...otherTokens, ...numberTokens) },
  );
}

/** JSON tokens for the event-time field: every encoding's forms, valid and not. */
function timeTokenArb(encoding: TimeEncoding): fc.Arbitrary<string> {
  const ms = fc.integer({ min: 0, max: NOW + TOLERANCE });
  const validByEncoding: Record<TimeEncoding, fc.Arbitrary<string>> = {
    auto: fc.oneof(
      ms.map(String),
      ms.map((n) => str(new Date(n).toISOString())),
      ms.map((n) => str(String(n))),
    ),
    iso8601: fc.oneof(
      ms.map((n) => str(new Date(n).toISOString())),
      fc.constantFrom('"2024-03-10T10:00:00.123456789+05:30"', '"2024-02-29T12:00:00Z"'),
    ),
    epoch_ms: fc.oneof(
      ms.map(String),
      ms.map((n) => str(String(n))),
      fc.constant('1.71006480e12'),
    ),
    epoch_s: fc.oneof(
      fc.integer({ min: 0, max: Math.floor((NOW + TOLERANCE) / 1000) }).map(String),
      ms.map((n) => String(n / 1000)),
      fc.constantFrom('1.001', '1710064800.123', '1710064800.1239', '0.0005', '1e9'),
    ),
    epoch_us: fc.oneof(
      fc.integer({ min: 0, max: NOW + TOLERANCE }).map((n) => `${n}000`),
      fc
        .integer({ min: 0, max: NOW + TOLERANCE })
        .map((n) => `${n}${Math.floor((n % 997) + 1)}`.slice(0, 16)),
      fc.constantFrom('999', '1000', '1001'),
    ),
  };
  const anyForm = fc.oneof(
    fc.constantFrom(...isoTokens).map(str),
    fc.constantFrom(...numberTokens),
    fc.constantFrom(
      String(NOW + TOLERANCE),
      String(NOW + TOLERANCE + 1),
      String((NOW + TOLERANCE) / 1000),
      String((NOW + TOLERANCE + 1) / 1000),
      `${NOW + TOLERANCE}000`,
      `${NOW + TOLERANCE}001`,
      `${NOW + TOLERANCE + 1}000`,
      '-1',
      '-0.0005',
      '1710064800000.5',
      '1e400',
      'true',
      '[1]',
      '{"ms":1}',
      '"1e12"',
      '"0001710064800000"',
    ),
  );
  return fc.oneof({ weight: 10, arbitrary: validByEncoding[encoding] }, { weight: 2, arbitrary: anyForm });
}

/** Random raw lines for one stream (well-formed Unicode: a DuckDB VARCHAR can hold nothing else). */
export function streamLinesArb(
  fields: readonly StreamField[],
  timeField: string,
  encoding: TimeEncoding,
): fc.Arbitrary<string[]> {
  const tokenArbs = fields.map((f) => (f.name === timeField ? timeTokenArb(encoding) : fieldTokenArb(f)));
  // Per field: a token, or absent, or null.
  const entryArb = fc.tuple(
    ...tokenArbs.map((arb) =>
      fc.oneof(
        { weight: 20, arbitrary: arb },
        { weight: 1, arbitrary: fc.constant<string | undefined>(undefined) },
        { weight: 1, arbitrary: fc.constant('null') },
      ),
    ),
  );
  const objectLine = fc
    .record({
      tokens: entryArb,
      // canonical: declaration order, no spaces (the staging SQL's fast path); else shuffled or spaced
      layout: fc.constantFrom('canonical', 'canonical', 'canonical', 'shuffled', 'spaced'),
      extra: sometimes(fc.constantFrom('"extra":1', '"extra":{"a":[1,null]}', '"A":"case"'), 5),
      seed: fc.nat(),
      mutation: sometimes(fc.nat(mutations.length - 1), 8),
    })
    .map(({ tokens, layout, extra, seed, mutation }) => {
      const entries = fields
        .map((f, i) => [f.name, tokens[i]] as const)
        .filter((e): e is readonly [string, string] => e[1] !== undefined)
        .map(([name, token]) => `${str(name)}:${token}`);
      if (extra !== undefined) entries.splice(seed % (entries.length + 1), 0, extra);
      if (layout === 'shuffled')
        entries.sort((x, y) => ((x.length * 31 + seed) % 7) - ((y.length * 31 + seed) % 7));
      const line = layout === 'spaced' ? `{ ${entries.join(', ')} }` : `{${entries.join(',')}}`;
      return mutation === undefined ? line : (mutations[mutation] as (l: string) => string)(line);
    });
  const other = fc.constantFrom(
    '',
    ' ',
    '[]',
    'null',
    '"x"',
    '{}',
    '{"a":1,}',
    '{"a":NaN}',
    '{"a":"\\ud800"}',
    '[{}]',
    '1',
    'NaN',
    ' -Infinity',
    '[nan]',
    '[1,]',
  );
  return fc
    .array(fc.oneof({ weight: 20, arbitrary: objectLine }, { weight: 1, arbitrary: other }), {
      minLength: 20,
      maxLength: 60,
    })
    .map((lines) => lines.filter((line) => line.isWellFormed()));
}

// Raw web-event lines for the parity tests (fast-check): valid events, then fields replaced by wild
// values, removed or nulled; the canonical serialization producers write (the staging SQL's fast
// path) with values that still break rules; mutations that break JSON, escapes and surrogates.
import fc from 'fast-check';
import { stringArb } from './arbitraries.ts';

/** The clock and tolerance the lines are drawn around. */
export const NOW = Date.UTC(2024, 5, 1, 12);
export const TOLERANCE = 300_000;

const str = (s: string) => JSON.stringify(s);

export const isoTokens = [
  '2024-03-10T10:00:00Z',
  '2024-03-10T10:00:00.1Z',
  '2024-03-10T10:00:00.123456789+05:30',
  '2024-03-10T23:59:59.999-00:00',
  '2024-03-10T10:00:00+23:59',
  '2024-03-10T10:00:00+24:00',
  '2024-03-10T10:00:00+05:60',
  '2024-02-29T12:00:00Z',
  '2023-02-29T12:00:00Z',
  '2000-02-29T00:00:00Z',
  '1900-02-29T00:00:00Z',
  '2024-04-31T00:00:00Z',
  '2024-13-01T00:00:00Z',
  '2024-00-10T00:00:00Z',
  '2024-03-00T00:00:00Z',
  '2024-03-10T24:00:00Z',
  '2024-03-10T10:60:00Z',
  '2024-03-10T10:00:60Z',
  '2024-03-10t10:00:00z',
  '2024-03-10 10:00:00Z',
  '2024-03-10T10:00:00',
  '2024-03-10T10:00Z',
  '2024-03-10T10:00:00.Z',
  '2024-03-10T10:00:00.1234567890Z',
  '2024-03-10T10:00:00+0530',
  ' 2024-03-10T10:00:00Z',
  '1970-01-01T00:00:00Z',
  '1970-01-01T00:00:00+00:01',
  '1969-12-31T23:59:59.999Z',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '2024-06-01T12:04:59.999Z',
  '2024-06-01T12:05:00.001Z',
  '１２３',
  '1710064800000',
  '0001710064800000',
  '1717243500001',
  '1e12',
  '-1',
  '',
];

export const numberTokens = [
  '0',
  '-0',
  '1',
  '200',
  '200.0',
  '2e2',
  '99',
  '100',
  '599',
  '600',
  '1.5',
  '-1',
  '-0.5',
  '1e400',
  '-1e400',
  '0.1',
  '1710064800000',
  '1.71006480e12',
  '1710064800000.5',
  '1717243500000',
  '1717243500001',
  '9007199254740991',
  '9007199254740993',
  '123456789012345678901234567890',
  '1e-7',
  '86400000',
  '86400000.5',
  '1e308',
];

export const otherTokens = ['true', 'false', 'null', '[]', '{}', '[1,"x"]', '{"a":1}'];

export const longStrings = [
  'x'.repeat(128),
  'x'.repeat(129),
  '😀'.repeat(128),
  '😀'.repeat(129),
  'é'.repeat(32),
  'é'.repeat(33),
  'y'.repeat(256),
  'y'.repeat(257),
  'z'.repeat(512),
  'z'.repeat(513),
];

export const anyToken: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...numberTokens),
  fc.constantFrom(...otherTokens),
  stringArb.map(str),
  fc.constantFrom(...longStrings).map(str),
  fc.constantFrom(...isoTokens).map(str),
);

/** Tokens of a valid event, field by field (undefined = absent). */
const validFieldArbs: Record<string, fc.Arbitrary<string | undefined>> = {
  event_id: fc
    .oneof(
      fc.constantFrom('e1', 'évent', '😀'.repeat(128)),
      stringArb.filter((x) => x.length > 0),
    )
    .map(str),
  timestamp: fc.oneof(
    fc.integer({ min: 0, max: NOW + TOLERANCE }).map(String),
    fc.integer({ min: 0, max: NOW + TOLERANCE }).map((n) => str(new Date(n).toISOString())),
    fc.integer({ min: 0, max: NOW + TOLERANCE }).map((n) => str(String(n))),
    fc.constantFrom('"2024-03-10T10:00:00.123456789+05:30"', '"2024-02-29T12:00:00Z"', '1.71006480e12'),
  ),
  endpoint: fc
    .oneof(
      fc.constantFrom('/a', '/b'),
      stringArb.filter((x) => x.length > 0),
    )
    .map(str),
  method: fc.option(fc.constantFrom('GET', 'POST', 'x'.repeat(32)).map(str), { nil: undefined }),
  status_code: fc.oneof(fc.integer({ min: 100, max: 599 }).map(String), fc.constantFrom('200.0', '2e2')),
  response_time_ms: fc.oneof(
    fc.double({ min: 0, max: 1e6, noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)),
    fc.constantFrom('0', '-0', '1e-7', '12.5'),
  ),
  bytes_sent: fc.option(
    fc.oneof(fc.integer({ min: 0, max: 1e9 }).map(String), fc.constantFrom('null', '9007199254740991')),
    {
      nil: undefined,
    },
  ),
  user_id: fc.option(stringArb.map(str), { nil: undefined }),
  session_id: fc.option(stringArb.map(str), { nil: undefined }),
  page_id: fc.option(fc.oneof(stringArb.map(str), fc.constant('null')), { nil: undefined }),
};

/** Tokens of a plausible-but-maybe-wrong value per field. */
const wildFieldArbs: Record<string, fc.Arbitrary<string>> = {
  event_id: fc.oneof(fc.constantFrom(...longStrings).map(str), anyToken),
  timestamp: fc.oneof(fc.constantFrom(...isoTokens).map(str), fc.constantFrom(...numberTokens), anyToken),
  endpoint: fc.oneof(fc.constantFrom(...longStrings).map(str), anyToken),
  method: fc.oneof(fc.constantFrom('', 'x'.repeat(33)).map(str), anyToken),
  status_code: fc.oneof(fc.constantFrom(...numberTokens), anyToken),
  response_time_ms: fc.oneof(fc.constantFrom(...numberTokens), anyToken),
  bytes_sent: fc.oneof(fc.constantFrom(...numberTokens), anyToken),
  user_id: fc.oneof(fc.constantFrom(...longStrings).map(str), anyToken),
  session_id: anyToken,
  page_id: anyToken,
};

const fieldNames = Object.keys(validFieldArbs);

/**
 * An object's fields as JSON tokens: a valid event, then 0-2 fields replaced by a wild value,
 * removed or set to null; sometimes an extra unknown field.
 */
const objectArb: fc.Arbitrary<Array<[string, string]>> = fc
  .tuple(
    fc.record(validFieldArbs),
    fc.array(
      fc.tuple(
        fc.constantFrom(...fieldNames),
        fc.oneof({ weight: 3, arbitrary: fc.constant('wild') }, fc.constantFrom('absent', 'null')),
      ),
      { maxLength: 2 },
    ),
    fc.option(anyToken, { freq: 4 }),
  )
  .chain(([valid, perturbations, extra]) =>
    fc
      .tuple(...perturbations.map(([field]) => wildFieldArbs[field] as fc.Arbitrary<string>))
      .map((wildValues) => {
        const fields: Record<string, string | undefined> = { ...valid };
        perturbations.forEach(([field, how], i) => {
          fields[field] = how === 'wild' ? wildValues[i] : how === 'null' ? 'null' : undefined;
        });
        if (extra !== null) fields.extra = extra;
        return Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined);
      }),
  );

/**
 * What producers send: JSON.stringify of an object with the fields in schema order, some optional
 * ones left out or null, plain values — the staging SQL's fast path. Values still break rules
 * (lengths, ranges, future, calendar, types), so the fast path's rejections are checked too.
 */
const plainString = fc.string({
  unit: fc.constantFrom('a', 'b', '/', '-', '_', '1', 'é', '😀', ' '),
  maxLength: 6,
});
const mostly = <T>(valid: fc.Arbitrary<T>, ...others: Array<fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 12, arbitrary: valid }, ...others.map((arbitrary) => ({ weight: 1, arbitrary })));
export const canonicalLineArb: fc.Arbitrary<string> = fc
  .record({
    event_id: mostly(
      plainString.filter((x) => x.length > 0),
      fc.constantFrom('', 'x'.repeat(129), '😀'.repeat(128)),
      fc.integer(),
    ),
    timestamp: mostly(
      fc.oneof(
        fc.integer({ min: 0, max: NOW + TOLERANCE }),
        fc.integer({ min: 0, max: NOW + TOLERANCE }).map((n) => new Date(n).toISOString()),
      ),
      fc.constantFrom(...isoTokens),
      fc.constantFrom(-1, 1.5, NOW + TOLERANCE + 1),
    ),
    endpoint: mostly(
      plainString.filter((x) => x.length > 0),
      fc.constantFrom('', 'z'.repeat(513)),
      fc.boolean(),
    ),
    method: fc.option(
      mostly(fc.constantFrom('GET', 'POST'), fc.constantFrom('', 'x'.repeat(33)), fc.integer()),
      {
        nil: undefined,
      },
    ),
    status_code: mostly(
      fc.integer({ min: 100, max: 599 }),
      fc.integer({ min: 0, max: 1000 }),
      fc.constantFrom(200.5, '200'),
    ),
    response_time_ms: mostly(
      fc.oneof(
        fc.double({ min: 0, max: 1e6, noNaN: true, noDefaultInfinity: true }),
        fc.integer({ min: 0, max: 1e6 }),
      ),
      fc.double({ min: -10, max: 0, noNaN: true }),
      fc.constantFrom(86_400_000, 86_400_000.5, 1e21, 1e308),
      fc.constant('1'),
    ),
    bytes_sent: fc.option(
      mostly(fc.integer({ min: 0, max: 1e9 }), fc.constantFrom(-1, 0.5, 9007199254740992)),
      {
        nil: undefined,
      },
    ),
    user_id: fc.option(mostly(plainString, fc.constant('y'.repeat(257)), fc.integer()), { nil: undefined }),
    session_id: fc.option(mostly(plainString, fc.constant(null)), { nil: undefined }),
    page_id: fc.option(mostly(plainString, fc.constant(null), fc.constant([1])), { nil: undefined }),
  })
  .chain((event) =>
    fc
      .option(fc.constantFrom('user_id', 'method', 'bytes_sent'), { freq: 3 })
      .map((nulled) => JSON.stringify(nulled === null ? event : { ...event, [nulled]: null })),
  );

export type Mutation = (line: string) => string;
export const mutations: Mutation[] = [
  (l) => l.replace(/}$/, ',}'),
  (l) => l.replace(/:(\d+)/, ':NaN'),
  (l) => l.replace(/:(\d+)/, ':Infinity'),
  (l) => l.replace(/:"/, ':"\\ud800'),
  (l) => l.replace(/:"/, ':"\\udc00\\ud83d\\ude00'),
  (l) => l.replace(/:"/, ':"\\ud83d\\ude00'),
  (l) => `${l}x`,
  (l) =>
    Array.from(l)
      .slice(0, Math.floor(Array.from(l).length / 2))
      .join(''),
  (l) => `\uFEFF${l}`,
  (l) => ` \t${l}\r`,
  (l) => `[${l}]`,
  (l) => l.replace(/,/, ',,'),
  (l) => l.replace(/}$/, ', "nested": [1, {"b": [true, null]}]}'),
  (l) => l.replace('"event_id"', '"event\\u005fid"'),
  (l) => l.replace(/"([a-z]+)":"/, '"$1":"inf '),
  // DuckDB's leniency in every place a value or a closing bracket can stand, and look-alikes
  // inside strings (the staging SQL's cheap scan must send all of these to the exact one).
  (l) => l.replace(/}$/, ' ,\t}'),
  (l) => l.replace(/}$/, ',"zz":[1, ]}'),
  (l) => l.replace(/}$/, ', "zz": [ -nan , 2] }'),
  (l) => l.replace(/}$/, ',"zz":[1,\t-Infinity]}'),
  (l) => l.replace(/}$/, ',"zz":{"y":iNf}\r}'),
  (l) => l.replace(/:(\d+)/, ': \tinf'),
  (l) => l.replace(/:(\d+)/, ':-NAN'),
  (l) => l.replace(/"([a-z]+)":"/, '"$1":"x: nan, ]'),
  (l) => l.replace(/"([a-z]+)":"/, '"$1":"[Infinity,}'),
];

/**
 * Raw lines as DuckDB can hold them: well-formed Unicode (a VARCHAR is UTF-8; invalid bytes never
 * reach the SQL, and parseEvent's utf8 rule is unit-tested in events.test.ts).
 */
export const lineArb: fc.Arbitrary<string> = fc
  .oneof(
    {
      weight: 10,
      arbitrary: fc
        .tuple(objectArb, fc.option(fc.integer({ min: 0, max: mutations.length - 1 }), { freq: 4 }))
        .map(([entries, mutation]) => {
          const line = `{${entries.map(([k, v]) => `${str(k)}:${v}`).join(',')}}`;
          return mutation === null ? line : (mutations[mutation] as Mutation)(line);
        }),
    },
    { weight: 10, arbitrary: canonicalLineArb },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        ' ',
        '{}',
        '[]',
        'null',
        '"x"',
        '{"a":1,}',
        '{"a":NaN}',
        '{"a":"\\ud800"}',
        'NaN',
        ' -Infinity',
        '[nan]',
        '[1,]',
      ),
    },
  )
  .filter((line) => line.isWellFormed());

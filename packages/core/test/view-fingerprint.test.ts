// A view's derived version: the same for every cosmetic rewrite of a config (key order, measure
// order, `in` and enum value order, descriptions, the hand-set version), different for every change
// to what its numbers mean (a measure, a filter, the bucket, a dimension, a rule of a field it reads).
import { describe, expect, it } from 'vitest';
import { builtinCatalog } from '../src/builtin-views.ts';
import { resolveCatalog } from '../src/catalog.ts';
import { defineView } from '../src/view.ts';
import { canonicalJson, viewSpecOf } from '../src/view-fingerprint.ts';

// biome-ignore lint/suspicious/noExplicitAny: the cases edit arbitrary paths of a cloned config
type Editable = Record<string, any>;

const baseConfig = (): Editable => ({
  streams: [
    {
      name: 'iot',
      topic: 'iot-readings',
      schema: {
        type: 'object',
        properties: {
          reading_id: { type: 'string', minLength: 1 },
          ts: { type: 'integer' },
          site: { type: 'string' },
          device: { type: 'string' },
          kind: { type: 'string', enum: ['thermo', 'hygro', 'combo'] },
          temperature_c: { type: 'number', minimum: -90, maximum: 150 },
          humidity: { type: ['number', 'null'], minimum: 0, maximum: 100 },
        },
        required: ['reading_id', 'ts', 'site', 'device', 'temperature_c'],
      },
      time: { field: 'ts', encoding: 'epoch_ms' },
      idField: 'reading_id',
    },
  ],
  views: [
    {
      name: 'site_minutely',
      stream: 'iot',
      bucket: '1m',
      dimensions: ['site'],
      filter: {
        op: 'and',
        filters: [
          { op: 'in', field: 'kind', values: ['thermo', 'combo'] },
          { op: 'exists', field: 'temperature_c' },
        ],
      },
      measures: {
        readings: { kind: 'count' },
        avg_temperature_c: { kind: 'avg', field: 'temperature_c' },
        temperature_c: { kind: 'quantiles', field: 'temperature_c', qs: [0.5, 0.95] },
        devices: { kind: 'distinct', field: 'device' },
      },
    },
  ],
});

function fingerprintOf(config: Editable): string {
  return resolveCatalog(config).view('site_minutely').fingerprint;
}

function edited(edit: (config: Editable) => void): Editable {
  const config = structuredClone(baseConfig());
  edit(config);
  return config;
}

/** The same object with its keys in reverse order, at every depth. */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([key, entry]) => [key, reversedKeys(entry)]),
  );
}

describe('view fingerprint', () => {
  const base = fingerprintOf(baseConfig());

  it('is 12 hex digits, and pinned for the built-in views (a change here must bump its semantics)', () => {
    expect(base).toMatch(/^[0-9a-f]{12}$/);
    const builtins = Object.fromEntries(builtinCatalog().views.map((view) => [view.name, view.fingerprint]));
    // Pinned: these change only with VIEW_FINGERPRINT_SEMANTICS or a change to the built-in views.
    expect(builtins).toEqual({
      endpoint_hourly: '8283af50a23c',
      sessions_hourly: '6d0143d8f6cc',
      trending_pages: '149f5a497f60',
    });
  });

  it.each<[string, (config: Editable) => void]>([
    ['every key order reversed', (config) => Object.assign(config, reversedKeys(config))],
    [
      'measures declared in another order',
      (config) => {
        const measures = config.views[0].measures;
        config.views[0].measures = Object.fromEntries(Object.entries(measures).reverse());
      },
    ],
    ['`in` values in another order', (config) => config.views[0].filter.filters[0].values.reverse()],
    ['`and` children in another order', (config) => config.views[0].filter.filters.reverse()],
    ['quantile fractions in another order', (config) => config.views[0].measures.temperature_c.qs.reverse()],
    ['enum values in another order', (config) => config.streams[0].schema.properties.kind.enum.reverse()],
    [
      'a description on a field and on the schema',
      (config) => {
        config.streams[0].schema.description = 'readings from the sites';
        config.streams[0].schema.properties.site.description = 'where the device hangs';
      },
    ],
    [
      'a hand-set version',
      (config) => {
        config.views[0].version = 7;
      },
    ],
    [
      'a rule of a field the view does not read',
      (config) => {
        config.streams[0].schema.properties.humidity.maximum = 90;
      },
    ],
    [
      'another view added beside it',
      (config) =>
        config.views.push({ ...structuredClone(config.views[0]), name: 'site_hourly', bucket: '1h' }),
    ],
  ])('stays the same for a cosmetic change: %s', (_, edit) => {
    expect(fingerprintOf(edited(edit))).toBe(base);
  });

  it.each<[string, (config: Editable) => void]>([
    [
      'a measure added',
      (config) => {
        config.views[0].measures.max_c = { kind: 'max', field: 'temperature_c' };
      },
    ],
    ['a measure removed', (config) => delete config.views[0].measures.devices],
    [
      'a measure renamed',
      (config) => {
        const { devices, ...rest } = config.views[0].measures;
        config.views[0].measures = { ...rest, device_count: devices };
      },
    ],
    [
      'a measure kind changed',
      (config) => {
        config.views[0].measures.avg_temperature_c.kind = 'sum';
      },
    ],
    ['a quantile fraction added', (config) => config.views[0].measures.temperature_c.qs.push(0.99)],
    [
      'a filter value changed',
      (config) => {
        config.views[0].filter.filters[0].values[1] = 'hygro';
      },
    ],
    ['the filter removed', (config) => delete config.views[0].filter],
    [
      'a measure filter added',
      (config) => {
        config.views[0].measures.readings.where = { op: 'eq', field: 'kind', value: 'thermo' };
      },
    ],
    [
      'the bucket changed',
      (config) => {
        config.views[0].bucket = '5m';
      },
    ],
    ['a dimension added', (config) => config.views[0].dimensions.push('device')],
    [
      'a maximum of a field it reads',
      (config) => {
        config.streams[0].schema.properties.temperature_c.maximum = 100;
      },
    ],
    [
      'the time encoding',
      (config) => {
        config.streams[0].time.encoding = 'epoch_s';
      },
    ],
    ['the event-id field dropped (no dedup)', (config) => delete config.streams[0].idField],
    [
      'an enum value of a field its filter reads',
      (config) => config.streams[0].schema.properties.kind.enum.push('baro'),
    ],
  ])('changes with what the numbers mean: %s', (_, edit) => {
    expect(fingerprintOf(edited(edit))).not.toBe(base);
  });

  it('writes canonical JSON: sorted keys at every depth, arrays in order, undefined left out', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: null }], c: undefined } })).toBe(
      '{"a":{"d":[3,{"y":null,"z":1}]},"b":1}',
    );
  });

  it('gives back a spec that compiles to the same version (what the generation registry stores)', () => {
    for (const catalog of [builtinCatalog(), resolveCatalog(baseConfig())]) {
      for (const view of catalog.views) {
        const spec = viewSpecOf(view);
        // plain JSON: it survives a round trip through Redis unchanged
        expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
        expect(defineView(spec, catalog.stream(view.stream)).fingerprint).toBe(view.fingerprint);
      }
    }
  });

  it('reads history as whole days or hours (30d by default), outside the version', () => {
    const spec = { ...viewSpecOf(builtinCatalog().view('endpoint_hourly')) };
    const stream = builtinCatalog().stream('events');
    expect(defineView(spec, stream).historyMs).toBe(30 * 24 * 3_600_000);
    expect(defineView({ ...spec, history: '36h' }, stream).historyMs).toBe(36 * 3_600_000);
    expect(defineView({ ...spec, history: '36h' }, stream).fingerprint).toBe(
      defineView(spec, stream).fingerprint,
    );
    expect(() => defineView({ ...spec, history: '2w' }, stream)).toThrow(
      `view "endpoint_hourly": history "2w" is not a duration; write e.g. '30d' or '12h'`,
    );
  });
});

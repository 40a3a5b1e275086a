// Config files as data: a good config resolves to streams and views bound to their fields; every
// kind of bad config is refused with a coded error whose message and details name the JSON path.
import { describe, expect, it } from 'vitest';
import { resolveCatalog, type TandemConfigSpec } from '../src/catalog.ts';
import { webStream, webStreamSpec } from '../src/web-stream.ts';
import { webViewSpecs } from '../src/builtin-views.ts';
import { TandemError } from '../src/errors.ts';

// biome-ignore lint/suspicious/noExplicitAny: the cases poke arbitrary paths of a cloned config
type Editable = Record<string, any>;

const iotStream = {
  name: 'iot',
  topic: 'iot-readings',
  schema: {
    type: 'object',
    properties: {
      reading_id: { type: 'string', minLength: 1 },
      ts: { type: 'integer' },
      site: { type: 'string' },
      device: { type: 'string' },
      temperature_c: { type: 'number', minimum: -90, maximum: 150 },
      battery_low: { type: 'boolean', default: false },
    },
    required: ['reading_id', 'ts', 'site', 'device', 'temperature_c'],
  },
  time: { field: 'ts', encoding: 'epoch_ms' },
  idField: 'reading_id',
};
const iotView = {
  name: 'site_minutely',
  stream: 'iot',
  bucket: '1m',
  dimensions: ['site'],
  measures: {
    readings: { kind: 'count' },
    avg_temperature_c: { kind: 'avg', field: 'temperature_c' },
    devices: { kind: 'distinct', field: 'device' },
  },
};

function config(): { streams: unknown[]; views: unknown[] } {
  return structuredClone({ streams: [webStreamSpec, iotStream], views: [...webViewSpecs, iotView] });
}

/** Resolves a config changed by `edit`; returns the error it throws (or fails). */
function refusal(edit: (c: Editable) => void): TandemError {
  const c = config() as Editable;
  edit(c);
  try {
    resolveCatalog(c, 'tandem.config.ts');
  } catch (error) {
    expect(error).toBeInstanceOf(TandemError);
    return error as TandemError;
  }
  throw new Error('the config was accepted');
}

describe('resolveCatalog', () => {
  it('binds every view to its stream and derives the stream defaults', () => {
    const catalog = resolveCatalog(config() as unknown as TandemConfigSpec, 'tandem.config.ts');
    expect(catalog.streams.map((s) => s.name)).toEqual(['events', 'iot']);
    const iot = catalog.stream('iot');
    expect([iot.topic, iot.dlqTopic, iot.lateTopic, iot.lakePrefix]).toEqual([
      'iot-readings',
      'iot-readings.dlq',
      'iot-readings.late',
      'streams/iot/logs',
    ]);
    expect(iot.fieldTypes).toEqual({
      reading_id: 'string',
      ts: 'integer',
      site: 'string',
      device: 'string',
      temperature_c: 'number',
      battery_low: 'boolean',
    });
    const view = catalog.view('site_minutely');
    expect([view.stream, view.timeField, view.idField, view.bucketMs]).toEqual([
      'iot',
      'ts',
      'reading_id',
      60_000,
    ]);
    expect(catalog.viewsOf('events').map((v) => v.name)).toEqual([
      'endpoint_hourly',
      'sessions_hourly',
      'trending_pages',
    ]);
    expect(catalog.stream('events').fingerprint).toBe(webStream.fingerprint);
  });

  it('changes a stream fingerprint when a rule changes, not when a description does', () => {
    const base = resolveCatalog(config() as unknown as TandemConfigSpec).stream('iot').fingerprint;
    const described = config() as Editable;
    described.streams[1].schema.properties.site.description = 'where the device stands';
    expect(resolveCatalog(described).stream('iot').fingerprint).toBe(base);
    const tightened = config() as Editable;
    tightened.streams[1].schema.properties.site.maxLength = 10;
    expect(resolveCatalog(tightened).stream('iot').fingerprint).not.toBe(base);
  });

  // Each row: a kind of bad config, the code it must raise and the JSON path it must name.
  const cases: Array<[string, (c: Editable) => void, string, string]> = [
    [
      'an unknown schema keyword',
      (c) => {
        c.streams[1].schema.properties.site.pattern = '^[a-z]+$';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      'tandem.config.ts.streams[1].schema.properties.site.pattern',
    ],
    [
      'a nested object type',
      (c) => {
        c.streams[1].schema.properties.site = { type: 'object' };
      },
      'TANDEM_ERR_CONFIG_INVALID',
      'tandem.config.ts.streams[1].schema.properties.site.type',
    ],
    [
      'a keyword of the wrong type for its field',
      (c) => {
        c.streams[1].schema.properties.site.minimum = 3;
      },
      'TANDEM_ERR_CONFIG_INVALID',
      'tandem.config.ts.streams[1].schema.properties.site.minimum',
    ],
    [
      'a required name that is not a property',
      (c) => {
        c.streams[1].schema.required.push('sensor');
      },
      'TANDEM_ERR_CONFIG_INVALID',
      'tandem.config.ts.streams[1].schema.required[5]',
    ],
    [
      'a missing time field',
      (c) => {
        c.streams[1].time.field = 'time';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      'tandem.config.ts.streams[1].time.field',
    ],
    [
      'an unknown time encoding',
      (c) => {
        c.streams[1].time.encoding = 'epoch_ns';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      'tandem.config.ts.streams[1].time.encoding',
    ],
    [
      'an optional time field',
      (c) => {
        c.streams[1].schema.required = ['reading_id', 'site', 'device', 'temperature_c'];
      },
      'TANDEM_ERR_CONFIG_INVALID',
      'tandem.config.ts.streams[1].schema.properties.ts',
    ],
    [
      'a default that breaks its own rules',
      (c) => {
        c.streams[1].schema.properties.temperature_c = { type: 'number', maximum: 150, default: 200 };
        c.streams[1].schema.required = ['reading_id', 'ts', 'site', 'device'];
      },
      'TANDEM_ERR_CONFIG_INVALID',
      'tandem.config.ts.streams[1].schema.properties.temperature_c.default',
    ],
    [
      'a duplicate stream name',
      (c) => {
        c.streams[1].name = 'events';
        c.streams[1].topic = 'other';
        c.streams[1].lakePrefix = 'other/logs';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      'tandem.config.ts.streams[1].name',
    ],
    [
      'a topic used by two streams',
      (c) => {
        c.streams[1].topic = 'events';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      'tandem.config.ts.streams[1]',
    ],
    [
      'a duplicate view name',
      (c) => {
        c.views[3].name = 'endpoint_hourly';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      'tandem.config.ts.views[3].name',
    ],
    [
      'a view of an undeclared stream',
      (c) => {
        c.views[3].stream = 'payments';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      'tandem.config.ts.views[3].stream',
    ],
    [
      'an unknown dimension field',
      (c) => {
        c.views[3].dimensions = ['building'];
      },
      'TANDEM_ERR_VIEW_FIELD_UNKNOWN',
      'tandem.config.ts.views[3]',
    ],
    [
      'avg over a string',
      (c) => {
        c.views[3].measures.avg_temperature_c.field = 'site';
      },
      'TANDEM_ERR_MEASURE_INVALID',
      'tandem.config.ts.views[3]',
    ],
    [
      'distinct over a boolean',
      (c) => {
        c.views[3].measures.devices.field = 'battery_low';
      },
      'TANDEM_ERR_MEASURE_INVALID',
      'tandem.config.ts.views[3]',
    ],
    [
      'a bad bucket',
      (c) => {
        c.views[3].bucket = '7m';
      },
      'TANDEM_ERR_VIEW_INVALID',
      'tandem.config.ts.views[3]',
    ],
    [
      'a filter on a field of another stream',
      (c) => {
        c.views[3].filter = { op: 'eq', field: 'endpoint', value: '/x' };
      },
      'TANDEM_ERR_VIEW_FIELD_UNKNOWN',
      'tandem.config.ts.views[3]',
    ],
    [
      'an unknown top-level setting',
      (c) => {
        c.sinks = [];
      },
      'TANDEM_ERR_CONFIG_INVALID',
      'tandem.config.ts.sinks',
    ],
    [
      'an unknown stream setting',
      (c) => {
        c.streams[1].partitions = 12;
      },
      'TANDEM_ERR_CONFIG_INVALID',
      'tandem.config.ts.streams[1].partitions',
    ],
    [
      'nested lake prefixes',
      (c) => {
        c.streams[1].lakePrefix = 'logs/iot';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      'tandem.config.ts.streams[1].lakePrefix',
    ],
    [
      'an id field that is optional',
      (c) => {
        c.streams[1].idField = 'battery_low';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      'tandem.config.ts.streams[1].idField',
    ],
  ];

  it.each(cases)('refuses %s with a coded error naming its JSON path', (_kind, edit, code, path) => {
    const error = refusal(edit);
    expect(error.code).toBe(code);
    expect(error.details.path).toBe(path);
    expect(error.message.startsWith(`${path}: `)).toBe(true);
  });

  it('names the view and the field in field errors', () => {
    const error = refusal((c) => {
      c.views[3].measures.avg_temperature_c.field = 'site';
    });
    expect(error.message).toContain('"site"');
    expect(error.message).toContain('site_minutely');
  });
});

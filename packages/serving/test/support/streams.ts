// Streams and views beside the web stream for tests and the fuzz server: an IoT stream of sensor
// readings with a per-site, per-minute view, and a mail stream whose fields are named like query
// parameters (`from`, `to`), plus seeded readings and messages for them.
import {
  type Catalog,
  type ConfigViewSpec,
  resolveCatalog,
  type StreamEvent,
  type StreamSpec,
  webStreamSpec,
  webViewSpecs,
} from '@tandem/core';
import { mulberry32 } from '@tandem/test-support/random.ts';

/** Sensor readings: an id, epoch-ms time, site and device, a temperature and a battery flag. */
export const iotStreamSpec = {
  name: 'iot',
  topic: 'test-iot-readings',
  schema: {
    type: 'object',
    properties: {
      reading_id: { type: 'string', minLength: 1, maxLength: 64 },
      ts: { type: 'integer' },
      site: { type: 'string', minLength: 1, maxLength: 64 },
      device: { type: 'string', minLength: 1, maxLength: 64 },
      temperature_c: { type: 'number', minimum: -90, maximum: 150 },
      battery_low: { type: 'boolean', default: false },
    },
    required: ['reading_id', 'ts', 'site', 'device', 'temperature_c'],
  },
  time: { field: 'ts', encoding: 'epoch_ms' },
  idField: 'reading_id',
} as const satisfies StreamSpec;

/** Per site per minute: readings, average / maximum / p95 temperature, devices, low batteries. */
export const siteMinutelySpec = {
  name: 'site_minutely',
  stream: 'iot',
  bucket: '1m',
  dimensions: ['site'],
  measures: {
    readings: { kind: 'count' },
    avg_temperature_c: { kind: 'avg', field: 'temperature_c' },
    max_temperature_c: { kind: 'max', field: 'temperature_c' },
    temperature_c: { kind: 'quantiles', field: 'temperature_c', qs: [0.95] },
    devices: { kind: 'distinct', field: 'device' },
    // Core's filters compare booleans as numbers for now (true is 1); `value: true` is refused.
    low_battery: { kind: 'count', where: { op: 'eq', field: 'battery_low', value: true } },
  },
} as const satisfies ConfigViewSpec;

/** A stream whose fields are named like the query parameters, so filters need `filter.<name>`. */
export const mailStreamSpec = {
  name: 'mail',
  topic: 'test-mail',
  schema: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      at: { type: 'integer' },
      from: { type: 'string' },
      to: { type: 'string' },
      size: { type: 'integer' },
    },
    required: ['id', 'at', 'from', 'to', 'size'],
  },
  time: { field: 'at', encoding: 'epoch_ms' },
  idField: 'id',
} as const satisfies StreamSpec;

/** Messages per sender, recipient and size in 15-minute buckets. */
export const mailBySizeSpec = {
  name: 'mail_by_size',
  stream: 'mail',
  bucket: '15m',
  dimensions: ['from', 'to', 'size'],
  measures: { messages: { kind: 'count' } },
} as const satisfies ConfigViewSpec;

/** The web stream and its views, the IoT stream and `site_minutely`, the mail stream and `mail_by_size`. */
export function testCatalog(): Catalog {
  return resolveCatalog(
    {
      streams: [webStreamSpec, iotStreamSpec, mailStreamSpec],
      views: [...webViewSpecs, siteMinutelySpec, mailBySizeSpec],
    },
    'test catalog',
  );
}

/** Readings spread over [from, to): three sites, a dozen devices, temperatures in half degrees. */
export function generateReadings(options: {
  seed: number;
  from: number;
  to: number;
  count: number;
}): StreamEvent[] {
  const random = mulberry32(options.seed);
  const sites = ['berlin', 'lyon', 'oslo'];
  const readings: StreamEvent[] = [];
  for (let i = 0; i < options.count; i++) {
    const site = sites[Math.floor(random() * sites.length)]!;
    readings.push({
      reading_id: `r-${options.seed}-${i}`,
      ts: options.from + Math.floor(random() * (options.to - options.from)),
      site,
      device: `${site}-${Math.floor(random() * 4)}`,
      temperature_c: 10 + Math.floor(random() * 40) / 2,
      battery_low: random() < 0.05,
    });
  }
  return readings.sort((a, b) => (a.ts as number) - (b.ts as number));
}

/** Messages spread over [from, to) between a few people, of a few sizes. */
export function generateMessages(options: {
  seed: number;
  from: number;
  to: number;
  count: number;
}): StreamEvent[] {
  const random = mulberry32(options.seed);
  const people = ['ann', 'bob', 'cy'];
  const messages: StreamEvent[] = [];
  for (let i = 0; i < options.count; i++) {
    messages.push({
      id: `m-${options.seed}-${i}`,
      at: options.from + Math.floor(random() * (options.to - options.from)),
      from: people[Math.floor(random() * people.length)]!,
      to: people[Math.floor(random() * people.length)]!,
      size: [12, 300, 4096][Math.floor(random() * 3)]!,
    });
  }
  return messages.sort((a, b) => (a.at as number) - (b.at as number));
}

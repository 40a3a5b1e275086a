// A declared stream other than the web one for the batch tests: IoT sensor readings (`reading_id`
// id field, `ts` epoch-ms integer time field, `site`/`device` strings, `temperature_c` number,
// `battery_low` boolean), its `site_minutely` view, and deterministic raw-log hours with duplicates
// written in other forms, near-duplicates and malformed lines of every kind. The normalized events
// and the expected verdicts are built here from what was generated, never by core's validator.
import { gzipSync } from 'node:zlib';
import {
  defineStream,
  defineView,
  finalizeStates,
  HOUR_MS,
  MINUTE_MS,
  type PartialRow,
  type Stream,
  type StreamEvent,
  type StreamSpec,
  type View,
} from '@tandem/core';
import { logPartitionPrefix, type ObjectStore } from '@tandem/lake';
import { expect } from 'vitest';
import { mulberry32 } from '@tandem/test-support/random.ts';
import { encodeNdjson } from './fixtures.ts';

/** The IoT stream's declaration; `withId: false` drops `reading_id` (dedup by whole content). */
export function iotStreamSpec(
  name: string,
  options: { withId?: boolean; maxTemperature?: number } = {},
): StreamSpec {
  const withId = options.withId ?? true;
  return {
    name,
    topic: `${name}-readings`,
    schema: {
      type: 'object',
      properties: {
        ...(withId ? { reading_id: { type: 'string', minLength: 1, maxLength: 64 } } : {}),
        ts: { type: 'integer', description: 'epoch milliseconds' },
        site: { type: 'string', minLength: 1, maxLength: 64 },
        device: { type: 'string', minLength: 1, maxLength: 64 },
        temperature_c: { type: 'number', minimum: -90, maximum: options.maxTemperature ?? 150 },
        battery_low: { type: 'boolean', default: false },
      },
      required: [...(withId ? ['reading_id'] : []), 'ts', 'site', 'device', 'temperature_c'],
    },
    time: { field: 'ts', encoding: 'epoch_ms' },
    idField: withId ? 'reading_id' : null,
  };
}

export function iotStream(name = 'iot', options: { withId?: boolean; maxTemperature?: number } = {}): Stream {
  return defineStream(iotStreamSpec(name, options));
}

/** Per site per minute: readings, avg/max/p95 temperature, distinct devices, low-battery readings. */
export function siteMinutelyView(stream: Stream, name = 'site_minutely'): View {
  return defineView(
    {
      name,
      stream: stream.name,
      bucket: '1m',
      dimensions: ['site'],
      measures: {
        readings: { kind: 'count' },
        avg_temperature_c: { kind: 'avg', field: 'temperature_c' },
        max_temperature_c: { kind: 'max', field: 'temperature_c' },
        temperature_c: { kind: 'quantiles', field: 'temperature_c', qs: [0.95] },
        devices: { kind: 'distinct', field: 'device' },
        low_battery: { kind: 'count', where: { op: 'eq', field: 'battery_low', value: true } },
      },
    },
    stream,
  );
}

/** A normalized IoT reading, fields in declaration order. */
export interface IotReading {
  reading_id?: string;
  ts: number;
  site: string;
  device: string;
  temperature_c: number;
  battery_low: boolean;
}

/** A verdict a bad line must get: (code, field, rule). */
export interface ExpectedVerdict {
  code: string;
  field: string | null;
  rule: string;
}

export interface IotHour {
  hour: number;
  /** File name → lines (Buffers may hold invalid UTF-8). */
  files: Map<string, Array<string | Buffer>>;
  /** The valid events, once each (what deduplication leaves), normalized. */
  events: StreamEvent[];
  lines: number;
  bad: number;
  duplicates: number;
  /** The verdict of every bad line. */
  verdicts: ExpectedVerdict[];
}

export interface IotHourOptions {
  seed: number;
  readings: number;
  sites: number;
  devices: number;
  /** Share of readings sent again (a producer retry), often written another way. */
  duplicateShare: number;
  /** Share of readings followed by a near-duplicate: equal but for one field (a distinct event). */
  nearDuplicateShare: number;
  /** Bad lines, cycling through `badKinds`. */
  badLines: number;
  files: number;
  withId: boolean;
  /** The clock the batch layer runs with (for the `future` bad line). */
  nowMs: number;
}

const defaults: IotHourOptions = {
  seed: 1,
  readings: 400,
  sites: 4,
  devices: 12,
  duplicateShare: 0.08,
  nearDuplicateShare: 0.04,
  badLines: 8,
  files: 2,
  withId: true,
  nowMs: Number.MAX_SAFE_INTEGER,
};

/** Temperatures that exercise the JSON number path: negatives, zero, tiny, long fractions, bounds. */
const awkwardTemperatures = [-90, -12.5, 0, 1e-7, 0.1, 21.125, 1 / 3, 149.999, 150];

/**
 * One way of writing a reading on the wire; every form normalizes to the same event. `form` picks
 * key order, `ts` as a number or a digit string, `battery_low` left out when false (its default),
 * and a temperature written with a trailing zero.
 */
export function wireLine(reading: IotReading, form: number): string {
  const fields: Array<[string, string]> = [];
  if (reading.reading_id !== undefined) fields.push(['reading_id', JSON.stringify(reading.reading_id)]);
  fields.push(['ts', form % 3 === 1 ? JSON.stringify(String(reading.ts)) : String(reading.ts)]);
  fields.push(['site', JSON.stringify(reading.site)]);
  fields.push(['device', JSON.stringify(reading.device)]);
  const t = reading.temperature_c;
  const text = JSON.stringify(t);
  fields.push([
    'temperature_c',
    form % 4 === 2 && !text.includes('e') ? (text.includes('.') ? `${text}0` : `${text}.0`) : text,
  ]);
  if (reading.battery_low || form % 2 === 0) fields.push(['battery_low', String(reading.battery_low)]);
  if (form % 5 === 3) fields.reverse();
  const space = form % 7 === 4 ? ' ' : '';
  return `{${fields.map(([key, value]) => `"${key}":${space}${value}`).join(`,${space}`)}}`;
}

/** The normalized event of a reading, as a plain object in declaration order. */
export function normalized(reading: IotReading): StreamEvent {
  return {
    ...(reading.reading_id === undefined ? {} : { reading_id: reading.reading_id }),
    ts: reading.ts,
    site: reading.site,
    device: reading.device,
    temperature_c: reading.temperature_c,
    battery_low: reading.battery_low,
  };
}

/** Malformed or invalid lines and the verdict each must get. */
const badKinds: Array<(hour: number, i: number, o: IotHourOptions) => [string | Buffer, ExpectedVerdict]> = [
  () => ['not json at all', { code: 'TANDEM_ERR_EVENT_INVALID_JSON', field: null, rule: 'json' }],
  () => [
    Buffer.concat([Buffer.from('{"site":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
    { code: 'TANDEM_ERR_EVENT_INVALID_UTF8', field: null, rule: 'utf8' },
  ],
  (hour, i, o) => [
    wireLine(reading(hour, `hot-${i}`, o, { temperature_c: 200 }), i),
    { code: 'TANDEM_ERR_EVENT_INVALID', field: 'temperature_c', rule: 'maximum' },
  ],
  (hour, i, o) => {
    const { site: _site, ...rest } = normalized(reading(hour, `nosite-${i}`, o));
    return [JSON.stringify(rest), { code: 'TANDEM_ERR_EVENT_INVALID', field: 'site', rule: 'required' }];
  },
  (hour, i, o) => [
    JSON.stringify({ ...normalized(reading(hour, `iso-${i}`, o)), ts: new Date(hour + 5).toISOString() }),
    { code: 'TANDEM_ERR_EVENT_INVALID', field: 'ts', rule: 'format' },
  ],
  (hour, i, o) => [
    JSON.stringify({ ...normalized(reading(hour, `yes-${i}`, o)), battery_low: 'yes' }),
    { code: 'TANDEM_ERR_EVENT_INVALID', field: 'battery_low', rule: 'type' },
  ],
  (hour, i, o) => [
    JSON.stringify({ ...normalized(reading(hour, `future-${i}`, o)), ts: o.nowMs + 24 * HOUR_MS }),
    { code: 'TANDEM_ERR_EVENT_INVALID', field: 'ts', rule: 'future' },
  ],
  (hour, i, o) => [
    JSON.stringify({ ...normalized(reading(hour, `empty-${i}`, o)), site: '' }),
    { code: 'TANDEM_ERR_EVENT_INVALID', field: 'site', rule: 'minLength' },
  ],
];

function reading(hour: number, id: string, o: IotHourOptions, extra: Partial<IotReading> = {}): IotReading {
  return {
    ...(o.withId ? { reading_id: id } : {}),
    ts: hour + 1000,
    site: 'site-0',
    device: 'dev-0',
    temperature_c: 20,
    battery_low: false,
    ...extra,
  };
}

/** Deterministic raw logs of one hour of readings, with their truth. */
export function generateIotHour(hour: number, options: Partial<IotHourOptions> = {}): IotHour {
  const o = { ...defaults, ...options };
  const rand = mulberry32(o.seed * 7919 + hour / HOUR_MS);
  const names = Array.from(
    { length: o.files },
    (_, f) => `readings+${f}+${(hour / HOUR_MS) * 100 + f}.json.gz`,
  );
  const files = new Map(names.map((name) => [name, [] as Array<string | Buffer>]));
  const pick = () => files.get(names[Math.floor(rand() * names.length)]!)!;
  const events: StreamEvent[] = [];
  let lines = 0;
  let duplicates = 0;
  for (let i = 0; i < o.readings; i++) {
    const site = Math.floor(rand() * rand() * o.sites);
    const r: IotReading = {
      ...(o.withId ? { reading_id: `r-${o.seed}-${hour / HOUR_MS}-${i}` } : {}),
      ts: hour + Math.floor(rand() * HOUR_MS),
      site: site === 1 ? 'sité-ü' : `site-${site}`,
      device: `dev-${site}-${Math.floor(rand() * o.devices)}`,
      temperature_c:
        rand() < 0.2
          ? awkwardTemperatures[Math.floor(rand() * awkwardTemperatures.length)]!
          : Math.round((-20 + rand() * 60) * 1000) / 1000,
      battery_low: rand() < 0.1,
    };
    events.push(normalized(r));
    pick().push(wireLine(r, i));
    lines++;
    if (rand() < o.duplicateShare) {
      // A retry: the same event, possibly written another way, possibly into another file.
      pick().push(wireLine(r, i + 1 + Math.floor(rand() * 6)));
      lines++;
      duplicates++;
    }
    if (rand() < o.nearDuplicateShare) {
      // Equal but for one field: a distinct event under either dedup rule.
      const near: IotReading =
        i % 2 === 0
          ? { ...r, device: `${r.device}-b`, ...(o.withId ? { reading_id: `${r.reading_id}-b` } : {}) }
          : {
              ...r,
              ts: r.ts + 1 === hour + HOUR_MS ? r.ts - 1 : r.ts + 1,
              ...(o.withId ? { reading_id: `${r.reading_id}-c` } : {}),
            };
      events.push(normalized(near));
      pick().push(wireLine(near, i + 2));
      lines++;
    }
  }
  const verdicts: ExpectedVerdict[] = [];
  for (let i = 0; i < o.badLines; i++) {
    const [line, verdict] = badKinds[i % badKinds.length]!(hour, i, o);
    pick().push(line);
    verdicts.push(verdict);
    lines++;
  }
  return { hour, files, events, lines, bad: o.badLines, duplicates, verdicts };
}

/** Writes an hour's files as gzipped NDJSON into the stream's partition. */
export async function writeIotHour(store: ObjectStore, stream: Stream, data: IotHour): Promise<void> {
  for (const [name, lines] of data.files) {
    await store.put(
      `${logPartitionPrefix(data.hour, stream.lakePrefix)}${name}`,
      gzipSync(encodeNdjson(lines)),
    );
  }
}

/** Exact per-(minute, site) values of site_minutely, by plain loops over the distinct valid events. */
export interface SiteMinuteTruth {
  readings: number;
  temperatures: number[];
  devices: Set<string>;
  lowBattery: number;
}

export function siteMinuteTruth(events: readonly StreamEvent[]): Map<string, SiteMinuteTruth> {
  const truth = new Map<string, SiteMinuteTruth>();
  for (const event of events) {
    const key = `${Math.floor((event.ts as number) / MINUTE_MS) * MINUTE_MS}|${event.site}`;
    let entry = truth.get(key);
    if (entry === undefined) {
      entry = { readings: 0, temperatures: [], devices: new Set(), lowBattery: 0 };
      truth.set(key, entry);
    }
    entry.readings++;
    entry.temperatures.push(event.temperature_c as number);
    entry.devices.add(event.device as string);
    if (event.battery_low === true) entry.lowBattery++;
  }
  return truth;
}

/** site_minutely rows against the hand-computed truth: exact counts, sums and maxima; p95 within the sketch's bound. */
export function expectSiteMinuteTruth(
  view: View,
  rows: readonly PartialRow[],
  truth: Map<string, SiteMinuteTruth>,
): void {
  const seen = new Set<string>();
  for (const row of rows) {
    const key = `${row.bucket}|${row.dims[0]}`;
    const exact = truth.get(key);
    expect(exact, `a row the truth does not have: ${key}`).toBeDefined();
    if (exact === undefined) continue;
    seen.add(key);
    expect(row.bucket % MINUTE_MS).toBe(0);
    const values = finalizeStates(view, row.states) as Record<string, number | null>;
    expect(values.readings, key).toBe(exact.readings);
    expect(values.low_battery, key).toBe(exact.lowBattery);
    expect(values.max_temperature_c, key).toBe(Math.max(...exact.temperatures));
    const sum = exact.temperatures.reduce((a, b) => a + b, 0);
    expect(values.avg_temperature_c!, key).toBeCloseTo(sum / exact.readings, 9);
    // HyperLogLog with p = 14 is exact for sets this small (linear counting).
    expect(values.devices, key).toBe(exact.devices.size);
    const sorted = [...exact.temperatures].sort((a, b) => a - b);
    const rank = 0.95 * (sorted.length - 1);
    const [low, high] = [sorted[Math.floor(rank)]!, sorted[Math.ceil(rank)]!];
    const p95 = values.p95_temperature_c!;
    // DDSketch: within 1% of the order statistic; values below 1e-9 (negatives too) read back as 0.
    const sketched = (x: number) => (x < 1e-9 ? 0 : x);
    expect(p95, key).toBeGreaterThanOrEqual(sketched(low) * 0.99);
    expect(p95, key).toBeLessThanOrEqual(sketched(high) * 1.01);
  }
  expect([...seen].sort()).toEqual([...truth.keys()].sort());
}

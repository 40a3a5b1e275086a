// Pure parts of the batch layer: lake layout and run ids, pointer parsing and fingerprints, chunk
// planning, input formats, completeness from archiver watermarks.
import { builtinViews, HOUR_MS, webStream } from '@tandem/core';
import { describe, expect, it } from 'vitest';
import {
  defaultBatchOptions,
  inputFormatOf,
  isHourComplete,
  lastCompleteHour,
  newRunId,
  parsePointer,
  parseViewKey,
  partitionHoursFor,
  planChunks,
  pointerKey,
  resolveBatchOptions,
  runParquetKey,
  sameFingerprint,
} from '../src/index.ts';
import { LEGACY_WEB_FINGERPRINT, validatorMatches } from '../src/archive-trust.ts';
import { topicPartitionsOf } from '../src/completeness.ts';
import { eventColumnsUsed } from '../src/hour-compute.ts';
import { iotStream, siteMinutelyView } from './support/iot.ts';

const BASE = Date.UTC(2024, 2, 1);

describe('layout', () => {
  it('puts every run of an hour under one directory and parses keys back', () => {
    const runId = newRunId(BASE + 3 * HOUR_MS + 1234);
    expect(runId).toMatch(/^20240301T030001234Z-[0-9a-f]{8}$/);
    expect(pointerKey('endpoint_hourly', 2, BASE + 3 * HOUR_MS)).toBe(
      'views/endpoint_hourly/v2/dt=2024-03-01/hour=03/_pointer.json',
    );
    const key = runParquetKey('endpoint_hourly', 2, BASE + 3 * HOUR_MS, runId);
    expect(parseViewKey(key)).toEqual({ hour: BASE + 3 * HOUR_MS, file: `run-${runId}.parquet` });
    expect(() => pointerKey('endpoint_hourly', 1, BASE + 1)).toThrow(/start of an hour/);
    expect(() => pointerKey('../etc', 1, BASE)).toThrow(/cannot be a lake path/);
  });

  it('classifies inputs by extension and skips hidden files', () => {
    expect(inputFormatOf('logs/dt=2024-03-01/hour=00/events+0+1.json.gz')).toBe('ndjson');
    expect(inputFormatOf('logs/dt=2024-03-01/hour=00/a.json')).toBe('ndjson');
    expect(inputFormatOf('logs/dt=2024-03-01/hour=00/a.parquet')).toBe('parquet');
    expect(inputFormatOf('logs/dt=2024-03-01/hour=00/a.csv')).toBeNull();
    expect(inputFormatOf('logs/dt=2024-03-01/hour=00/_SUCCESS')).toBeNull();
    expect(inputFormatOf('logs/dt=2024-03-01/hour=00/.a.json')).toBeNull();
  });
});

describe('pointers', () => {
  const pointer = {
    format: 'tandem.batch.pointer/1',
    view: 'endpoint_hourly',
    viewVersion: 1,
    hour: BASE,
    runId: 'r',
    parquetKey: 'k',
    quarantineKey: null,
    fencingToken: 3,
    finishedAt: 1,
    rowsIn: 10,
    badRows: 0,
    duplicateRows: 1,
    rowsOut: 2,
    inputRange: { from: BASE, to: BASE + HOUR_MS },
    inputs: [{ key: 'b', size: 1, etag: 'x' }],
    startedAt: 0,
    owner: 'o',
    previous: [],
  };

  it('parses a valid pointer and refuses a damaged one with a coded error', () => {
    expect(parsePointer('p', JSON.stringify(pointer)).runId).toBe('r');
    expect(() => parsePointer('p', '{')).toThrow(/not valid \(not JSON\)/);
    expect(() => parsePointer('p', JSON.stringify({ ...pointer, fencingToken: 'x' }))).toThrow(/wrong type/);
    expect(() => parsePointer('p', JSON.stringify({ ...pointer, format: 'other' }))).toThrow(/format/);
  });

  it('compares fingerprints regardless of order, and by size and etag', () => {
    const a = [
      { key: 'a', size: 1, etag: 'x' },
      { key: 'b', size: 2, etag: 'y' },
    ];
    expect(sameFingerprint(a, [...a].reverse())).toBe(true);
    expect(sameFingerprint(a, [a[0]!, { ...a[1]!, etag: 'z' }])).toBe(false);
    expect(sameFingerprint(a, [a[0]!, { ...a[1]!, size: 3 }])).toBe(false);
    expect(sameFingerprint(a, [a[0]!])).toBe(false);
  });
});

describe('planning', () => {
  const options = { ...defaultBatchOptions, maxHoursPerChunk: 3, maxChunkInputBytes: 100 };
  const hours = [0, 1, 2, 3, 4, 6, 7].map((h) => BASE + h * HOUR_MS);

  it('cuts contiguous hours into chunks bounded by count and input bytes', () => {
    const sizes = new Map(hours.map((hour) => [hour, hour === BASE + 7 * HOUR_MS ? 150 : 10]));
    expect(
      planChunks(hours, sizes, options).map((chunk) => chunk.map((hour) => (hour - BASE) / HOUR_MS)),
    ).toEqual([[0, 1, 2], [3, 4], [6], [7]]);
  });

  it('cuts a run that needs several chunks into a multiple of concurrency chunks of about equal bytes', () => {
    const day = Array.from({ length: 24 }, (_, h) => BASE + h * HOUR_MS);
    const sizes = new Map(day.map((hour) => [hour, 10]));
    const lengths = (concurrency: number, maxChunkInputBytes = 90) =>
      planChunks(day, sizes, { ...options, maxHoursPerChunk: 24, maxChunkInputBytes, concurrency }).map(
        (chunk) => chunk.length,
      );
    // Greedy would give 9 + 9 + 6: the last chunk would run alone.
    expect(lengths(2)).toEqual([6, 6, 6, 6]);
    expect(lengths(1)).toEqual([8, 8, 8]);
    expect(lengths(4)).toEqual([6, 6, 6, 6]);
    // One chunk's worth stays one chunk; the byte bound is never passed.
    expect(lengths(2, 1000)).toEqual([24]);
    expect(lengths(3, 25)).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
  });

  it('cuts a sessionized view by UTC day, not by bytes (each chunk reads its day from midnight)', () => {
    // BASE is a midnight: hours 22 … 25 cross into the next day; every hour is over the byte bound.
    const span = [20, 21, 22, 23, 24, 25, 27].map((h) => BASE + h * HOUR_MS);
    const sizes = new Map(span.map((hour) => [hour, 150]));
    const plan = (sessionized: boolean) =>
      planChunks(span, sizes, { ...options, maxHoursPerChunk: 24 }, sessionized).map((chunk) =>
        chunk.map((hour) => (hour - BASE) / HOUR_MS),
      );
    expect(plan(true)).toEqual([[20, 21, 22, 23], [24, 25], [27]]);
    expect(plan(false)).toEqual([[20], [21], [22], [23], [24], [25], [27]]);
  });

  it('reads neighbouring partitions only for sessionized views', () => {
    const hour = BASE + 5 * HOUR_MS;
    expect(partitionHoursFor(builtinViews.endpoint_hourly, hour)).toEqual([hour]);
    // sessions_hourly: from midnight to 06:30, so partitions 00 … 06.
    expect(partitionHoursFor(builtinViews.sessions_hourly, hour)).toEqual(
      [0, 1, 2, 3, 4, 5, 6].map((h) => BASE + h * HOUR_MS),
    );
  });

  it('calls an hour complete when its whole input range is', () => {
    const view = builtinViews.endpoint_hourly;
    expect(isHourComplete(view, BASE, BASE + HOUR_MS)).toBe(true);
    expect(isHourComplete(view, BASE, BASE + HOUR_MS - 1)).toBe(false);
    expect(isHourComplete(builtinViews.sessions_hourly, BASE, BASE + HOUR_MS)).toBe(false);
    expect(lastCompleteHour(view, BASE + 2 * HOUR_MS + 5, BASE + 2 * HOUR_MS + 10)).toBe(BASE + HOUR_MS);
  });

  it('validates options once, naming the bad one', () => {
    expect(() => resolveBatchOptions({ maxBadRowRatio: 2 })).toThrow(/maxBadRowRatio/);
    expect(() => resolveBatchOptions({ memoryLimit: 'lots' })).toThrow(/memoryLimit/);
    expect(() => resolveBatchOptions({ keepVersions: 0 })).toThrow(/keepVersions/);
    expect(resolveBatchOptions({ keepVersions: 5 }, { threads: 4 })).toMatchObject({
      keepVersions: 5,
      threads: 4,
    });
  });
});

describe('streams', () => {
  const iot = iotStream('iot');
  const meter = iotStream('meter', { withId: false });

  it('stages the columns a view reads, plus time and id; every column when the stream has no id', () => {
    expect(eventColumnsUsed(builtinViews.endpoint_hourly, webStream)).toEqual([
      'event_id',
      'timestamp',
      'endpoint',
      'status_code',
      'response_time_ms',
      'bytes_sent',
      'user_id',
    ]);
    expect(eventColumnsUsed(siteMinutelyView(iot), iot)).toEqual([
      'reading_id',
      'ts',
      'site',
      'device',
      'temperature_c',
      'battery_low',
    ]);
    expect(meter.idField).toBeNull();
    expect(eventColumnsUsed(siteMinutelyView(meter, 'meter_minutely'), meter)).toEqual(
      meter.fields.map((field) => field.name),
    );
  });

  it('trusts a manifest only under the stream fingerprint (and the web stream under its first validator name)', () => {
    expect(validatorMatches(iot, iot.fingerprint)).toBe(true);
    expect(validatorMatches(iot, iotStream('iot', { maxTemperature: 30 }).fingerprint)).toBe(false);
    expect(validatorMatches(iot, webStream.fingerprint)).toBe(false);
    expect(validatorMatches(iot, 'tandem-events/1')).toBe(false);
    expect(validatorMatches(webStream, webStream.fingerprint)).toBe(true);
    // Files archived before streams existed keep their trust while the web rules stay the same;
    // if this fails, the web stream's rules changed: old manifests are then (rightly) no longer
    // trusted, and LEGACY_WEB_FINGERPRINT only documents history.
    expect(webStream.fingerprint).toBe(LEGACY_WEB_FINGERPRINT);
    expect(validatorMatches(webStream, 'tandem-events/1')).toBe(true);
  });

  it('gives each stream topic its partition count', () => {
    expect(topicPartitionsOf(null, 'events')).toBeNull();
    expect(topicPartitionsOf(4, 'iot-readings')).toBe(4);
    expect(topicPartitionsOf({ events: 6 }, 'events')).toBe(6);
    expect(topicPartitionsOf({ events: 6 }, 'iot-readings')).toBeNull();
    expect(
      resolveBatchOptions({ topicPartitions: { events: 6, 'iot-readings': 2 } }).topicPartitions,
    ).toEqual({
      events: 6,
      'iot-readings': 2,
    });
    expect(() => resolveBatchOptions({ topicPartitions: { events: 0 } })).toThrow(/topicPartitions/);
  });
});

// The batch layer over a catalog of several streams, on the real stack: a declared IoT stream whose
// raw logs live under streams/iot/logs/, computed exactly (against core's reducer over the
// deduplicated valid events and hand-computed values), with duplicates, malformed lines counted by
// verdict and sampled, a stream without an id field (deduplicated by whole normalized content), the
// trusted read of archiver files under the stream's fingerprint, and the web and IoT streams side by
// side: catch-up, completeness by each stream's watermarks, staleness, sealed-through, history.
import { gzipSync } from 'node:zlib';
import {
  archiveManifestKey,
  archiverWatermarkKey,
  buildArchiveManifest,
  logPartitionPrefix,
  type ObjectStore,
  writeArchiverWatermark,
} from '@tandem/lake';
import {
  builtinCatalog,
  type Catalog,
  compileReducer,
  createCatalog,
  defineStream,
  defineView,
  HOUR_MS,
  MINUTE_MS,
  type PartialRow,
  type Stream,
  type StreamEvent,
  type View,
  webStream,
} from '@tandem/core';
import { DuckDBInstance } from '@duckdb/node-api';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pointerKey, type QuarantineReport, readPointer } from '../src/index.ts';
import type { LakeKind } from '@tandem/test-support/lake.ts';
import { expectEndpointTruth, expectSameRows } from './support/assertions.ts';
import {
  createTestEnv,
  encodeNdjson,
  endpointTruth,
  generateHour,
  type TestEnv,
  writeHour,
} from './support/fixtures.ts';
import {
  expectSiteMinuteTruth,
  generateIotHour,
  type IotHour,
  iotStream,
  iotStreamSpec,
  siteMinuteTruth,
  siteMinutelyView,
  writeIotHour,
} from './support/iot.ts';

const BASE = Date.UTC(2024, 2, 1); // midnight UTC
const H = HOUR_MS;
const NOW = BASE + 10 * H;

const iot = iotStream('iot');
const siteMinutely = siteMinutelyView(iot);
/** The web stream and its views beside the IoT stream and its view: one deployment's catalog. */
const catalog: Catalog = createCatalog([webStream, iot], [...builtinCatalog().views, siteMinutely]);

function reducerRows(view: View, events: readonly StreamEvent[]): PartialRow[] {
  const reducer = compileReducer(view);
  for (const event of events) reducer.add(event);
  return reducer.rows();
}

async function listKeys(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix)) keys.push(info.key);
  return keys;
}

async function readReport(store: ObjectStore, key: string): Promise<QuarantineReport> {
  return JSON.parse(Buffer.from((await store.get(key))!).toString()) as QuarantineReport;
}

/** The verdict counts a quarantine partition must show, keyed `code|field|rule`. */
function verdictCounts(verdicts: IotHour['verdicts']): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of verdicts) {
    const key = `${v.code}|${v.field}|${v.rule}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

describe.each(['file', 's3'] as LakeKind[])('an IoT stream on a %s lake', (kind) => {
  let env: TestEnv;
  beforeEach(async () => {
    env = await createTestEnv(kind);
  });
  afterEach(async () => {
    await env.teardown();
  });

  it('computes site_minutely exactly from streams/iot/logs, deduplicating by reading_id and reporting bad lines', async () => {
    const data = [0, 1, 2].map((h) =>
      generateIotHour(BASE + h * H, { seed: 31 + h, readings: 500, badLines: 9, nowMs: NOW }),
    );
    for (const hour of data) await writeIotHour(env.lake.store, iot, hour);
    expect(await listKeys(env.lake.store, 'logs/')).toEqual([]);
    const layer = await env.open({ catalog, now: () => NOW, quarantineSampleSize: 5, maxBadRowRatio: 0.05 });
    expect(layer.views().map((view) => view.name)).toEqual([
      'endpoint_hourly',
      'sessions_hourly',
      'trending_pages',
      'site_minutely',
    ]);
    // Two hours in one query, the third alone: an event counts in its own partition either way.
    const outcomes = [
      ...(await layer.runHours('site_minutely', [BASE, BASE + H])),
      await layer.runHour('site_minutely', BASE + 2 * H),
    ];
    expect(outcomes.map((o) => [o.hour, o.status, o.error?.message ?? null])).toEqual(
      data.map((hour) => [hour.hour, 'published', null]),
    );
    for (const [index, outcome] of outcomes.entries()) {
      const hour = data[index]!;
      const pointer = outcome.pointer!;
      expect([pointer.rowsIn, pointer.badRows, pointer.duplicateRows]).toEqual([
        hour.lines,
        hour.bad,
        hour.duplicates,
      ]);
      expect(pointer.inputs.map((input) => input.key)).toEqual(
        [...hour.files.keys()]
          .map((name) => `${logPartitionPrefix(hour.hour, 'streams/iot/logs')}${name}`)
          .sort(),
      );
      // Views keep their own tree, keyed by view name.
      expect(pointer.parquetKey.startsWith(`views/site_minutely/v1/`)).toBe(true);
      const report = await readReport(env.lake.store, pointer.quarantineKey!);
      const partition = report.partitions.find((p) => p.partitionHour === hour.hour)!;
      expect(partition.badRows).toBe(hour.bad);
      expect(new Map(partition.errors.map((e) => [`${e.code}|${e.field}|${e.rule}`, e.count]))).toEqual(
        verdictCounts(hour.verdicts),
      );
      // Messages describe the stream's own fields.
      expect(partition.errors.find((e) => e.field === 'temperature_c')!.message).toMatch(
        /temperature_c.*a finite number from -90 to 150/,
      );
      expect(report.samples).toHaveLength(5);
      expect(report.samples.every((sample) => sample.partitionHour === hour.hour)).toBe(true);
    }
    const sealed = await layer.reader.sealedHours('site_minutely', { from: BASE, to: BASE + 3 * H });
    expect(sealed.map((s) => s.hour)).toEqual([BASE, BASE + H, BASE + 2 * H]);
    const rows = await layer.reader.readPartials('site_minutely', sealed, {});
    const events = data.flatMap((hour) => hour.events);
    expectSameRows(rows, reducerRows(siteMinutely, events));
    expectSiteMinuteTruth(siteMinutely, rows, siteMinuteTruth(events));
    const filtered = await layer.reader.readPartials('site_minutely', sealed, { site: 'sité-ü' });
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered.length).toBe(rows.filter((row) => row.dims[0] === 'sité-ü').length);
    // Nothing was written for the web views, and the web stream's partitions were never read.
    expect(await listKeys(env.lake.store, 'views/endpoint_hourly/')).toEqual([]);
  });

  it('deduplicates a stream without an id field by its whole normalized event', async () => {
    const meter = iotStream('meter', { withId: false });
    const meterMinutely = siteMinutelyView(meter, 'meter_minutely');
    const data = [0, 1].map((h) =>
      generateIotHour(BASE + h * H, {
        seed: 77 + h,
        readings: 400,
        withId: false,
        duplicateShare: 0.15,
        nearDuplicateShare: 0.1,
        badLines: 3,
        nowMs: NOW,
      }),
    );
    // A copy of an hour-1 reading filed under hour 0: a duplicate of the copy under its own hour.
    const stray = data[1]!.events[0]!;
    data[0]!.files.set('stray.json.gz', [JSON.stringify({ ...stray, ts: String(stray.ts) })]);
    for (const hour of data) await writeIotHour(env.lake.store, meter, hour);
    const layer = await env.open({
      catalog: createCatalog([meter], [meterMinutely]),
      now: () => NOW,
      maxBadRowRatio: 0.05,
    });
    const outcomes = await layer.runHours('meter_minutely', [BASE, BASE + H]);
    expect(outcomes.map((o) => o.status)).toEqual(['published', 'published']);
    // The stray copy is read under hour 0 and counted as a duplicate of the copy under hour 1.
    expect(outcomes.map((o) => [o.pointer!.rowsIn, o.pointer!.badRows, o.pointer!.duplicateRows])).toEqual([
      [data[0]!.lines + 1, data[0]!.bad, data[0]!.duplicates],
      [data[1]!.lines, data[1]!.bad, data[1]!.duplicates + 1],
    ]);
    const report = await readReport(env.lake.store, outcomes[0]!.pointer!.quarantineKey!);
    expect(report.partitions[0]).toMatchObject({ partitionHour: BASE, misplacedRows: 0 });
    const events = data.flatMap((hour) => hour.events);
    // Near-duplicates (one field differs) are distinct events and count.
    expect(new Set(events.map((event) => JSON.stringify(event))).size).toBe(events.length);
    const rows = await layer.reader.readPartials(
      'meter_minutely',
      await layer.reader.sealedHours('meter_minutely', { from: BASE, to: BASE + 2 * H }),
      {},
    );
    expectSameRows(rows, reducerRows(meterMinutely, events));
    expectSiteMinuteTruth(meterMinutely, rows, siteMinuteTruth(events));
  });
});

/** Readings as the IoT stream's archiver writes them: `JSON.stringify` of normalized events, and a manifest. */
async function writeArchivedIotHour(
  store: ObjectStore,
  stream: Stream,
  fingerprint: string,
  data: IotHour,
): Promise<void> {
  for (const [name, lines] of data.files) {
    const key = `${logPartitionPrefix(data.hour, stream.lakePrefix)}${name}`;
    const body = gzipSync(encodeNdjson(lines));
    await store.put(key, body);
    const manifest = buildArchiveManifest(key, body, lines.length, fingerprint, 65_536);
    await store.put(archiveManifestKey(key, stream.lakePrefix)!, JSON.stringify(manifest));
  }
}

/** An hour of distinct normalized readings, spread over files as an archiver keeps them (retries included). */
function archivedIotHour(hour: number, seed: number): IotHour {
  const source = generateIotHour(hour, { seed, readings: 300, badLines: 0, nearDuplicateShare: 0 });
  const files = new Map<string, Array<string | Buffer>>([
    ['iot-readings+0+1.json.gz', []],
    ['iot-readings+1+1.json.gz', []],
  ]);
  const names = [...files.keys()];
  source.events.forEach((event, i) => {
    const line = JSON.stringify(event);
    files.get(names[i % 2]!)!.push(line);
    if (i % 17 === 0) files.get(names[(i + 1) % 2]!)!.push(line); // a retry the archiver kept
  });
  const lines = [...files.values()].reduce((sum, list) => sum + list.length, 0);
  return { ...source, files, lines, duplicates: lines - source.events.length };
}

describe('the IoT stream in a deployment with the web stream (file lake)', () => {
  let env: TestEnv;
  beforeEach(async () => {
    env = await createTestEnv('file');
  });
  afterEach(async () => {
    await env.teardown();
  });

  it('reads files the IoT archiver validated without re-validating them, and validates them again under a changed fingerprint', async () => {
    const hours = [BASE, BASE + H];
    const archived = hours.map((hour, index) => archivedIotHour(hour, 90 + index));
    for (const hour of archived) await writeArchivedIotHour(env.lake.store, iot, iot.fingerprint, hour);
    const logs: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    // The clock stands 20 minutes into the last hour: its readings after 25 minutes are in the
    // future on both paths (the trusted read checks the time field named by the stream).
    const now = () => BASE + H + 20 * MINUTE_MS;
    const run = async (trustArchiveManifests: boolean, deployment: Catalog, view: string) => {
      logs.length = 0;
      const layer = await env.open({
        catalog: deployment,
        now,
        logger,
        trustArchiveManifests,
        maxBadRowRatio: 1,
      });
      const outcomes = await layer.runHours(view, hours, { force: true });
      expect(outcomes.map((o) => o.status)).toEqual(['published', 'published']);
      const computed = logs.filter((line) => line.msg === 'batch chunk computed');
      return {
        rows: await layer.reader.readPartials(
          view,
          await layer.reader.sealedHours(view, { from: BASE, to: BASE + 2 * H }),
          {},
        ),
        stats: outcomes.map((o) => [o.pointer!.rowsIn, o.pointer!.badRows, o.pointer!.duplicateRows]),
        trusted: computed.reduce((sum, line) => sum + Number(line.trustedFiles), 0),
        streams: computed.map((line) => line.stream),
      };
    };
    const validated = await run(false, catalog, 'site_minutely');
    const trusted = await run(true, catalog, 'site_minutely');
    expect(validated.trusted).toBe(0);
    expect(trusted.trusted).toBe(4);
    expect(trusted.streams).toEqual(['iot']);
    expect(trusted.stats).toEqual(validated.stats);
    expectSameRows(trusted.rows, validated.rows);
    // Truth: the future readings are bad (each copy), retries are duplicates.
    const latest = now() + 300_000;
    const truth = archived.map((hour) => {
      const all = [...hour.files.values()].flat().map((line) => JSON.parse(line as string) as StreamEvent);
      const bad = all.filter((event) => (event.ts as number) > latest).length;
      const ids = new Set(
        all.filter((event) => (event.ts as number) <= latest).map((event) => event.reading_id),
      );
      return [all.length, bad, all.length - bad - ids.size];
    });
    expect(truth[1]![1]).toBeGreaterThan(0);
    expect(trusted.stats).toEqual(truth);
    const accepted = archived
      .flatMap((hour) => hour.events)
      .filter((event) => (event.ts as number) <= latest);
    expectSameRows(trusted.rows, reducerRows(siteMinutely, accepted));

    // Another rule set (a lower maximum temperature) has another fingerprint: the same files are
    // validated line by line again, and readings above the new maximum are bad.
    const strict = iotStream('iot', { maxTemperature: 30 });
    expect(strict.fingerprint).not.toBe(iot.fingerprint);
    const strictView = siteMinutelyView(strict);
    const rechecked = await run(true, createCatalog([webStream, strict], [strictView]), 'site_minutely');
    expect(rechecked.trusted).toBe(0);
    const strictTruth = archived.map((hour) => {
      const all = [...hour.files.values()].flat().map((line) => JSON.parse(line as string) as StreamEvent);
      const bad = all.filter((e) => (e.ts as number) > latest || (e.temperature_c as number) > 30);
      const ids = new Set(all.filter((e) => !bad.includes(e)).map((e) => e.reading_id));
      return [all.length, bad.length, all.length - bad.length - ids.size];
    });
    expect(strictTruth[0]![1]).toBeGreaterThan(0);
    expect(rechecked.stats).toEqual(strictTruth);
    expectSameRows(
      rechecked.rows,
      reducerRows(
        strictView,
        accepted.filter((event) => (event.temperature_c as number) <= 30),
      ),
    );

    // A manifest of the web stream's fingerprint beside an IoT file does not make it trusted.
    await env.lake.store.delete(`${logPartitionPrefix(BASE, iot.lakePrefix)}iot-readings+1+1.json.gz`);
    await writeArchivedIotHour(env.lake.store, iot, webStream.fingerprint, {
      ...archived[0]!,
      files: new Map([...archived[0]!.files].slice(0, 1)),
    });
    const mixed = await run(true, catalog, 'site_minutely');
    expect(mixed.trusted).toBe(2); // hour 1's two files; hour 0's one file now carries the wrong fingerprint
  });

  it('maintains web and IoT views side by side: catch-up per stream, watermarks, staleness, sealed-through, history', async () => {
    // Web logs for hours 0-1 under logs/, IoT logs for hours 2-3 under streams/iot/logs/.
    const web = [0, 1].map((h) => generateHour(BASE + h * H, { seed: 120 + h, events: 150, badLines: 1 }));
    for (const hour of web) await writeHour(env.lake.store, hour);
    const readings = [2, 3].map((h) =>
      generateIotHour(BASE + h * H, { seed: 140 + h, readings: 200, badLines: 1 }),
    );
    for (const hour of readings) await writeIotHour(env.lake.store, iot, hour);
    let now = BASE + 5 * H + 30 * MINUTE_MS;
    const timers: number[] = [];
    const layer = await env.open({
      catalog,
      now: () => now,
      latenessMs: 0,
      catchUpMaxHours: 48,
      setTimer: (_callback, ms) => {
        timers.push(ms);
        return () => {};
      },
    });
    const scheduler = layer.createScheduler({ schedule: () => ({ stop: () => {} }), catchUpOnStart: false });
    const caughtUp = await scheduler.catchUp();
    const published = (view: string) =>
      caughtUp.filter((o) => o.view === view && o.status === 'published').map((o) => (o.hour - BASE) / H);
    // Each view's window starts at its own stream's earliest archived hour and ends at the last
    // complete hour (4); empty hours after the data are sealed too.
    expect(published('endpoint_hourly')).toEqual([0, 1, 2, 3, 4]);
    expect(published('trending_pages')).toEqual([0, 1, 2, 3, 4]);
    expect(published('site_minutely')).toEqual([2, 3, 4]);
    expect(caughtUp.filter((o) => o.status !== 'published')).toEqual([]);
    expect(await layer.reader.sealedThrough('site_minutely')).toBe(BASE + 5 * H);
    expect(await layer.reader.sealedThrough('endpoint_hourly')).toBe(BASE + 5 * H);
    const iotRows = await layer.reader.readPartials(
      'site_minutely',
      await layer.reader.sealedHours('site_minutely', { from: BASE, to: BASE + 5 * H }),
      {},
    );
    const iotEvents = readings.flatMap((hour) => hour.events);
    expectSameRows(iotRows, reducerRows(siteMinutely, iotEvents));
    const webRows = await layer.reader.readPartials(
      'endpoint_hourly',
      await layer.reader.sealedHours('endpoint_hourly', { from: BASE, to: BASE + 5 * H }),
      {},
    );
    expectEndpointTruth(
      catalog.view('endpoint_hourly'),
      webRows,
      endpointTruth(web.flatMap((hour) => hour.events)),
    );
    // Run history per view.
    const history = await layer.reader.runHistory('site_minutely', 50);
    expect(history.map((run) => (run.hour - BASE) / H).sort()).toEqual([2, 3, 4]);
    expect(history.every((run) => run.view === 'site_minutely' && run.trigger === 'catch-up')).toBe(true);

    // A late IoT file makes only the IoT hour stale (the web views read another prefix).
    const late = generateIotHour(BASE + 3 * H, { seed: 160, readings: 30, badLines: 0, files: 1 });
    const [name, lines] = [...late.files][0]!;
    await env.lake.store.put(
      `${logPartitionPrefix(BASE + 3 * H, iot.lakePrefix)}late-${name}`,
      gzipSync(encodeNdjson(lines)),
    );
    expect(await layer.reader.staleHours('site_minutely')).toEqual([BASE + 3 * H]);
    expect(await layer.reader.staleHours('endpoint_hourly')).toEqual([]);
    const status = await layer.status('site_minutely');
    expect(status).toMatchObject({
      view: 'site_minutely',
      stream: 'iot',
      staleHours: [BASE + 3 * H],
      missingHours: [],
    });
    const redone = await layer.backfill();
    expect(redone.map((o) => [o.view, (o.hour - BASE) / H, o.status])).toEqual([
      ['site_minutely', 3, 'published'],
    ]);
    const rows = await layer.reader.readPartials(
      'site_minutely',
      await layer.reader.sealedHours('site_minutely', { from: BASE + 3 * H, to: BASE + 4 * H }),
      {},
    );
    expectSiteMinuteTruth(siteMinutely, rows, siteMinuteTruth([...readings[1]!.events, ...late.events]));

    // Completeness per stream: with a long lateness delay, only the IoT archiver's watermark
    // (under streams/iot/logs/_watermarks/, for its topic) completes hour 5; the web hour waits.
    now = BASE + 6 * H + MINUTE_MS;
    const patient = await env.open({
      catalog,
      now: () => now,
      latenessMs: 10 * H,
      topicPartitions: 1,
      catchUpMaxHours: 48,
      setTimer: (_callback, ms) => {
        timers.push(ms);
        return () => {};
      },
    });
    await writeArchiverWatermark(
      env.lake.store,
      { topic: iot.topic, partition: 0, watermark: BASE + 6 * H, offset: '99', updatedAt: now },
      iot.lakePrefix,
    );
    expect(await env.lake.store.get(archiverWatermarkKey(iot.topic, 0, 'streams/iot/logs'))).not.toBeNull();
    // The web stream's topic has a watermark too, but it is still inside hour 5.
    await writeArchiverWatermark(env.lake.store, {
      topic: webStream.topic,
      partition: 0,
      watermark: BASE + 5 * H + 10,
      offset: '5',
      updatedAt: now,
    });
    expect(await patient.completeBefore(iot)).toBe(BASE + 6 * H + 1);
    expect(await patient.completeBefore(webStream)).toBe(BASE + 5 * H + 11);
    // No status refresh timer: the timers counted below are the hourly run's rechecks.
    const hourly = patient.createScheduler({
      schedule: () => ({ stop: () => {} }),
      catchUpOnStart: false,
      statusRefreshMs: 0,
    });
    hourly.start();
    const ran = await hourly.runHourly();
    expect(ran.filter((o) => o.status === 'published').map((o) => [o.view, (o.hour - BASE) / H])).toEqual([
      ['site_minutely', 5],
    ]);
    // The web views' last hour is still incomplete: the hourly run checks again later.
    expect(timers.filter((ms) => ms === patient.options.recheckMs)).toHaveLength(1);
    await hourly.stop();
    expect(await readPointer(env.lake.store, pointerKey('endpoint_hourly', 1, BASE + 5 * H))).toBeNull();
  });

  it('reads IoT Parquet inputs with a typed time column as the same readings', async () => {
    const data = generateIotHour(BASE, { seed: 200, readings: 250, badLines: 0 });
    await writeIotHour(env.lake.store, iot, data);
    const layer = await env.open({ catalog, now: () => NOW });
    const fromNdjson = await layer.runHour('site_minutely', BASE);
    const ndjsonRows = await layer.reader.readPartials(
      'site_minutely',
      await layer.reader.sealedHours('site_minutely', { from: BASE, to: BASE + H }),
      {},
    );
    // The same lines as Parquet, ts as a TIMESTAMP column (the lake's convention: UTC).
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    const ndjson = `${env.tempDirectory}/iot.json`;
    const parquet = `${env.tempDirectory}/iot.parquet`;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(ndjson, encodeNdjson([...data.files.values()].flat()));
    await connection.run(
      `COPY (SELECT reading_id, make_timestamp(CAST(ts AS BIGINT) * 1000) AS ts, site, device, temperature_c, battery_low
             FROM read_json('${ndjson}', format = 'newline_delimited', columns = {reading_id: 'VARCHAR', ts: 'VARCHAR',
               site: 'VARCHAR', device: 'VARCHAR', temperature_c: 'DOUBLE', battery_low: 'BOOLEAN'}))
           TO '${parquet}' (FORMAT parquet)`,
    );
    connection.closeSync();
    instance.closeSync();
    for (const name of data.files.keys())
      await env.lake.store.delete(`${logPartitionPrefix(BASE, iot.lakePrefix)}${name}`);
    await env.lake.store.putFile(`${logPartitionPrefix(BASE, iot.lakePrefix)}part-0.parquet`, parquet);
    const fromParquet = await layer.runHour('site_minutely', BASE);
    expect(fromParquet.status).toBe('published');
    expect([
      fromParquet.pointer!.rowsIn,
      fromParquet.pointer!.badRows,
      fromParquet.pointer!.duplicateRows,
    ]).toEqual([fromNdjson.pointer!.rowsIn, 0, data.duplicates]);
    const parquetRows = await layer.reader.readPartials(
      'site_minutely',
      await layer.reader.sealedHours('site_minutely', { from: BASE, to: BASE + H }),
      {},
    );
    expectSameRows(parquetRows, ndjsonRows);
    expectSameRows(parquetRows, reducerRows(siteMinutely, data.events));
  });

  it('judges an archiver file by the normalized form (epoch ms) and a foreign file by the raw encoding (epoch s)', async () => {
    const spec = iotStreamSpec('iot_s');
    const seconds = defineStream({
      ...spec,
      schema: { ...spec.schema, properties: { ...spec.schema.properties, ts: { type: 'number' } } },
      time: { field: 'ts', encoding: 'epoch_s' },
    });
    const view = siteMinutelyView(seconds, 'site_minutely_s');
    const readings = Array.from({ length: 40 }, (_, i) => ({
      reading_id: `r${i}`,
      ts: BASE + i * 61_000 + 7,
      site: `site-${i % 3}`,
      device: `d${i % 5}`,
      temperature_c: 10 + i / 4,
      battery_low: i % 7 === 0,
    }));
    const prefix = logPartitionPrefix(BASE, seconds.lakePrefix);
    // The archiver's form: normalized events, ts in epoch ms, no manifest (as after a crash).
    const archivedFile = `${prefix}${seconds.topic}+0+0.json.gz`;
    await env.lake.store.put(
      archivedFile,
      gzipSync(encodeNdjson(readings.slice(0, 20).map((r) => JSON.stringify(r)))),
    );
    // A foreign producer's form: ts in epoch seconds with a fraction.
    const foreignFile = `${prefix}export-1.json.gz`;
    await env.lake.store.put(
      foreignFile,
      gzipSync(encodeNdjson(readings.slice(20).map((r) => JSON.stringify({ ...r, ts: r.ts / 1000 })))),
    );
    const layer = await env.open({ catalog: createCatalog([seconds], [view]), now: () => NOW });
    const outcome = await layer.runHour('site_minutely_s', BASE);
    expect(outcome.status).toBe('published');
    expect([outcome.pointer!.rowsIn, outcome.pointer!.badRows]).toEqual([40, 0]);
    const rows = await layer.reader.readPartials(
      'site_minutely_s',
      await layer.reader.sealedHours('site_minutely_s', { from: BASE, to: BASE + H }),
      {},
    );
    expectSameRows(rows, reducerRows(view, readings));
  });

  it('refuses a view whose stream the catalog lacks, and names unknown views', async () => {
    const other = iotStream('other');
    await expect(
      env.open({ catalog, views: { other_minutely: siteMinutelyView(other, 'other_minutely') } }),
    ).rejects.toMatchObject({
      code: 'TANDEM_ERR_STREAM_UNKNOWN',
    });
    const layer = await env.open({ catalog });
    await expect(layer.runHour('no_such_view', BASE)).rejects.toMatchObject({
      code: 'TANDEM_ERR_VIEW_UNKNOWN',
    });
    // Extra views reading a catalog stream join it.
    const hourly = defineView(
      {
        name: 'site_hourly',
        stream: 'iot',
        bucket: '1h',
        dimensions: ['site'],
        measures: { readings: { kind: 'count' } },
      },
      iot,
    );
    const extended = await env.open({ catalog, views: { site_hourly: hourly } });
    expect(extended.views().map((view) => view.name)).toContain('site_hourly');
    expect(extended.streamOf('site_hourly')).toBe(iot);
  });
});

// Serving an injected catalog: the web stream beside an IoT stream (and a small stream whose fields
// are named like query parameters). Readers are seeded with partial states built from a handful of
// readings whose answers are worked out by hand below, so every merged number, every bucket's
// source and the generated routes, OpenAPI, catalog listing and status are checked exactly.
import { type Catalog, finalizeStates, HOUR_MS, MINUTE_MS, type StreamEvent, type View } from '@tandem/core';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, test } from 'vitest';
import { buildServer } from '../src/index.ts';
import { diffSeries, type SeriesAnswer } from './support/compare.ts';
import { MemoryBatchReader, MemorySpeedReader, partialsOf } from './support/fixtures.ts';
import { testCatalog } from './support/streams.ts';

const T0 = Date.UTC(2026, 0, 10, 0, 0, 0);
const H = (hour: number, minute = 0, second = 0) => T0 + hour * HOUR_MS + minute * MINUTE_MS + second * 1000;
const iso = (ms: number) => new Date(ms).toISOString();

const catalog: Catalog = testCatalog();
const siteMinutely: View = catalog.view('site_minutely');

let readingCounter = 0;
function reading(at: number, site: string, device: string, temperature: number, low = false): StreamEvent {
  return {
    reading_id: `r-${++readingCounter}`,
    ts: at,
    site,
    device,
    temperature_c: temperature,
    battery_low: low,
  };
}

// Hours 0 and 1: before the IoT stream had any data. Hours 2 and 3: sealed by batch. Hour 4: only
// in speed. Hour 5: quiet, before the speed watermark. Hour 6: after it.
const hour2 = [
  reading(H(2, 0, 10), 'berlin', 'b-1', 20),
  reading(H(2, 0, 40), 'berlin', 'b-2', 22, true),
  reading(H(2, 0, 50), 'lyon', 'l-1', 18),
  reading(H(2, 1, 5), 'berlin', 'b-1', 21),
  reading(H(2, 30), 'lyon', 'l-2', 19.5, true),
];
const hour3Speed = [
  reading(H(3, 15), 'berlin', 'b-3', 25),
  reading(H(3, 15, 30), 'berlin', 'b-3', 26, true),
  reading(H(3, 59, 59), 'lyon', 'l-1', 17),
];
/** Too late for the speed layer: only the batch layer counts it. */
const lateReading = reading(H(3, 15, 45), 'berlin', 'b-1', 30);
const hour4 = [
  reading(H(4, 0, 0), 'berlin', 'b-2', 23),
  reading(H(4, 0, 30), 'berlin', 'b-2', 23.5),
  reading(H(4, 7), 'lyon', 'l-2', 20, true),
  reading(H(4, 59), 'berlin', 'b-1', 24),
];
const allReadings = [...hour2, ...hour3Speed, lateReading, ...hour4];
const iotWatermark = H(5, 50);
const webWatermark = H(1, 12);

interface Setup {
  app: FastifyInstance;
  batch: MemoryBatchReader;
  speed: MemorySpeedReader;
  runIds: Record<number, string>;
}

let setup: Setup | undefined;
afterEach(async () => {
  await setup?.app.close();
  setup = undefined;
});

async function start(): Promise<Setup> {
  const batch = new MemoryBatchReader([...catalog.views]);
  const speed = new MemorySpeedReader([...catalog.views]);
  const runIds: Record<number, string> = {};
  const batchRows = partialsOf(siteMinutely, [...hour2, ...hour3Speed, lateReading]);
  for (const hour of [2, 3]) runIds[hour] = batch.publish('site_minutely', H(hour), batchRows).runId;
  // Speed still holds the sealed hours (until its grace period ends), without the late reading.
  speed.rows.set('site_minutely', partialsOf(siteMinutely, [...hour2, ...hour3Speed, ...hour4]));
  speed.watermarks.set('iot', iotWatermark);
  speed.watermarks.set('events', webWatermark);
  const app = await buildServer({
    catalog,
    batch,
    speed,
    logLevel: 'silent',
    now: () => H(6, 30),
    rateLimit: false,
    dashboardDir: null,
    speedCacheTtlMs: 0,
    closedSpeedCacheTtlMs: 0,
    snapshotTtlMs: 0,
  });
  return { app, batch, speed, runIds };
}

async function get(path: string, query: Record<string, string | number> = {}) {
  const search = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
  return setup!.app.inject({ url: `${path}${search.size > 0 ? `?${search}` : ''}` });
}

async function series(
  query: Record<string, string | number>,
): Promise<SeriesAnswer & Record<string, unknown>> {
  const response = await get('/v1/views/site_minutely/series', query);
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

const nothing = {
  readings: null,
  avg_temperature_c: null,
  max_temperature_c: null,
  p95_temperature_c: null,
  devices: null,
  low_battery: null,
};
const quiet = {
  readings: 0,
  avg_temperature_c: null,
  max_temperature_c: null,
  p95_temperature_c: null,
  devices: 0,
  low_battery: 0,
};

/** The p95 one sketch of these readings reports (its relative error is 1%), folded without merges. */
function p95Of(readings: StreamEvent[]): number {
  const measure = siteMinutely.measures.temperature_c!;
  const state = measure.empty();
  for (const r of readings) measure.add(state, r.temperature_c);
  return (measure.finalize(state) as Record<string, number>).p95_temperature_c!;
}

describe('a catalog with the web stream and an IoT stream', () => {
  test('hourly answers merge batch and speed per hour, with each hour’s source', async () => {
    setup = await start();
    const answer = await series({ from: H(0), to: H(7), granularity: '1h', groupBy: 'none' });
    expect(answer.coverage).toEqual([
      { bucket: iso(H(0)), source: 'none', runId: null },
      { bucket: iso(H(1)), source: 'none', runId: null },
      { bucket: iso(H(2)), source: 'batch', runId: setup.runIds[2] },
      { bucket: iso(H(3)), source: 'batch', runId: setup.runIds[3] },
      { bucket: iso(H(4)), source: 'speed', runId: null },
      { bucket: iso(H(5)), source: 'speed', runId: null },
      { bucket: iso(H(6)), source: 'none', runId: null },
    ]);
    expect(answer).toMatchObject({
      view: 'site_minutely',
      granularity: '1h',
      sealedThrough: iso(H(4)),
      // The IoT stream's own watermark, not the web stream's.
      speedWatermark: iso(iotWatermark),
      complete: false,
    });
    expect(answer.series).toHaveLength(1);
    const points = answer.series[0]!.points;
    expect(points.map((point) => [point.bucket, point.source])).toEqual([
      [iso(H(0)), 'none'],
      [iso(H(1)), 'none'],
      [iso(H(2)), 'batch'],
      [iso(H(3)), 'batch'],
      [iso(H(4)), 'speed'],
      [iso(H(5)), 'speed'],
      [iso(H(6)), 'none'],
    ]);
    // Hours before the stream had data and after the watermark: no data, not zeros.
    expect(points[0]!.values).toEqual(nothing);
    expect(points[1]!.values).toEqual(nothing);
    expect(points[6]!.values).toEqual(nothing);
    expect(points[2]!.values).toEqual({
      readings: 5,
      avg_temperature_c: 100.5 / 5,
      max_temperature_c: 22,
      p95_temperature_c: p95Of(hour2),
      devices: 4,
      low_battery: 2,
    });
    // Batch's hour 3 includes the late reading that speed never saw.
    expect(points[3]!.values).toEqual({
      readings: 4,
      avg_temperature_c: 98 / 4,
      max_temperature_c: 30,
      p95_temperature_c: p95Of([...hour3Speed, lateReading]),
      devices: 3,
      low_battery: 1,
    });
    expect(points[4]!.values).toEqual({
      readings: 4,
      avg_temperature_c: 90.5 / 4,
      max_temperature_c: 24,
      p95_temperature_c: p95Of(hour4),
      devices: 3,
      low_battery: 1,
    });
    // A quiet hour speed vouches for: zero readings.
    expect(points[5]!.values).toEqual(quiet);
    // The sketch's p95 of hour 2 lies within 1% of the true one (21, the 4th of 5 sorted values).
    expect(Math.abs((points[2]!.values.p95_temperature_c as number) - 21) / 21).toBeLessThanOrEqual(0.01);
  });

  test('a day merges sealed and live hours into one mixed bucket with exact sketches', async () => {
    setup = await start();
    const answer = await series({ from: H(0), to: H(24), granularity: '1d', groupBy: 'none' });
    const [point] = answer.series[0]!.points;
    expect(point!.source).toBe('mixed');
    expect(point!.values).toEqual({
      readings: 13,
      avg_temperature_c: (100.5 + 98 + 90.5) / 13,
      max_temperature_c: 30,
      p95_temperature_c: p95Of(allReadings),
      devices: 5,
      low_battery: 4,
    });
    // Sorted readings: 17 18 19.5 20 20 21 22 23 23.5 24 25 26 30; the p95 rank is the 12th.
    expect(Math.abs((point!.values.p95_temperature_c as number) - 26) / 26).toBeLessThanOrEqual(0.01);
  });

  test('minute and five-minute buckets per site, filtered by a site, equal the readings', async () => {
    setup = await start();
    const minutes = await series({ from: H(2), to: H(3), granularity: '1m', groupBy: 'site' });
    expect(minutes.series.map((s) => s.dims)).toEqual([{ site: 'berlin' }, { site: 'lyon' }]);
    const [berlin, lyon] = minutes.series;
    expect(berlin!.points).toHaveLength(60);
    expect(berlin!.points.every((point) => point.source === 'batch')).toBe(true);
    expect(berlin!.points[0]!.values).toMatchObject({
      readings: 2,
      avg_temperature_c: 21,
      max_temperature_c: 22,
      devices: 2,
      low_battery: 1,
    });
    expect(berlin!.points[1]!.values).toMatchObject({ readings: 1, avg_temperature_c: 21, devices: 1 });
    expect(berlin!.points[30]!.values).toEqual(quiet);
    expect(lyon!.points[0]!.values).toMatchObject({ readings: 1, max_temperature_c: 18, low_battery: 0 });
    expect(lyon!.points[30]!.values).toMatchObject({ readings: 1, max_temperature_c: 19.5, low_battery: 1 });

    const fives = await series({
      from: H(4),
      to: H(5),
      granularity: '5m',
      groupBy: 'none',
      site: 'berlin',
      measures: 'readings,avg_temperature_c,devices',
    });
    const values = fives.series[0]!.points.map((point) => [point.bucket, point.source, point.values]);
    expect(values).toHaveLength(12);
    expect(values[0]).toEqual([iso(H(4)), 'speed', { readings: 2, avg_temperature_c: 23.25, devices: 1 }]);
    // Lyon's reading at 04:07 is filtered out.
    expect(values[1]).toEqual([iso(H(4, 5)), 'speed', { readings: 0, avg_temperature_c: null, devices: 0 }]);
    expect(values[11]).toEqual([iso(H(4, 55)), 'speed', { readings: 1, avg_temperature_c: 24, devices: 1 }]);

    // Every granularity the view answers agrees with a truth folded straight from the readings.
    const empty = finalizeStates(siteMinutely, {});
    for (const granularity of ['1m', '5m', '15m', '30m', '1h', '1d', 'all'] as const) {
      for (const filter of [{}, { site: 'lyon' }] as Array<Record<string, string>>) {
        const answer = await series({ from: H(2), to: H(5), granularity, groupBy: 'site', ...filter });
        expect(
          diffSeries(siteMinutely, allReadings, { granularity, filter, groupBy: ['site'] }, answer, empty),
          `${granularity} ${JSON.stringify(filter)}`,
        ).toEqual([]);
      }
    }
  });

  test('top ranks sites over the range', async () => {
    setup = await start();
    const response = await get('/v1/views/site_minutely/top', {
      from: H(0),
      to: H(6),
      by: 'readings',
      dimension: 'site',
    });
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body.items.map((item: { value: string; score: number }) => [item.value, item.score])).toEqual([
      ['berlin', 9],
      ['lyon', 4],
    ]);
    expect(body.speedWatermark).toBe(iso(iotWatermark));
  });

  test('bad parameters get a coded 400 naming the parameter', async () => {
    setup = await start();
    const cases: Array<[string, Record<string, string | number>, string, string]> = [
      ['series', { granularity: '2m' }, 'granularity', 'must be one of 1m, 5m, 15m, 30m, 1h, 1d, all'],
      ['series', { device: 'b-1' }, 'device', 'is not an accepted parameter'],
      ['series', { groupBy: 'device' }, 'groupBy', 'must match pattern'],
      ['series', { measures: 'readings,humidity' }, 'measures', 'must match pattern'],
      ['series', { site: 'x'.repeat(513) }, 'site', 'must NOT have more than 512 characters'],
      [
        'series',
        { from: 'yesterday' },
        'from',
        'must be ISO-8601 (2025-01-31T14:00Z), epoch ms, now, or relative',
      ],
      ['series', { from: H(3), to: H(2) }, 'to', 'must be later than from'],
      ['top', { by: 'nope' }, 'by', 'must be one of readings, avg_temperature_c'],
      ['top', { dimension: 'device' }, 'dimension', 'must be one of site'],
      ['top', { k: 0 }, 'k', 'must be >= 1'],
    ];
    for (const [route, query, parameter, rule] of cases) {
      const response = await get(`/v1/views/site_minutely/${route}`, query);
      const label = `${route} ${JSON.stringify(query).slice(0, 60)}`;
      expect(response.statusCode, label).toBe(400);
      const { error } = response.json();
      expect(error.code, label).toBe('TANDEM_ERR_QUERY_INVALID');
      expect(error.parameter, label).toBe(parameter);
      expect(error.message, label).toContain(rule);
    }
    // Minutes over three days: more buckets than a query may ask for.
    const tooLong = await get('/v1/views/site_minutely/series', { from: H(0), to: H(72), granularity: '1m' });
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json().error).toMatchObject({ code: 'TANDEM_ERR_QUERY_TOO_LARGE', parameter: 'from' });
  });

  test('dimensions named like query parameters filter through filter.<name>; numbers compare as numbers', async () => {
    setup = await start();
    const mail = catalog.view('mail_by_size');
    const messages: StreamEvent[] = [
      { id: 'm1', at: H(1, 3), from: 'ann', to: 'bob', size: 300 },
      { id: 'm2', at: H(1, 20), from: 'ann', to: 'cy', size: 300 },
      { id: 'm3', at: H(1, 21), from: 'bob', to: 'ann', size: 12 },
    ];
    setup.speed.rows.set('mail_by_size', partialsOf(mail, messages));
    setup.speed.watermarks.set('mail', H(1, 59));
    const total = async (query: Record<string, string>) => {
      const response = await get('/v1/views/mail_by_size/series', {
        from: H(1),
        to: H(2),
        granularity: '1h',
        groupBy: 'none',
        ...query,
      });
      expect(response.statusCode, response.body).toBe(200);
      return response.json().series[0]?.points[0]?.values.messages;
    };
    expect(await total({})).toBe(3);
    expect(await total({ 'filter.from': 'ann' })).toBe(2);
    expect(await total({ 'filter.to': 'ann' })).toBe(1);
    expect(await total({ 'filter.from': 'ann', 'filter.to': 'cy' })).toBe(1);
    expect(await total({ size: '0300' })).toBe(2);
    expect(await total({ size: '+12' })).toBe(1);
    const fifteen = await get('/v1/views/mail_by_size/series', {
      from: H(1),
      to: H(2),
      granularity: '15m',
      groupBy: 'from,to',
    });
    expect(fifteen.statusCode, fifteen.body).toBe(200);
    expect(fifteen.json().series.map((s: { dims: object }) => s.dims)).toEqual([
      { from: 'ann', to: 'bob' },
      { from: 'ann', to: 'cy' },
      { from: 'bob', to: 'ann' },
    ]);
    const badSize = await get('/v1/views/mail_by_size/series', { size: '3.5' });
    expect(badSize.statusCode).toBe(400);
    expect(badSize.json().error.parameter).toBe('size');
    // `to` stays the range end; a five-minute granularity is finer than the view's 15-minute buckets.
    const badTo = await get('/v1/views/mail_by_size/series', { to: 'bob' });
    expect(badTo.json().error.parameter).toBe('to');
    const fine = await get('/v1/views/mail_by_size/series', { granularity: '5m' });
    expect(fine.json().error).toMatchObject({ parameter: 'granularity' });
  });

  test('GET /v1/streams lists each stream with its fields and the views over it', async () => {
    setup = await start();
    const response = await get('/v1/streams');
    expect(response.statusCode, response.body).toBe(200);
    const { streams } = response.json();
    expect(streams.map((stream: { name: string }) => stream.name)).toEqual(['events', 'iot', 'mail']);
    const iot = streams[1];
    expect(iot).toEqual({
      name: 'iot',
      topic: 'test-iot-readings',
      dlqTopic: 'test-iot-readings.dlq',
      lateTopic: 'test-iot-readings.late',
      timeField: 'ts',
      timeEncoding: 'epoch_ms',
      idField: 'reading_id',
      fingerprint: catalog.stream('iot').fingerprint,
      fields: [
        { name: 'reading_id', type: 'string', required: true, nullable: false },
        { name: 'ts', type: 'integer', required: true, nullable: false },
        { name: 'site', type: 'string', required: true, nullable: false },
        { name: 'device', type: 'string', required: true, nullable: false },
        { name: 'temperature_c', type: 'number', required: true, nullable: false },
        { name: 'battery_low', type: 'boolean', required: false, nullable: false },
      ],
      views: [
        {
          name: 'site_minutely',
          version: 1,
          fingerprint: catalog.view('site_minutely').fingerprint,
          bucket: '1m',
          granularities: ['1m', '5m', '15m', '30m', '1h', '1d', 'all'],
          sessionized: false,
          dimensions: [{ name: 'site', type: 'string', parameter: 'site' }],
          measures: [
            { name: 'readings', kind: 'count', field: null, values: ['readings'] },
            { name: 'avg_temperature_c', kind: 'avg', field: 'temperature_c', values: ['avg_temperature_c'] },
            { name: 'max_temperature_c', kind: 'max', field: 'temperature_c', values: ['max_temperature_c'] },
            {
              name: 'temperature_c',
              kind: 'quantiles',
              field: 'temperature_c',
              values: ['p95_temperature_c'],
            },
            { name: 'devices', kind: 'distinct', field: 'device', values: ['devices'] },
            { name: 'low_battery', kind: 'count', field: null, values: ['low_battery'] },
          ],
          numericValues: [
            'readings',
            'avg_temperature_c',
            'max_temperature_c',
            'p95_temperature_c',
            'devices',
            'low_battery',
          ],
          routes: { series: '/v1/views/site_minutely/series', top: '/v1/views/site_minutely/top' },
        },
      ],
    });
    const web = streams[0];
    expect(web.views.map((view: { name: string }) => view.name)).toEqual([
      'endpoint_hourly',
      'sessions_hourly',
      'trending_pages',
    ]);
    expect(web.views[2].numericValues).toEqual(['views']);
    expect(web.views[2].routes.top).toBeNull();
    expect(streams[2].views[0].dimensions).toEqual([
      { name: 'from', type: 'string', parameter: 'filter.from' },
      { name: 'to', type: 'string', parameter: 'filter.to' },
      { name: 'size', type: 'integer', parameter: 'size' },
    ]);
    // /v1/views names each view's stream and that stream's own watermark.
    const views = (await get('/v1/views')).json().views;
    const iotView = views.find((view: { name: string }) => view.name === 'site_minutely');
    expect(iotView).toMatchObject({
      stream: 'iot',
      fingerprint: catalog.view('site_minutely').fingerprint,
      sealedThrough: iso(H(4)),
      speedWatermark: iso(iotWatermark),
    });
    expect(views.find((view: { name: string }) => view.name === 'endpoint_hourly')).toMatchObject({
      stream: 'events',
      speedWatermark: iso(webWatermark),
    });
  });

  test('/v1/status reports every view with its stream, and each stream’s speed layer', async () => {
    setup = await start();
    const response = await get('/v1/status');
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body.views.map((view: { view: string; stream: string }) => [view.view, view.stream])).toEqual([
      ['endpoint_hourly', 'events'],
      ['sessions_hourly', 'events'],
      ['trending_pages', 'events'],
      ['site_minutely', 'iot'],
      ['mail_by_size', 'mail'],
    ]);
    expect(body.views[3]).toMatchObject({ sealedThrough: iso(H(4)), staleHours: [], error: null });
    expect(body.views[3].lastRuns.map((run: { runId: string }) => run.runId)).toEqual([
      setup.runIds[2],
      setup.runIds[3],
    ]);
    expect(
      body.streams.map((s: { stream: string; topic: string; speed: { watermark: string } }) => [
        s.stream,
        s.topic,
        s.speed.watermark,
      ]),
    ).toEqual([
      ['events', 'events', iso(webWatermark)],
      ['iot', 'test-iot-readings', iso(iotWatermark)],
      ['mail', 'test-mail', null],
    ]);
    expect(body.streams[1].speed.lagMs).toBe(H(6, 30) - iotWatermark);
    // `speed` is still the first stream's, for clients written before there were several.
    expect(body.speed).toEqual(body.streams[0].speed);
    expect(new Set(setup.speed.statusAsked)).toEqual(new Set(['events', 'iot', 'mail']));
  });

  test('the OpenAPI spec carries the generated routes of every view', async () => {
    setup = await start();
    const spec = (await get('/docs/json')).json();
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/v1/streams',
        '/v1/views/site_minutely/series',
        '/v1/views/site_minutely/top',
        '/v1/views/mail_by_size/series',
        '/v1/views/endpoint_hourly/series',
      ]),
    );
    const parameters = Object.fromEntries(
      spec.paths['/v1/views/site_minutely/series'].get.parameters.map(
        (p: { name: string; schema: Record<string, unknown> }) => [p.name, p.schema],
      ),
    );
    expect(Object.keys(parameters).sort()).toEqual([
      'from',
      'granularity',
      'groupBy',
      'measures',
      'site',
      'to',
    ]);
    expect(parameters.granularity).toMatchObject({
      enum: ['1m', '5m', '15m', '30m', '1h', '1d', 'all'],
      default: '1h',
    });
    const measures = new RegExp(parameters.measures.pattern as string);
    expect(measures.test('readings,p95_temperature_c,temperature_c,low_battery')).toBe(true);
    expect(measures.test('requests')).toBe(false);
    expect(parameters.site).toMatchObject({ type: 'string', maxLength: 512 });
    const top = Object.fromEntries(
      spec.paths['/v1/views/site_minutely/top'].get.parameters.map(
        (p: { name: string; schema: Record<string, unknown> }) => [p.name, p.schema],
      ),
    );
    expect(top.by.enum).toEqual([
      'readings',
      'avg_temperature_c',
      'max_temperature_c',
      'p95_temperature_c',
      'devices',
      'low_battery',
    ]);
    expect(top.dimension.enum).toEqual(['site']);
    const mail = spec.paths['/v1/views/mail_by_size/series'].get.parameters.map(
      (p: { name: string }) => p.name,
    );
    expect(mail).toEqual(expect.arrayContaining(['from', 'to', 'filter.from', 'filter.to', 'size']));
    expect(spec.paths['/v1/streams'].get.responses['200']).toBeDefined();
  });

  test('a server without a catalog serves the built-in web views only', async () => {
    const batch = new MemoryBatchReader([...catalog.views]);
    const speed = new MemorySpeedReader([...catalog.views]);
    const app = await buildServer({ batch, speed, logLevel: 'silent', rateLimit: false, dashboardDir: null });
    setup = { app, batch, speed, runIds: {} };
    const { streams } = (await get('/v1/streams')).json();
    expect(
      streams.map((s: { name: string; views: Array<{ name: string }> }) => [
        s.name,
        s.views.map((v) => v.name),
      ]),
    ).toEqual([['events', ['endpoint_hourly', 'sessions_hourly', 'trending_pages']]]);
    const unknown = await get('/v1/views/site_minutely/series');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('TANDEM_ERR_VIEW_UNKNOWN');
  });
});

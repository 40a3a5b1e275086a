// A stand-in for the serving layer while developing the dashboard: serves the dashboard's static
// files and canned /v1 answers shaped like docs/contracts.md, computed from the clock so "last 24
// hours" always has data, for the web stream and an IoT stream that began 10 hours ago.
// `POST /__fixture` changes its state (sealed-through, speed down, key).
// Run: node test/e2e/dashboard/fixture-server.ts [port]
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HOUR_MS } from '@tandem/core';
import { apiClient, type DashboardBackend } from './backend.ts';

export const dashboardDir = resolve(
  fileURLToPath(new URL('../../../packages/serving/dashboard/', import.meta.url)),
);

export interface FixtureState {
  /** Hours before the current one that are sealed by the batch layer. */
  sealedLagHours: number;
  speedDown: boolean;
  apiKey: string | null;
}

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
};

const endpoints = ['/api/orders', '/api/users', '/checkout', '/home'];

/** Deterministic per-hour numbers, so two calls for the same hour agree. */
function hourValues(hour: number, endpoint: string | null) {
  const h = hour / HOUR_MS;
  const share = endpoint === null ? 1 : (endpoints.indexOf(endpoint) + 1) / 10;
  const requests = Math.round((800 + 400 * Math.sin(h / 3) + (h % 7) * 13) * share);
  const errors = Math.round(requests * (0.01 + 0.01 * ((h % 5) / 5)));
  return { requests, errors_5xx: errors, p95_latency_ms: 120 + 40 * Math.cos(h / 4) + (h % 3) };
}

function series(url: URL, state: FixtureState, now: number) {
  const from = Date.parse(url.searchParams.get('from') ?? '');
  const to = Date.parse(url.searchParams.get('to') ?? '');
  const endpoint = url.searchParams.get('endpoint');
  const currentHour = Math.floor(now / HOUR_MS) * HOUR_MS;
  const sealedThrough = currentHour - state.sealedLagHours * HOUR_MS;
  const coverage = [];
  const points = [];
  for (let hour = Math.ceil(from / HOUR_MS) * HOUR_MS; hour < to; hour += HOUR_MS) {
    // Two hours before sealed-through have no data at all, to show a gap.
    const source =
      hour < sealedThrough
        ? 'batch'
        : hour <= currentHour && !(state.speedDown && hour === currentHour)
          ? 'speed'
          : 'none';
    const missing = hour === sealedThrough - 20 * HOUR_MS;
    const served = missing ? 'none' : source;
    coverage.push({
      bucket: new Date(hour).toISOString(),
      source: served,
      runId: served === 'batch' ? `run-${hour}` : null,
    });
    if (served !== 'none') {
      points.push({
        bucket: new Date(hour).toISOString(),
        source: served,
        values: hourValues(hour, endpoint),
      });
    }
  }
  return {
    view: 'endpoint_hourly',
    granularity: '1h',
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    sealedThrough: new Date(sealedThrough).toISOString(),
    speedWatermark: new Date(now - 30_000).toISOString(),
    freshnessMs: 30_000,
    complete: false,
    coverage,
    series: [{ dims: endpoint ? { endpoint } : {}, points }],
  };
}

/** The IoT stream's first reading: the hours before it have no data. */
const IOT_HOURS = 10;
const sites = ['berlin', 'lyon', 'oslo'];
const granularityMs: Record<string, number> = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '30m': 1_800_000,
  '1h': HOUR_MS,
  '1d': 24 * HOUR_MS,
};

/** Deterministic per-bucket readings of one site (or all), so two calls for a bucket agree. */
function iotValues(bucket: number, bucketMs: number, site: string | null) {
  const m = bucket / 60_000;
  const shares = site === null ? [1, 2, 3] : [sites.indexOf(site) + 1];
  const minutes = bucketMs / 60_000;
  const readings = shares.reduce((sum, share) => sum + share * minutes * (2 + (m % 3)), 0);
  const base = 18 + 4 * Math.sin(m / 90) + (site === null ? 0 : sites.indexOf(site));
  return {
    readings,
    avg_temperature_c: Math.round(base * 100) / 100,
    max_temperature_c: Math.round((base + 3.5) * 100) / 100,
    p95_temperature_c: Math.round((base + 2.75) * 100) / 100,
    devices: shares.length * 4,
    low_battery: Math.floor(readings / 97),
  };
}

function iotSeries(url: URL, state: FixtureState, now: number) {
  const from = Date.parse(url.searchParams.get('from') ?? '');
  const to = Date.parse(url.searchParams.get('to') ?? '');
  const granularity = url.searchParams.get('granularity') ?? '1h';
  const bucketMs = granularityMs[granularity] ?? HOUR_MS;
  const site = url.searchParams.get('site');
  const wanted = (url.searchParams.get('measures') ?? '').split(',').filter(Boolean);
  const currentHour = Math.floor(now / HOUR_MS) * HOUR_MS;
  const sealedThrough = currentHour - state.sealedLagHours * HOUR_MS;
  const firstHour = currentHour - IOT_HOURS * HOUR_MS;
  const sourceOf = (hour: number) =>
    hour < firstHour ? 'none' : hour < sealedThrough ? 'batch' : hour <= currentHour ? 'speed' : 'none';
  const coverage = [];
  for (let hour = Math.floor(from / HOUR_MS) * HOUR_MS; hour < to; hour += HOUR_MS) {
    const source = sourceOf(hour);
    coverage.push({
      bucket: new Date(hour).toISOString(),
      source,
      runId: source === 'batch' ? `run-${hour}` : null,
    });
  }
  const points = [];
  for (let bucket = from; bucket < to; bucket += bucketMs) {
    const hours = new Set<string>();
    for (let hour = Math.floor(bucket / HOUR_MS) * HOUR_MS; hour < bucket + bucketMs; hour += HOUR_MS) {
      hours.add(sourceOf(hour));
    }
    const served = [...hours].filter((source) => source !== 'none');
    const source = served.length === 0 ? 'none' : hours.size === 1 ? served[0]! : 'mixed';
    const all = iotValues(bucket, bucketMs, site);
    const values = Object.fromEntries(
      Object.entries(all)
        .filter(([name]) => wanted.length === 0 || wanted.includes(name))
        .map(([name, value]) => [name, source === 'none' ? null : value]),
    );
    points.push({ bucket: new Date(bucket).toISOString(), source, values });
  }
  return {
    view: 'site_minutely',
    granularity,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    sealedThrough: new Date(sealedThrough).toISOString(),
    speedWatermark: new Date(now - 30_000).toISOString(),
    freshnessMs: 30_000,
    complete: false,
    coverage,
    series: [{ dims: site ? { site } : {}, points }],
  };
}

const granularitiesFrom = (bucket: string) =>
  ['1m', '5m', '15m', '30m', '1h', '1d', 'all'].slice(['1m', '5m', '15m', '30m', '1h'].indexOf(bucket));

/** Shaped like the serving layer's `/v1/streams` (routes/streams.ts). */
function streams() {
  const view = (
    name: string,
    bucket: string,
    dimensions: string[],
    measures: Array<{ name: string; kind: string; field: string | null; values: string[] }>,
  ) => ({
    name,
    version: 1,
    bucket,
    granularities: granularitiesFrom(bucket),
    sessionized: name === 'sessions_hourly',
    dimensions: dimensions.map((d) => ({ name: d, type: 'string', parameter: d })),
    measures,
    numericValues: measures.filter((m) => m.kind !== 'topK').flatMap((m) => m.values),
    routes: {
      series: `/v1/views/${name}/series`,
      top: dimensions.length > 0 ? `/v1/views/${name}/top` : null,
    },
  });
  const m = (name: string, kind: string, field: string | null = null, values = [name]) => ({
    name,
    kind,
    field,
    values,
  });
  const field = (name: string, type: string, required = true) => ({ name, type, required, nullable: false });
  return {
    streams: [
      {
        name: 'events',
        topic: 'events',
        dlqTopic: 'events.dlq',
        lateTopic: 'events.late',
        timeField: 'timestamp',
        timeEncoding: 'auto',
        idField: 'event_id',
        fingerprint: 'events/fixture',
        fields: [field('event_id', 'string'), field('timestamp', 'integer'), field('endpoint', 'string')],
        views: [
          view(
            'endpoint_hourly',
            '1h',
            ['endpoint'],
            [
              m('requests', 'count'),
              m('requests_2xx', 'count'),
              m('errors_5xx', 'count'),
              m('avg_latency_ms', 'avg', 'response_time_ms'),
              m('latency_ms', 'quantiles', 'response_time_ms', [
                'p50_latency_ms',
                'p95_latency_ms',
                'p99_latency_ms',
              ]),
            ],
          ),
          view('sessions_hourly', '1h', [], [m('sessions', 'count')]),
          view('trending_pages', '1m', [], [m('views', 'count'), m('page_views', 'topK', 'page_id')]),
        ],
      },
      {
        name: 'iot',
        topic: 'iot-readings',
        dlqTopic: 'iot-readings.dlq',
        lateTopic: 'iot-readings.late',
        timeField: 'ts',
        timeEncoding: 'epoch_ms',
        idField: 'reading_id',
        fingerprint: 'iot/fixture',
        fields: [
          field('reading_id', 'string'),
          field('ts', 'integer'),
          field('site', 'string'),
          field('device', 'string'),
          field('temperature_c', 'number'),
          field('battery_low', 'boolean', false),
        ],
        views: [
          view(
            'site_minutely',
            '1m',
            ['site'],
            [
              m('readings', 'count'),
              m('avg_temperature_c', 'avg', 'temperature_c'),
              m('max_temperature_c', 'max', 'temperature_c'),
              m('temperature_c', 'quantiles', 'temperature_c', ['p95_temperature_c']),
              m('devices', 'distinct', 'device'),
              m('low_battery', 'count'),
            ],
          ),
        ],
      },
    ],
  };
}

/** Shaped like the serving layer's `/v1/status` (routes/operations.ts), runs like core's `RunRecord`. */
function status(state: FixtureState, now: number) {
  const currentHour = Math.floor(now / HOUR_MS) * HOUR_MS;
  const sealedThrough = currentHour - state.sealedLagHours * HOUR_MS;
  const runs = (view: string) =>
    [0, 1, 2].map((i) => {
      const hour = sealedThrough - (i + 1) * HOUR_MS;
      const startedAt = hour + HOUR_MS + 5 * 60_000;
      return {
        runId: `${view}-${hour}`,
        view,
        hour,
        status: i === 1 && view === 'trending_pages' ? 'skipped' : 'published',
        trigger: 'hourly',
        startedAt,
        finishedAt: startedAt + 1800 + 100 * i,
        durationMs: 1800 + 100 * i,
        reason: i === 1 && view === 'trending_pages' ? 'up-to-date' : null,
        error: null,
      };
    });
  const view = (name: string, stream = 'events') => ({
    view: name,
    stream,
    sealedThrough: new Date(sealedThrough).toISOString(),
    staleHours: name === 'sessions_hourly' ? [new Date(sealedThrough - 5 * HOUR_MS).toISOString()] : [],
    lastRuns: runs(name),
    error: null,
  });
  // `stopSpeed` stops the web stream's speed layer; the IoT stream's keeps running.
  const speed = (partitions: number, applied: number, down: boolean) => {
    const watermark = down ? now - 10 * 60_000 : now - 30_000;
    return {
      watermark: new Date(watermark).toISOString(),
      maxEventTime: new Date(now - 1_000).toISOString(),
      lagMs: now - watermark,
      partitions: Array.from({ length: partitions }, (_, partition) => ({
        partition,
        appliedOffset: String(100_000 + partition * 777),
        lag: down ? 1400 : 0,
      })),
      dlqCount: 3,
      lateCount: 12,
      eventsApplied: applied,
      error: null,
    };
  };
  const web = speed(3, 987_654, state.speedDown);
  return {
    now: new Date(now).toISOString(),
    views: [
      view('endpoint_hourly'),
      view('sessions_hourly'),
      view('trending_pages'),
      view('site_minutely', 'iot'),
    ],
    streams: [
      { stream: 'events', topic: 'events', speed: web },
      { stream: 'iot', topic: 'iot-readings', speed: speed(2, 54_321, false) },
    ],
    speed: web,
  };
}

function trending(now: number) {
  const to = Math.floor(now / 60_000) * 60_000;
  const pages = ['home', 'pricing', 'docs/getting-started', 'blog/lambda-vs-kappa', 'signup', 'about'];
  return {
    view: 'trending_pages',
    window: '5m',
    from: new Date(to - 5 * 60_000).toISOString(),
    to: new Date(to).toISOString(),
    by: 'page_views',
    sealedThrough: null,
    speedWatermark: new Date(now - 30_000).toISOString(),
    items: pages.map((page, i) => ({ rank: i + 1, page, score: 500 - i * 70, source: 'speed' })),
  };
}

function views() {
  return {
    views: [
      {
        name: 'endpoint_hourly',
        bucket: '1h',
        dimensions: ['endpoint'],
        measures: [
          'requests',
          'requests_2xx',
          'errors_5xx',
          'avg_latency_ms',
          'p50_latency_ms',
          'p95_latency_ms',
        ],
      },
    ],
  };
}

function send(res: ServerResponse, code: number, body: unknown) {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}

/** Start the fixture server; `port` 0 picks a free one. */
export async function startFixtureServer(
  port = 0,
  initial: Partial<FixtureState> = {},
): Promise<{ url: string; state: FixtureState; server: Server }> {
  const state: FixtureState = { sealedLagHours: 2, speedDown: false, apiKey: null, ...initial };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const now = Date.now();
    try {
      if (url.pathname === '/__fixture' && req.method === 'POST') {
        Object.assign(state, JSON.parse(await readBody(req)));
        return send(res, 200, state);
      }
      if (url.pathname.startsWith('/v1/')) {
        if (state.apiKey !== null && req.headers['x-api-key'] !== state.apiKey) {
          return send(res, 401, {
            error: { code: 'TANDEM_ERR_AUTH_MISSING', message: 'this route needs an API key' },
          });
        }
        if (url.pathname === '/v1/streams') return send(res, 200, streams());
        if (url.pathname === '/v1/views') return send(res, 200, views());
        if (url.pathname === '/v1/views/endpoint_hourly/series')
          return send(res, 200, series(url, state, now));
        if (url.pathname === '/v1/views/endpoint_hourly/top') {
          return send(res, 200, {
            items: endpoints.map((endpoint, i) => ({
              rank: i + 1,
              value: endpoint,
              score: 1000 - i,
              source: 'mixed',
              values: {},
            })),
          });
        }
        if (url.pathname === '/v1/views/site_minutely/series')
          return send(res, 200, iotSeries(url, state, now));
        if (url.pathname === '/v1/views/site_minutely/top') {
          return send(res, 200, {
            items: sites.map((site, i) => ({
              rank: i + 1,
              value: site,
              score: 900 - i,
              source: 'mixed',
              values: {},
            })),
          });
        }
        if (url.pathname === '/v1/trending') return send(res, 200, trending(now));
        if (url.pathname === '/v1/status') return send(res, 200, status(state, now));
        return send(res, 404, {
          error: { code: 'TANDEM_ERR_NOT_FOUND', message: `no route ${url.pathname}` },
        });
      }
      const relative =
        url.pathname === '/' ? 'index.html' : normalize(decodeURIComponent(url.pathname)).slice(1);
      const file = join(dashboardDir, relative);
      if (!file.startsWith(dashboardDir)) {
        return send(res, 403, {
          error: { code: 'TANDEM_ERR_AUTH_FORBIDDEN', message: 'outside the dashboard' },
        });
      }
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      send(res, 404, { error: { code: 'TANDEM_ERR_NOT_FOUND', message: 'not found' } });
    }
  });
  await new Promise<void>((ready) => server.listen(port, '127.0.0.1', ready));
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return { url: `http://127.0.0.1:${actualPort}`, state, server };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { url } = await startFixtureServer(Number(process.argv[2] ?? 8090));
  console.log(`dashboard fixture server on ${url}`);
}

/** The fixture server as a {@link DashboardBackend}, for developing the dashboard without the stack. */
export async function startFixtureBackend(): Promise<DashboardBackend> {
  const apiKey = 'fixture-key';
  const { url, state, server } = await startFixtureServer(0, { apiKey });
  return {
    live: false,
    url,
    apiKey,
    api: apiClient(url, apiKey),
    async publishNextHour() {
      state.sealedLagHours -= 1;
      return (Math.floor(Date.now() / HOUR_MS) - state.sealedLagHours) * HOUR_MS;
    },
    async stopSpeed() {
      state.speedDown = true;
    },
    startTraffic() {},
    async stopTraffic() {},
    async waitForSpeedIdle() {},
    async logs() {
      return '';
    },
    close: () => new Promise<void>((done, fail) => server.close((error) => (error ? fail(error) : done()))),
  };
}

// HTTP concerns through app.inject(): parameter validation naming the parameter and rule, limits,
// API keys and scopes on every protected route, injection strings and oversized values, rate
// limits, logging without keys, CORS, docs, metrics, readiness, status and the admin recompute.
import { Writable } from 'node:stream';
import { HOUR_MS } from '@tandem/core';
import pino from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { defaultDashboardDir } from '../src/index.ts';
import { RecordingRecomputeQueue } from './support/recompute-queue.ts';
import { type Seeded, seededServer, sha256, T0 } from './support/server.ts';

let seeded: Seeded | undefined;
afterEach(async () => {
  await seeded?.app.close();
  seeded = undefined;
});

const READ_KEY = 'read-key-0123456789';
const ADMIN_KEY = 'admin-key-0123456789';
const apiKeys = [
  { name: 'reader', sha256: sha256(READ_KEY), scopes: ['read' as const] },
  { name: 'operator', sha256: sha256(ADMIN_KEY), scopes: ['admin' as const] },
];

/** Every protected route with a valid request. */
const protectedRoutes: Array<{
  method: 'GET' | 'POST';
  url: string;
  payload?: object;
  scope: 'read' | 'admin';
}> = [
  { method: 'GET', url: '/v1/views', scope: 'read' },
  { method: 'GET', url: `/v1/views/endpoint_hourly/series?from=${T0}&to=${T0 + 3 * HOUR_MS}`, scope: 'read' },
  { method: 'GET', url: `/v1/views/sessions_hourly/series?from=${T0}&to=${T0 + 3 * HOUR_MS}`, scope: 'read' },
  { method: 'GET', url: `/v1/views/trending_pages/series?from=${T0}&to=${T0 + 3 * HOUR_MS}`, scope: 'read' },
  { method: 'GET', url: `/v1/views/endpoint_hourly/top?from=${T0}&to=${T0 + 3 * HOUR_MS}`, scope: 'read' },
  { method: 'GET', url: '/v1/trending', scope: 'read' },
  { method: 'GET', url: '/v1/status', scope: 'read' },
  {
    method: 'POST',
    url: '/v1/ops/recompute',
    payload: {
      view: 'endpoint_hourly',
      from: new Date(T0).toISOString(),
      to: new Date(T0 + 2 * HOUR_MS).toISOString(),
    },
    scope: 'admin',
  },
];

describe('validation', () => {
  test('a 400 names the parameter and the rule', async () => {
    seeded = await seededServer();
    const cases: Array<[string, string, string]> = [
      ['from=yesterday', 'from', 'querystring/from must be ISO-8601 (2025-01-31T14:00Z), epoch ms, now, or'],
      ['to=2026-13-45', 'to', 'querystring/to must be ISO-8601 (2025-01-31T14:00Z), epoch ms, now, or'],
      ['granularity=1m', 'granularity', 'querystring/granularity must be one of 1h, 1d, all'],
      ['granularity=5h', 'granularity', 'querystring/granularity must be one of 1h, 1d, all'],
      ['groupBy=user_id', 'groupBy', 'querystring/groupBy must match pattern'],
      ['measures=requests,nope', 'measures', 'querystring/measures must match pattern'],
      ['page_id=p1', 'page_id', 'querystring/page_id is not an accepted parameter'],
      [`from=${T0 + HOUR_MS}&to=${T0}`, 'to', 'querystring/to must be later than from'],
    ];
    for (const [query, parameter, message] of cases) {
      const response = await seeded.app.inject({ url: `/v1/views/endpoint_hourly/series?${query}` });
      expect(response.statusCode, query).toBe(400);
      const body = response.json();
      expect(body.error.code, query).toBe('TANDEM_ERR_QUERY_INVALID');
      expect(body.error.parameter, query).toBe(parameter);
      expect(body.error.message.startsWith(message), `${query}: ${body.error.message}`).toBe(true);
    }
  });

  test('limits on range, groups and size answer 400 TANDEM_ERR_QUERY_TOO_LARGE', async () => {
    seeded = await seededServer({
      limits: { maxGroups: 3, maxValues: 50, maxRangeMs: { '1h': 10 * HOUR_MS } },
    });
    const tooLong = await seeded.app.inject({
      url: `/v1/views/endpoint_hourly/series?from=${T0}&to=${T0 + 11 * HOUR_MS}`,
    });
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json().error).toMatchObject({ code: 'TANDEM_ERR_QUERY_TOO_LARGE', parameter: 'from' });
    const tooMany = await seeded.app.inject({
      url: `/v1/views/endpoint_hourly/series?from=${T0}&to=${T0 + 2 * HOUR_MS}&groupBy=endpoint`,
    });
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json().error).toMatchObject({ code: 'TANDEM_ERR_QUERY_TOO_LARGE', parameter: 'groupBy' });
    const tooBig = await seeded.app.inject({
      url: `/v1/views/endpoint_hourly/series?from=${T0}&to=${T0 + 8 * HOUR_MS}&groupBy=none`,
    });
    expect(tooBig.statusCode).toBe(400);
    expect(tooBig.json().error.code).toBe('TANDEM_ERR_QUERY_TOO_LARGE');
    const fits = await seeded.app.inject({
      url: `/v1/views/endpoint_hourly/series?from=${T0}&to=${T0 + 8 * HOUR_MS}&groupBy=none&measures=requests`,
    });
    expect(fits.statusCode).toBe(200);
  });

  test('injection strings and oversized values in every parameter: 400, never 5xx, no state change', async () => {
    const queue = new RecordingRecomputeQueue();
    seeded = await seededServer({ apiKeys, recomputeJobs: queue });
    const hostile = [
      "' OR 1=1 --",
      '"; DROP TABLE views; --',
      '$' + '{7*7}',
      '<script>alert(1)</script>',
      '../../../../etc/passwd',
      '%00',
      '\u0000',
      'x'.repeat(5000),
      '9'.repeat(400),
      '-1',
      '1e309',
      '[]',
      '{"$gt":""}',
      'NaN',
      '__proto__',
    ];
    const before = await seeded.app.inject({
      url: `/v1/views/endpoint_hourly/series?from=${T0}&to=${T0 + 48 * HOUR_MS}&groupBy=none&measures=requests`,
      headers: { 'x-api-key': READ_KEY },
    });
    const targets: Array<{ path: string; parameters: string[] }> = [
      {
        path: '/v1/views/endpoint_hourly/series',
        parameters: ['from', 'to', 'granularity', 'groupBy', 'measures', 'endpoint'],
      },
      {
        path: '/v1/views/endpoint_hourly/top',
        parameters: ['from', 'to', 'by', 'k', 'dimension', 'endpoint'],
      },
      { path: '/v1/trending', parameters: ['window', 'k'] },
      { path: '/v1/views', parameters: ['anything'] },
      { path: '/v1/status', parameters: ['anything'] },
    ];
    let rejected = 0;
    for (const { path, parameters } of targets) {
      for (const parameter of parameters) {
        for (const value of hostile) {
          const response = await seeded.app.inject({
            url: `${path}?${new URLSearchParams({ [parameter]: value })}`,
            headers: { 'x-api-key': READ_KEY },
          });
          expect(response.statusCode, `${path} ${parameter}=${value.slice(0, 30)}`).toBeLessThan(500);
          // A dimension filter accepts any string up to 512 characters: it is only compared.
          if (parameter === 'endpoint' && value.length <= 512) {
            expect(response.statusCode).toBe(200);
            continue;
          }
          expect(response.statusCode, `${path} ${parameter}=${value.slice(0, 30)}`).toBe(400);
          expect(response.json().error.code).toMatch(/^TANDEM_ERR_QUERY_/);
          rejected++;
        }
      }
    }
    for (const field of ['view', 'from', 'to']) {
      for (const value of [...hostile, 42, null, ['a'], { a: 1 }]) {
        const payload = {
          view: 'endpoint_hourly',
          from: String(T0),
          to: String(T0 + HOUR_MS),
          [field]: value,
        };
        const response = await seeded.app.inject({
          method: 'POST',
          url: '/v1/ops/recompute',
          payload,
          headers: { 'x-api-key': ADMIN_KEY },
        });
        expect(response.statusCode, `${field}=${JSON.stringify(value).slice(0, 30)}`).toBe(400);
        rejected++;
      }
    }
    const extra = await seeded.app.inject({
      method: 'POST',
      url: '/v1/ops/recompute',
      payload: { view: 'endpoint_hourly', from: String(T0), to: String(T0 + HOUR_MS), force: true },
      headers: { 'x-api-key': ADMIN_KEY },
    });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().error.parameter).toBe('force');
    const notJson = await seeded.app.inject({
      method: 'POST',
      url: '/v1/ops/recompute',
      payload: '{"view": ',
      headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' },
    });
    expect(notJson.statusCode).toBe(400);
    expect(queue.submitted).toEqual([]);
    const after = await seeded.app.inject({
      url: `/v1/views/endpoint_hourly/series?from=${T0}&to=${T0 + 48 * HOUR_MS}&groupBy=none&measures=requests`,
      headers: { 'x-api-key': READ_KEY },
    });
    expect(after.json().series).toEqual(before.json().series);
    expect(rejected).toBeGreaterThan(250);
  });
});

describe('auth', () => {
  test('401 without a key or with an unknown one, 403 with the wrong scope, on every protected route', async () => {
    seeded = await seededServer({ apiKeys, recomputeJobs: new RecordingRecomputeQueue() });
    for (const route of protectedRoutes) {
      const request = {
        method: route.method,
        url: route.url,
        ...(route.payload ? { payload: route.payload } : {}),
      };
      const none = await seeded.app.inject(request);
      expect(none.statusCode, `${route.url} without key`).toBe(401);
      expect(none.json().error.code).toBe('TANDEM_ERR_AUTH_MISSING');
      expect(none.headers['www-authenticate']).toBeDefined();
      const wrong = await seeded.app.inject({ ...request, headers: { 'x-api-key': 'not-a-key' } });
      expect(wrong.statusCode, `${route.url} unknown key`).toBe(401);
      const reader = await seeded.app.inject({
        ...request,
        headers: { authorization: `Bearer ${READ_KEY}` },
      });
      expect(reader.statusCode, `${route.url} read key`).toBe(route.scope === 'read' ? 200 : 403);
      if (route.scope === 'admin') expect(reader.json().error.code).toBe('TANDEM_ERR_AUTH_FORBIDDEN');
      const admin = await seeded.app.inject({ ...request, headers: { 'x-api-key': ADMIN_KEY } });
      expect(admin.statusCode, `${route.url} admin key`).toBe(route.scope === 'read' ? 200 : 202);
    }
    for (const url of ['/healthz', '/readyz', '/metrics', '/docs/json']) {
      expect((await seeded.app.inject({ url })).statusCode, url).toBe(200);
    }
  });

  test('with no keys configured reads are open and admin routes are refused', async () => {
    const queue = new RecordingRecomputeQueue();
    seeded = await seededServer({ recomputeJobs: queue });
    for (const route of protectedRoutes) {
      const response = await seeded.app.inject({
        method: route.method,
        url: route.url,
        ...(route.payload ? { payload: route.payload } : {}),
      });
      expect(response.statusCode, route.url).toBe(route.scope === 'read' ? 200 : 403);
    }
    expect(queue.submitted).toEqual([]);
  });

  test('the admin recompute queues the hour-aligned range and answers with the job and its address', async () => {
    const queue = new RecordingRecomputeQueue();
    seeded = await seededServer({ apiKeys, recomputeJobs: queue });
    const response = await seeded.app.inject({
      method: 'POST',
      url: '/v1/ops/recompute',
      payload: {
        view: 'endpoint_hourly',
        from: new Date(T0 + 10 * 60_000).toISOString(),
        to: String(T0 + 2 * HOUR_MS + 1),
      },
      headers: { 'x-api-key': ADMIN_KEY },
    });
    expect(response.statusCode).toBe(202);
    const body = response.json();
    expect(body).toMatchObject({ accepted: true, hours: 3, view: 'endpoint_hourly' });
    expect(body.job).toMatchObject({ id: body.jobId, state: 'queued', hours: { total: 3, done: 0 } });
    expect(response.headers.location).toBe(`/v1/ops/jobs/${body.jobId}`);
    expect(queue.submitted).toEqual([{ view: 'endpoint_hourly', range: { from: T0, to: T0 + 3 * HOUR_MS } }]);
  });

  test('keys never reach the logs', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(String(chunk));
        callback();
      },
    });
    seeded = await seededServer({ apiKeys, loggerInstance: pino({ level: 'trace' }, stream) });
    await seeded.app.inject({ url: '/v1/views', headers: { 'x-api-key': READ_KEY } });
    await seeded.app.inject({ url: '/v1/views', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    await seeded.app.inject({ url: '/v1/views', headers: { 'x-api-key': 'wrong-secret-key' } });
    const log = lines.join('');
    expect(log).toContain('request completed');
    expect(log).toContain('"route":"/v1/views"');
    expect(log).toContain('"requestId"');
    for (const secret of [READ_KEY, ADMIN_KEY, 'wrong-secret-key']) expect(log).not.toContain(secret);
  });
});

describe('operations', () => {
  test('rate limits per key with 429 and Retry-After', async () => {
    seeded = await seededServer({ apiKeys, rateLimit: { max: 3, windowMs: 60_000 } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push(
        (await seeded.app.inject({ url: '/v1/views', headers: { 'x-api-key': READ_KEY } })).statusCode,
      );
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await seeded.app.inject({ url: '/v1/views', headers: { 'x-api-key': READ_KEY } });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json().error.code).toBe('TANDEM_ERR_RATE_LIMITED');
    // Another key has its own budget; health is never limited.
    expect(
      (await seeded.app.inject({ url: '/v1/views', headers: { 'x-api-key': ADMIN_KEY } })).statusCode,
    ).toBe(200);
    for (let i = 0; i < 5; i++) expect((await seeded.app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });

  test('CORS is off by default and answers only the configured origins', async () => {
    seeded = await seededServer();
    const off = await seeded.app.inject({ url: '/v1/views', headers: { origin: 'https://example.com' } });
    expect(off.headers['access-control-allow-origin']).toBeUndefined();
    await seeded.app.close();
    seeded = await seededServer({ corsOrigins: ['https://dash.example.com'] });
    const allowed = await seeded.app.inject({
      url: '/v1/views',
      headers: { origin: 'https://dash.example.com' },
    });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://dash.example.com');
    const other = await seeded.app.inject({
      url: '/v1/views',
      headers: { origin: 'https://evil.example.com' },
    });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  test('readyz reports each dependency and answers 503 when one is down', async () => {
    seeded = await seededServer({
      readinessProbes: {
        redis: async () => 'PONG',
        kafka: () => Promise.reject(new Error('broker down')),
        lake: () => new Promise(() => {}),
      },
      probeTimeoutMs: 50,
    });
    const response = await seeded.app.inject({ url: '/readyz' });
    expect(response.statusCode).toBe(503);
    const body = response.json();
    expect(body.status).toBe('unavailable');
    expect(body.checks.redis.ok).toBe(true);
    expect(body.checks.kafka).toMatchObject({ ok: false, error: 'kafka is not reachable' });
    expect(body.checks.lake.ok).toBe(false);
  });

  test('status answers when the speed layer is down, queries then answer 503', async () => {
    seeded = await seededServer();
    seeded.speed.fail = true;
    const status = await seeded.app.inject({ url: '/v1/status' });
    expect(status.statusCode).toBe(200);
    const body = status.json();
    expect(body.speed.error).toBe('the speed layer could not be read');
    expect(body.views[0]).toMatchObject({
      view: 'endpoint_hourly',
      sealedThrough: new Date(T0 + 40 * HOUR_MS).toISOString(),
      error: null,
    });
    const series = await seeded.app.inject({
      url: `/v1/views/endpoint_hourly/series?from=${T0 + 44 * HOUR_MS}&to=${T0 + 46 * HOUR_MS}`,
    });
    expect(series.statusCode).toBe(503);
    expect(series.json().error.code).toBe('TANDEM_ERR_SERVICE_UNAVAILABLE');
    expect(series.body).not.toContain('ECONNREFUSED');
  });

  test('docs serve an OpenAPI 3 spec of every route; metrics count requests by route', async () => {
    seeded = await seededServer({ apiKeys });
    const spec = (await seeded.app.inject({ url: '/docs/json' })).json();
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/v1/views',
        '/v1/views/endpoint_hourly/series',
        '/v1/views/endpoint_hourly/top',
        '/v1/trending',
        '/v1/status',
        '/v1/ops/recompute',
        '/healthz',
        '/readyz',
        '/metrics',
      ]),
    );
    const parameters = spec.paths['/v1/views/endpoint_hourly/series'].get.parameters.map(
      (p: { name: string }) => p.name,
    );
    expect(parameters).toEqual(
      expect.arrayContaining(['from', 'to', 'granularity', 'groupBy', 'measures', 'endpoint']),
    );
    expect(spec.components.securitySchemes.apiKey).toMatchObject({
      type: 'apiKey',
      in: 'header',
      name: 'x-api-key',
    });
    await seeded.app.inject({ url: '/v1/views', headers: { 'x-api-key': READ_KEY } });
    const metrics = await seeded.app.inject({ url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toMatch(
      /tandem_serving_http_request_duration_seconds_count\{route="\/v1\/views",method="GET",status="200"\} 1/,
    );
    expect(metrics.body).toContain('tandem_serving_cache_hits');
  });

  test('the dashboard directory is served at / without a key', async () => {
    seeded = await seededServer({ apiKeys, dashboardDir: defaultDashboardDir });
    const page = await seeded.app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body.toLowerCase()).toContain('<html');
    const missing = await seeded.app.inject({ url: '/no-such-file.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('TANDEM_ERR_NOT_FOUND');
    expect((await seeded.app.inject({ url: '/v1/views' })).statusCode).toBe(401);
  });

  test('unknown views and routes answer 404, known paths with another method 405', async () => {
    seeded = await seededServer();
    const view = await seeded.app.inject({
      url: '/v1/views/nope/series',
      headers: { 'x-request-id': 'abc-123' },
    });
    expect(view.statusCode).toBe(404);
    expect(view.json().error).toMatchObject({ code: 'TANDEM_ERR_VIEW_UNKNOWN', requestId: 'abc-123' });
    expect(view.headers['x-request-id']).toBe('abc-123');
    const method = await seeded.app.inject({ method: 'DELETE', url: '/v1/views' });
    expect(method.statusCode).toBe(405);
    expect(method.headers.allow).toContain('GET');
    const route = await seeded.app.inject({ url: '/v2/whatever' });
    expect(route.statusCode).toBe(404);
    expect(route.json().error.code).toBe('TANDEM_ERR_NOT_FOUND');
  });
});

// Abuse and leaks on the real stack (batch layer over a file lake, speed reader and rate-limit
// counters in Redis): security headers and the dashboard under its Content-Security-Policy, 5xx
// bodies that say nothing internal while the log (same requestId) says all, failed authentication
// counted against the client's rate limit, and API keys shorter than the minimum refused at start.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runParquetKey } from '@tandem/batch';
import {
  getView,
  HOUR_MS,
  loadConfig,
  MIN_API_KEY_LENGTH,
  type TandemEvent,
  TandemError,
} from '@tandem/core';
import type { SpeedViewReader } from '@tandem/core';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { buildServer, defaultDashboardDir, serverOptionsFromConfig } from '../src/index.ts';
import { contentSecurityPolicy } from '../src/plugins/security-headers.ts';
import { generateEvents } from './support/fixtures.ts';
import { openRealLayers, type RealLayers } from './support/real-layers.ts';
import { logLines } from '@tandem/test-support/log-lines.ts';

const HOURS = 5;
const base = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - (HOURS + 2) * HOUR_MS;
const events: TandemEvent[] = generateEvents({
  seed: 31,
  from: base,
  to: base + HOURS * HOUR_MS,
  count: 800,
});
const READ_KEY = 'reader-key-0123456789abcdef0123456789';
const ADMIN_KEY = 'admin-key-0123456789abcdef0123456789';
/** The first four hours; the last sealed one is left unread (its run file is not cached) for the 503 test. */
const range = `from=${base}&to=${base + 4 * HOUR_MS}`;
const unreadHour = base + 4 * HOUR_MS;

let layers: RealLayers;
let app: FastifyInstance | undefined;

beforeAll(async () => {
  layers = await openRealLayers(events);
  const hours = Array.from({ length: HOURS }, (_, hour) => base + hour * HOUR_MS);
  const outcomes = await layers.batch.runHours('endpoint_hourly', hours);
  expect(outcomes.map((outcome) => outcome.status)).toEqual(hours.map(() => 'published'));
}, 180_000);

afterEach(async () => {
  await app?.close();
  app = undefined;
});

afterAll(async () => {
  await layers?.teardown();
});

/** A pino logger whose lines the test reads back. */
function capturedLogger(): { lines: () => Array<Record<string, unknown>>; logger: ReturnType<typeof pino> } {
  const { stream, lines } = logLines();
  return { logger: pino({ level: 'info' }, stream), lines };
}

/** The server as `tandem serve` configures it: keys, rate limit and prefix from the environment. */
async function configuredServer(
  env: Record<string, string>,
  extra: Partial<Parameters<typeof buildServer>[0]> = {},
): Promise<FastifyInstance> {
  const config = loadConfig(env);
  return buildServer({
    ...serverOptionsFromConfig(config),
    redisPrefix: layers.prefix,
    batch: layers.batch.reader,
    speed: layers.speed,
    redis: layers.redis,
    logLevel: 'silent',
    dashboardDir: defaultDashboardDir,
    ...extra,
  });
}

describe('security headers', () => {
  const expectedPolicy = Object.entries(contentSecurityPolicy)
    .map(([directive, sources]) => `${directive} ${sources.join(' ')}`)
    .join(';');

  test('the dashboard, the API and errors carry the CSP and the usual headers', async () => {
    app = await configuredServer({ TANDEM_API_KEYS: `viewer:read:${READ_KEY}` });
    const answers = {
      dashboard: await app.inject({ url: '/' }),
      script: await app.inject({ url: '/app.js' }),
      series: await app.inject({
        url: `/v1/views/endpoint_hourly/series?${range}`,
        headers: { 'x-api-key': READ_KEY },
      }),
      refused: await app.inject({ url: '/v1/views' }),
      missing: await app.inject({ url: '/no-such-page' }),
    };
    expect(answers.dashboard.statusCode).toBe(200);
    expect(answers.script.statusCode).toBe(200);
    expect(answers.series.statusCode).toBe(200);
    expect(answers.refused.statusCode).toBe(401);
    expect(answers.missing.statusCode).toBe(404);
    for (const [name, answer] of Object.entries(answers)) {
      expect(answer.headers['content-security-policy'], name).toBe(expectedPolicy);
      expect(answer.headers, name).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-resource-policy': 'same-origin',
        'strict-transport-security': 'max-age=31536000; includeSubDomains',
      });
      expect(answer.headers['x-powered-by'], name).toBeUndefined();
    }
    // Swagger UI keeps its own policy, without upgrading a plain-HTTP page's requests.
    const docs = await app.inject({ url: '/docs' });
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-security-policy']).toContain("script-src 'self'");
    expect(docs.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
  });

  test('the dashboard needs nothing the policy refuses: no inline script, style or handler', async () => {
    const files = await readdir(defaultDashboardDir);
    const html = await readFile(join(defaultDashboardDir, 'index.html'), 'utf8');
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\bsrc="[^":]+"/); // a file of the dashboard's own
      expect(body!.trim()).toBe('');
    }
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=|javascript:/i);
    for (const href of html.matchAll(/\s(?:href|src)="([^"]+)"/g)) {
      // Only the dashboard's own files, in-page anchors and the empty icon (img-src allows data:).
      expect(href[1]).toMatch(/^(?:#[\w-]+|data:,|[\w./-]+)$/);
    }
    for (const file of files.filter((name) => name.endsWith('.js'))) {
      const source = await readFile(join(defaultDashboardDir, file), 'utf8');
      // A `style` attribute (through h() or setAttribute) is refused by style-src 'self'.
      expect(source, file).not.toMatch(
        /['"]?style['"]?\s*:\s*`|setAttribute\(\s*['"]style|\.innerHTML\s*=|eval\(|new Function/,
      );
    }
  });
});

describe('5xx answers', () => {
  test('a corrupt run file answers 503 naming the lake; the path and the cause go to the log', async () => {
    const log = capturedLogger();
    app = await configuredServer({}, { loggerInstance: log.logger });
    const view = getView('endpoint_hourly');
    const [sealed] = await layers.batch.reader.sealedHours('endpoint_hourly', {
      from: unreadHour,
      to: unreadHour + HOUR_MS,
    });
    const runFile = layers.store.localPath(
      runParquetKey(view.name, view.version, sealed!.hour, sealed!.runId),
    );
    expect(runFile).not.toBeNull();
    const original = await readFile(runFile!);
    await writeFile(runFile!, 'PAR1 this is not a parquet file');
    try {
      const response = await app.inject({
        url: `/v1/views/endpoint_hourly/series?from=${sealed!.hour}&to=${sealed!.hour + HOUR_MS}`,
        headers: { 'x-request-id': 'corrupt-run-1' },
      });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toEqual({
        error: {
          code: 'TANDEM_ERR_LAKE_IO',
          message:
            'the lake service is unavailable; retry later (the server log has the details under this requestId)',
          requestId: 'corrupt-run-1',
        },
      });
      const failed = log.lines().filter((line) => line.msg === 'request failed');
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({
        requestId: 'corrupt-run-1',
        status: 503,
        code: 'TANDEM_ERR_LAKE_IO',
      });
      expect(JSON.stringify(failed[0])).toContain(runFile!);
    } finally {
      await writeFile(runFile!, original);
    }
  });

  test('a reader that breaks the contract answers 500 with only a requestId; the log has the error', async () => {
    const log = capturedLogger();
    // Speed rows without states: the merge fails on them, as a bug would.
    const broken: SpeedViewReader = {
      status: (stream) => layers.speed.status(stream),
      readPartials: async () => [{ bucket: base + HOURS * HOUR_MS, dims: ['/a'], states: null as never }],
    };
    app = await configuredServer({}, { loggerInstance: log.logger, speed: broken });
    const response = await app.inject({
      url: `/v1/views/endpoint_hourly/series?from=${base}&to=${base + (HOURS + 1) * HOUR_MS}`,
    });
    expect(response.statusCode).toBe(500);
    const requestId = response.headers['x-request-id'];
    expect(response.json()).toEqual({
      error: {
        code: 'TANDEM_ERR_INTERNAL',
        message: 'internal error; the server log has the details under this requestId',
        requestId,
      },
    });
    const [failed] = log.lines().filter((line) => line.msg === 'request failed');
    expect(failed).toMatchObject({ requestId, status: 500 });
    const err = failed!.err as { message: string; stack: string };
    expect(err.message).toMatch(/null/);
    expect(err.stack).toContain('merge-engine.ts');
  });
});

describe('failed authentication and the rate limit', () => {
  test('2,000 requests with bad keys from one client are throttled; a good key is served throughout', async () => {
    const max = 100;
    // A window longer than the test, so no counter resets on the way.
    app = await configuredServer({
      TANDEM_API_KEYS: `analyst:read:${READ_KEY},ops:read+admin:${ADMIN_KEY}`,
      RATE_LIMIT_MAX: String(max),
      RATE_LIMIT_WINDOW_MS: '600000',
    });
    const attacker = { remoteAddress: '10.66.0.1' };
    const statuses = new Map<number, number>();
    const goodStatuses = new Map<number, number>();
    let firstThrottled = -1;
    for (let i = 0; i < 2000; i++) {
      const bad = await app.inject({
        ...attacker,
        url: `/v1/views/endpoint_hourly/series?${range}`,
        // No key, wrong keys, and keys one character off a real one: all count.
        headers: i % 3 === 0 ? {} : { 'x-api-key': i % 3 === 1 ? `guess-${i}` : `${READ_KEY.slice(0, -1)}x` },
      });
      statuses.set(bad.statusCode, (statuses.get(bad.statusCode) ?? 0) + 1);
      if (bad.statusCode === 429 && firstThrottled < 0) {
        firstThrottled = i;
        expect(Number(bad.headers['retry-after'])).toBeGreaterThan(0);
        expect(bad.json().error.code).toBe('TANDEM_ERR_RATE_LIMITED');
      }
      if (i % 50 === 0) {
        // Another client with a good key (80 requests, within its own budget), from another
        // address and from the attacker's own.
        for (const remoteAddress of ['10.77.0.2', attacker.remoteAddress]) {
          const good = await app.inject({
            remoteAddress,
            url: `/v1/views/endpoint_hourly/series?${range}&groupBy=none&measures=requests`,
            headers: { 'x-api-key': READ_KEY },
          });
          goodStatuses.set(good.statusCode, (goodStatuses.get(good.statusCode) ?? 0) + 1);
        }
      }
    }
    expect(Object.fromEntries(statuses)).toEqual({ 401: max, 429: 2000 - max });
    expect(firstThrottled).toBe(max);
    expect(Object.fromEntries(goodStatuses)).toEqual({ 200: 80 });
    // A third client's budget is its own: its failure is a 401, not a 429.
    const other = await app.inject({ remoteAddress: '10.88.0.3', url: '/v1/views' });
    expect(other.statusCode).toBe(401);
    // The counters live in Redis, shared by every replica: every refused request counted.
    expect(await layers.redis.get(`${layers.prefix}:ratelimit:ip:10.66.0.1`)).toBe('2000');
    expect(await layers.redis.get(`${layers.prefix}:ratelimit:key:analyst`)).toBe('80');
  }, 120_000);
});

describe('API keys at start', () => {
  test(`a key shorter than ${MIN_API_KEY_LENGTH} characters is refused, naming the entry`, async () => {
    const short = 'x'.repeat(MIN_API_KEY_LENGTH - 1);
    let refused: unknown;
    try {
      await configuredServer({ TANDEM_API_KEYS: `viewer:read:${READ_KEY},ci:read:${short}` });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(TandemError);
    expect((refused as TandemError).code).toBe('TANDEM_ERR_CONFIG_INVALID');
    expect((refused as TandemError).message).toMatch(
      /^TANDEM_API_KEYS entry 2 \("ci"\) has a key of 31 characters; keys need at least 32 /,
    );
    expect((refused as TandemError).message).not.toContain(short);
    // A key of the minimum length starts and authenticates.
    const exact = 'k'.repeat(MIN_API_KEY_LENGTH);
    app = await configuredServer({ TANDEM_API_KEYS: `ci:read:${exact}` });
    const response = await app.inject({ url: '/v1/views', headers: { authorization: `Bearer ${exact}` } });
    expect(response.statusCode).toBe(200);
  });
});

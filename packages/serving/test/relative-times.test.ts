// `from` and `to` accept the cli's relative times (`now`, `-2h`, `-30m`, `-1d`, ...) on the real
// stack: each answer equals the one for the absolute times core's parser (the cli's too) reads
// them as, and equals the truth; a bad value is still a coded 400 naming the parameter.
import {
  finalizeStates,
  getView,
  HOUR_MS,
  parseTimeExpression,
  type TandemEvent,
  timeExpressionForms,
} from '@tandem/core';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildServer } from '../src/index.ts';
import { diffSeries, type SeriesAnswer } from './support/compare.ts';
import { generateEvents } from './support/fixtures.ts';
import { openRealLayers, type RealLayers, writeSpeed } from './support/real-layers.ts';

const HOURS = 30;
const base = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - (HOURS + 2) * HOUR_MS;
/** The server's clock: 20 minutes into the hour after the data. */
const now = base + HOURS * HOUR_MS + 20 * 60_000;
const events: TandemEvent[] = generateEvents({
  seed: 41,
  from: base,
  to: base + HOURS * HOUR_MS,
  count: 3000,
});
const emptyEndpoint = finalizeStates(getView('endpoint_hourly'), {});

let layers: RealLayers;
let app: FastifyInstance;

beforeAll(async () => {
  layers = await openRealLayers(events);
  // Batch seals the first 24 hours; the rest are served by speed.
  const sealed = Array.from({ length: 24 }, (_, hour) => base + hour * HOUR_MS);
  const outcomes = await layers.batch.runHours('endpoint_hourly', sealed);
  expect(outcomes.every((outcome) => outcome.status === 'published')).toBe(true);
  await writeSpeed(
    layers,
    0,
    events.filter((event) => event.timestamp >= base + 24 * HOUR_MS),
  );
  app = await buildServer({
    batch: layers.batch.reader,
    speed: layers.speed,
    logLevel: 'silent',
    dashboardDir: null,
    rateLimit: false,
    now: () => now,
    snapshotTtlMs: 0,
    speedCacheTtlMs: 0,
    closedSpeedCacheTtlMs: 0,
  });
}, 180_000);

afterAll(async () => {
  await app?.close();
  await layers?.teardown();
});

async function series(query: string): Promise<SeriesAnswer & { statusCode: number }> {
  const response = await app.inject({ url: `/v1/views/endpoint_hourly/series?${query}` });
  return { ...(response.json() as SeriesAnswer), statusCode: response.statusCode };
}

describe('relative times in the API', () => {
  test('now, -2h, -30m, -1d, -1.5h, +/-s: the same answer as the absolute times, equal to the truth', async () => {
    const cases: Array<[from: string | null, to: string | null]> = [
      ['-2h', null],
      ['-30m', 'now'],
      ['-1d', 'now'],
      ['-1.5h', '-30m'],
      ['-36h', '-20h'],
      [null, '-3h'], // from defaults to 24 hours before to
      ['-7200s', '+0s'],
    ];
    for (const [from, to] of cases) {
      const relative = new URLSearchParams({
        ...(from === null ? {} : { from }),
        ...(to === null ? {} : { to }),
        groupBy: 'endpoint',
      });
      const toMs = to === null ? now : parseTimeExpression(to, now)!;
      const fromMs = from === null ? toMs - 24 * HOUR_MS : parseTimeExpression(from, now)!;
      const absolute = new URLSearchParams({ from: String(fromMs), to: String(toMs), groupBy: 'endpoint' });
      const [byRelative, byAbsolute] = [await series(String(relative)), await series(String(absolute))];
      expect(byRelative.statusCode, `${relative}`).toBe(200);
      expect(byRelative, `${relative}`).toEqual(byAbsolute);
      // Ranges widen to whole hours.
      expect(Date.parse(byRelative.from)).toBe(Math.floor(fromMs / HOUR_MS) * HOUR_MS);
      expect(Date.parse(byRelative.to)).toBe(Math.ceil(toMs / HOUR_MS) * HOUR_MS);
      const differences = diffSeries(
        'endpoint_hourly',
        events,
        { granularity: '1h', filter: {}, groupBy: ['endpoint'] },
        byRelative,
        emptyEndpoint,
      );
      expect(differences, `${relative}`).toEqual([]);
      expect(
        byRelative.coverage.some((entry) => entry.source !== 'none'),
        `${relative}`,
      ).toBe(true);
    }
    // The window the relative range names: -2h ends at now, so it covers the last two data hours' ends.
    const last = await series('from=-2h&groupBy=none&measures=requests');
    expect(last.coverage.map((entry) => entry.source)).toEqual(['speed', 'speed', 'none']);
  });

  test('/top takes them too', async () => {
    const relative = await app.inject({ url: '/v1/views/endpoint_hourly/top?from=-1d&to=now&k=3' });
    const absolute = await app.inject({
      url: `/v1/views/endpoint_hourly/top?from=${now - 24 * HOUR_MS}&to=${now}&k=3`,
    });
    expect(relative.statusCode).toBe(200);
    expect(relative.json()).toEqual(absolute.json());
    expect(relative.json().items).toHaveLength(3);
  });

  test('a bad value is a coded 400 naming the parameter and the accepted forms', async () => {
    const cases: Array<[string, string]> = [
      ['from=-2w', 'from'],
      ['from=-2', 'from'],
      ['to=2h', 'to'],
      ['to=now-1h', 'to'],
      ['from=-999999999d', 'from'], // before 1970
      ['from=-1.2345h', 'from'],
    ];
    for (const [query, parameter] of cases) {
      const response = await app.inject({ url: `/v1/views/endpoint_hourly/series?${query}` });
      expect(response.statusCode, query).toBe(400);
      expect(response.json().error, query).toMatchObject({
        code: 'TANDEM_ERR_QUERY_INVALID',
        parameter,
        message: `querystring/${parameter} must be ${timeExpressionForms}`,
      });
    }
    // A relative range past the limit is refused as too large, naming from.
    const tooLong = await app.inject({ url: '/v1/views/endpoint_hourly/series?from=-100d' });
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json().error).toMatchObject({ code: 'TANDEM_ERR_QUERY_TOO_LARGE', parameter: 'from' });
  });

  test('the OpenAPI spec documents the forms, and its pattern accepts them', async () => {
    const spec = (await app.inject({ url: '/docs/json' })).json();
    const parameters = spec.paths['/v1/views/endpoint_hourly/series'].get.parameters as Array<{
      name: string;
      description: string;
      schema: { pattern: string };
    }>;
    for (const name of ['from', 'to']) {
      const parameter = parameters.find((candidate) => candidate.name === name)!;
      expect(parameter.description).toContain('`-2h`');
      const pattern = new RegExp(parameter.schema.pattern);
      for (const text of [
        'now',
        '-2h',
        '-30m',
        '-1d',
        '+15s',
        '-1.5h',
        '2026-01-31T14',
        '2026-01-31T14:00Z',
        '1738333500000',
      ]) {
        expect(pattern.test(text), `${name}=${text}`).toBe(true);
      }
      for (const text of ['-2w', '2h', 'now-1h', '2026-01-31T14Z', ' now']) {
        expect(pattern.test(text), `${name}=${text}`).toBe(false);
      }
    }
  });
});

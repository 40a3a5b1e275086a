// Versioned views through the serving layer on the real stack (batch DuckDB → Parquet → pointers in
// a file lake, speed states in Redis through the speed layer's apply script, the generation registry
// in Redis). The config changed endpoint_hourly (only GET requests, a new max measure): the registry
// gave the new definition v2 while v1 keeps serving. Every answer names the version it came from and
// equals that version's truth, including 400 queries racing a switch; after the switch v2 answers;
// a rollback returns v1's answers byte for byte.
import {
  ActiveVersions,
  type BatchLayer,
  GenerationCatalog,
  GenerationRegistry,
  generationRef,
} from '@tandem/batch';
import {
  builtinCatalog,
  createCatalog,
  defineView,
  finalizeStates,
  HOUR_MS,
  type TandemEvent,
  type View,
  viewSpecOf,
  where,
} from '@tandem/core';
import { seedSpeedViews } from '@tandem/speed/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mulberry32 } from '@tandem/test-support/random.ts';
import { buildServer } from '../src/index.ts';
import { diffSeries, type SeriesAnswer } from './support/compare.ts';
import { generateEvents } from './support/fixtures.ts';
import { openRealLayers, type RealLayers } from './support/real-layers.ts';

const HOURS = 6;
const SEALED = 4;
const base = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - (HOURS + 2) * HOUR_MS;
const builtin = builtinCatalog();
const v1 = builtin.view('endpoint_hourly');
// The edited config: only GET requests, and one more measure. Its hand-set version is still 1.
const edited = defineView({
  ...viewSpecOf(v1),
  filter: where.eq('method', 'GET'),
  measures: { ...viewSpecOf(v1).measures, max_latency_ms: { kind: 'max', field: 'response_time_ms' } },
});
const events: TandemEvent[] = generateEvents({
  seed: 17,
  from: base,
  to: base + HOURS * HOUR_MS,
  count: 2400,
});

let layers: RealLayers;
let batch: BatchLayer;
let app: FastifyInstance;
let registry: GenerationRegistry;
let catalog: GenerationCatalog;
let v2: View;

beforeAll(async () => {
  catalog = new GenerationCatalog(
    createCatalog(builtin.streams, [
      edited,
      ...builtin.views.filter((view) => view.name !== 'endpoint_hourly'),
    ]),
  );
  layers = await openRealLayers(events, catalog);
  batch = layers.batch;
  registry = new GenerationRegistry(layers.redis, layers.prefix);
  // The deployment before the edit: v1 adopted and active.
  expect(await registry.register(v1, base)).toEqual({ n: 1, state: 'active', created: true });
  // The edited config: the registry numbers it v2 (building); the catalog's definition moves to v2
  // and v1 stays resolvable by its ref.
  expect(await registry.register(edited, base + 1)).toEqual({ n: 2, state: 'building', created: true });
  catalog.renumber('endpoint_hourly', 2);
  const generations = (await registry.list('endpoint_hourly')).generations;
  expect(catalog.addGeneration(generations[0]!)).toBe('endpoint_hourly@v1');
  v2 = catalog.view('endpoint_hourly');
  expect([v2.version, v2.fingerprint, catalog.view(generationRef('endpoint_hourly', 1)).fingerprint]).toEqual(
    [2, edited.fingerprint, v1.fingerprint],
  );

  // Both versions: the first hours sealed by batch (each in its own lake tree), the rest in speed.
  for (let hour = 0; hour < SEALED; hour++) {
    for (const ref of ['endpoint_hourly@v1', 'endpoint_hourly']) {
      const outcome = await batch.runHour(ref, base + hour * HOUR_MS);
      expect(outcome.status, JSON.stringify(outcome)).toBe('published');
    }
  }
  for (const partition of [0, 1]) {
    await seedSpeedViews(layers.redis, {
      prefix: layers.prefix,
      partition,
      views: [catalog.view('endpoint_hourly@v1'), v2],
      events: events.filter((_, index) => index % 2 === partition),
      owner: 'versioned-views-test',
    });
  }
  app = await buildServer({
    catalog,
    versions: new ActiveVersions(registry, catalog),
    versionStatus: (view) => batch.generations.versionStatus(view, 0),
    batch: batch.reader,
    speed: layers.speed,
    rateLimit: false,
    logLevel: 'silent',
    dashboardDir: null,
  });
}, 180_000);

afterAll(async () => {
  const errors: unknown[] = [];
  await app?.close().catch((error) => errors.push(error));
  await layers?.teardown().catch((error) => errors.push(error));
  if (errors.length > 0) throw new AggregateError(errors, 'teardown failed');
});

type Answer = SeriesAnswer & { version: string; fingerprint: string; view: string };

const truthOf: Record<string, { view: View; fingerprint: string }> = {
  v1: { view: v1, fingerprint: v1.fingerprint },
  v2: { view: edited, fingerprint: edited.fingerprint },
};

function randomSearch(random: () => number): {
  search: URLSearchParams;
  query: Parameters<typeof diffSeries>[2];
} {
  const granularities = ['1h', '1d', 'all'] as const;
  const from = base - HOUR_MS + Math.floor(random() * (HOURS + 1) * HOUR_MS);
  const to = from + 1 + Math.floor(random() * (HOURS + 1) * HOUR_MS);
  const granularity = granularities[Math.floor(random() * granularities.length)]!;
  const filter: Record<string, string> = random() < 0.3 ? { endpoint: '/b' } : {};
  const groupBy = random() < 0.5 ? [] : ['endpoint'];
  const search = new URLSearchParams({
    from: new Date(from).toISOString(),
    to: String(to),
    granularity,
    groupBy: groupBy.length === 0 ? 'none' : 'endpoint',
    measures: 'requests,requests_2xx,p95_latency_ms,unique_users',
    ...filter,
  });
  return { search, query: { granularity, filter, groupBy } };
}

/** One query; its answer must equal the truth of the version it names. Returns that version. */
async function checkedQuery(random: () => number, label: string): Promise<string> {
  const { search, query } = randomSearch(random);
  const response = await app.inject({ url: `/v1/views/endpoint_hourly/series?${search}` });
  expect(response.statusCode, `${label}: ${response.body}`).toBe(200);
  const answer = response.json() as Answer;
  const truth = truthOf[answer.version];
  expect(truth, `${label}: version ${answer.version}`).toBeDefined();
  expect(answer.fingerprint).toBe(truth!.fingerprint);
  expect(answer.view).toBe('endpoint_hourly');
  const empty = finalizeStates(truth!.view, {});
  expect(diffSeries(truth!.view, events, query, answer, empty), `${label}: ${search}`).toEqual([]);
  return answer.version;
}

const fixedQuery = `/v1/views/endpoint_hourly/series?${new URLSearchParams({
  from: new Date(base).toISOString(),
  to: new Date(base + HOURS * HOUR_MS).toISOString(),
  granularity: '1h',
  measures: 'requests,p95_latency_ms,unique_users',
})}`;

/** The answer without its freshness figures (they move with the clock). */
async function stableAnswer(): Promise<{ version: string; body: unknown }> {
  const answer = (await app.inject({ url: fixedQuery })).json() as Answer & Record<string, unknown>;
  const { freshnessMs: _f, speedWatermark: _w, sealedThrough: _s, ...rest } = answer;
  return { version: answer.version, body: rest };
}

describe('versioned views through the serving layer', () => {
  test('/v1/status shows the active version, the one building, its hours and the speed catch-up', async () => {
    await registry.markSpeedStart('endpoint_hourly', 2, base + 2.5 * HOUR_MS);
    const response = await app.inject({ url: '/v1/status' });
    expect(response.statusCode, response.body).toBe(200);
    const entry = (response.json().views as Array<{ view: string; version: Record<string, unknown> }>).find(
      (one) => one.view === 'endpoint_hourly',
    )!;
    // Complete hours of v2's history: from the first archived hour to the last hour past the lateness.
    const now = Date.now();
    const lastComplete = Math.floor((now - 10 * 60_000) / HOUR_MS) * HOUR_MS - HOUR_MS;
    expect(entry.version).toMatchObject({
      active: { version: 'v1', fingerprint: v1.fingerprint },
      building: { version: 'v2', fingerprint: edited.fingerprint, since: new Date(base + 1).toISOString() },
      hoursDone: SEALED,
      hoursNeeded: (lastComplete + HOUR_MS - base) / HOUR_MS,
      speedSince: new Date(base + 2.5 * HOUR_MS).toISOString(),
      speedCaughtUp: true,
    });
    expect(entry.version.etaMs).toBeGreaterThan(0);
    const trending = (response.json().views as Array<{ view: string; version: unknown }>).find(
      (one) => one.view === 'trending_pages',
    )!;
    expect(trending.version).toBeNull();
  });

  test('v1 serves while v2 builds, the switch is atomic per answer, and rollback answers exactly as before', async () => {
    const random = mulberry32(3);
    for (let i = 0; i < 100; i++) expect(await checkedQuery(random, `before ${i}`)).toBe('v1');
    const before = await stableAnswer();
    expect(before.version).toBe('v1');
    // What v1 lacks is refused while it serves, never answered from the other version.
    const early = await app.inject({ url: '/v1/views/endpoint_hourly/series?measures=max_latency_ms' });
    expect(early.statusCode).toBe(400);
    expect(early.json().error.message).toContain('"max_latency_ms" is not a measure of endpoint_hourly@v1');

    // 400 queries, 8 at a time, racing the switch: each answer is one version's truth.
    const seen = new Map<string, number>();
    let switched = false;
    const worker = async (id: number) => {
      const own = mulberry32(100 + id);
      for (let i = 0; i < 50; i++) {
        // A query sent after the switch returned reads the new pointer.
        const sentAfterSwitch = switched;
        const version = await checkedQuery(own, `racing ${id}/${i}`);
        seen.set(version, (seen.get(version) ?? 0) + 1);
        if (sentAfterSwitch) expect(version).toBe('v2');
        if (id === 0 && i === 20) {
          await registry.switch('endpoint_hourly', 1, 2, Date.now());
          switched = true;
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, id) => worker(id)));
    expect(seen.get('v1')).toBeGreaterThan(0);
    expect(seen.get('v2')).toBeGreaterThan(0);
    expect((seen.get('v1') ?? 0) + (seen.get('v2') ?? 0)).toBe(400);

    const after = await app.inject({
      url: '/v1/views/endpoint_hourly/series?measures=max_latency_ms&groupBy=none&granularity=all',
    });
    expect(after.statusCode).toBe(200);
    expect(after.json()).toMatchObject({ version: 'v2', fingerprint: edited.fingerprint });
    const during = await stableAnswer();
    expect(during.version).toBe('v2');
    expect(during.body).not.toEqual(before.body);

    // Rollback: a switch back to the previous version; the same query answers exactly as before.
    await registry.switch('endpoint_hourly', 2, 1, Date.now());
    expect(await stableAnswer()).toEqual(before);
    for (let i = 0; i < 50; i++) expect(await checkedQuery(random, `rolled back ${i}`)).toBe('v1');
  });

  test('/top answers from one version and names it', async () => {
    const response = await app.inject({
      url: `/v1/views/endpoint_hourly/top?from=${base}&to=${base + HOURS * HOUR_MS}&by=requests&k=2`,
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({
      view: 'endpoint_hourly',
      version: 'v1',
      fingerprint: v1.fingerprint,
    });
  });
});

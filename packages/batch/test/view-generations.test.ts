// The generation registry on the real Redis: first contact adopts a view's definition at the number
// its data has (v1) and makes it active; a changed definition gets the next number and builds; a
// cosmetic change makes nothing; a definition superseded before its build finished is retired; the
// switch is a compare-and-set (one of two racing switches wins), rollback is a switch back to the
// previous generation, and a retired one is refused. Every stored spec compiles to its fingerprint.
import { builtinCatalog, webViewSpecs, defineView, TandemError, webStream } from '@tandem/core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deletePrefix } from '@tandem/test-support/redis.ts';
import { connectRedis, uniqueName } from '@tandem/test-support/stack.ts';
import { GenerationRegistry, generationView } from '../src/view-generations.ts';

let redis: Redis;
const prefix = uniqueName('generations');
const T0 = Date.UTC(2026, 0, 1);

beforeAll(() => {
  redis = connectRedis();
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  await redis.quit();
});

const spec = webViewSpecs.find((one) => one.name === 'endpoint_hourly')!;
const v1 = defineView(spec, webStream);
// The same numbers, written differently: measures reordered, a history set (not part of a version).
const cosmetic = defineView(
  {
    history: '7d',
    measures: Object.fromEntries(Object.entries(spec.measures).reverse()),
    bucket: spec.bucket,
    dimensions: spec.dimensions ?? [],
    name: spec.name,
  },
  webStream,
);
const withMax = defineView(
  { ...spec, measures: { ...spec.measures, max_latency_ms: { kind: 'max', field: 'response_time_ms' } } },
  webStream,
);
const perMethod = defineView({ ...spec, dimensions: ['endpoint', 'method'] }, webStream);

function states(list: Awaited<ReturnType<GenerationRegistry['list']>>): string[] {
  return list.generations.map((gen) => `v${gen.n}:${gen.state}`);
}

async function refused(work: Promise<unknown>): Promise<string> {
  const error = await work.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TandemError);
  expect((error as TandemError).code).toBe('TANDEM_ERR_VIEW_INVALID');
  return (error as TandemError).message;
}

describe('the generation registry', () => {
  it('adopts, builds, retires superseded builds, switches by compare-and-set and rolls back', async () => {
    const registry = new GenerationRegistry(redis, prefix);
    expect(registry.key('endpoint_hourly')).toBe(`${prefix}:batch:gen:{endpoint_hourly}`);
    expect(await registry.active('endpoint_hourly')).toBeNull();

    // First contact: adopted at v1, the number its data already has, and active at once.
    expect(await registry.register(v1, T0)).toEqual({ n: 1, state: 'active', created: true });
    expect(await registry.register(v1, T0 + 1)).toEqual({ n: 1, state: 'active', created: false });
    // A cosmetic change is the same version: nothing new to build.
    expect(cosmetic.fingerprint).toBe(v1.fingerprint);
    expect(await registry.register(cosmetic, T0 + 2)).toEqual({ n: 1, state: 'active', created: false });

    const active = await registry.active('endpoint_hourly');
    expect(active).toMatchObject({ n: 1, fingerprint: v1.fingerprint, state: 'active', since: T0 });
    // The stored spec compiles to the same version, at its storage number.
    const compiled = generationView(active!, webStream);
    expect([compiled.fingerprint, compiled.version]).toEqual([v1.fingerprint, 1]);

    // A new measure: v2 builds beside v1, which stays active.
    expect(await registry.register(withMax, T0 + 10)).toEqual({ n: 2, state: 'building', created: true });
    expect((await registry.active('endpoint_hourly'))!.n).toBe(1);
    // Changed again before v2 finished: v3 builds, v2 is retired (only the newest is built).
    expect(await registry.register(perMethod, T0 + 20)).toEqual({ n: 3, state: 'building', created: true });
    let list = await registry.list('endpoint_hourly');
    expect(list.active).toBe(1);
    expect(states(list)).toEqual(['v1:active', 'v2:retired', 'v3:building']);
    expect(list.generations.map((gen) => gen.fingerprint)).toEqual([
      v1.fingerprint,
      withMax.fingerprint,
      perMethod.fingerprint,
    ]);
    for (const gen of list.generations) {
      expect(generationView(gen, webStream).fingerprint).toBe(gen.fingerprint);
    }

    // The switch checks the expected active generation.
    expect(await refused(registry.switch('endpoint_hourly', 3, 3, T0 + 30))).toContain(
      'is no longer served by v3 (it is v1)',
    );
    expect(await refused(registry.switch('endpoint_hourly', 1, 2, T0 + 30))).toContain('retired');
    expect(await refused(registry.switch('endpoint_hourly', 1, 9, T0 + 30))).toContain('unknown');
    // Two switches racing from the same expected pointer: exactly one wins.
    const race = await Promise.allSettled([
      registry.switch('endpoint_hourly', 1, 3, T0 + 40),
      registry.switch('endpoint_hourly', 1, 3, T0 + 40),
    ]);
    expect(race.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
    list = await registry.list('endpoint_hourly');
    expect([list.active, ...states(list)]).toEqual([3, 'v1:previous', 'v2:retired', 'v3:active']);
    expect(await registry.active('endpoint_hourly')).toMatchObject({ n: 3, since: T0 + 40 });

    // Rollback: a switch back to the previous generation.
    await registry.switch('endpoint_hourly', 3, 1, T0 + 50);
    list = await registry.list('endpoint_hourly');
    expect([list.active, ...states(list)]).toEqual([1, 'v1:active', 'v2:retired', 'v3:previous']);

    // Going back to the v2 definition revives v2 (its data may still be in the lake) as building.
    expect(await registry.register(withMax, T0 + 60)).toEqual({ n: 2, state: 'building', created: false });
    list = await registry.list('endpoint_hourly');
    expect(states(list)).toEqual(['v1:active', 'v2:building', 'v3:previous']);
  });

  it('keeps one registry per view, each adopting its own number', async () => {
    const registry = new GenerationRegistry(redis, prefix);
    for (const view of builtinCatalog().views) {
      if (view.name === 'endpoint_hourly') continue;
      expect(await registry.register(view, T0)).toEqual({ n: 1, state: 'active', created: true });
    }
    const v4 = defineView(
      { ...webViewSpecs.find((one) => one.name === 'trending_pages')!, version: 4 },
      webStream,
    );
    const other = new GenerationRegistry(redis, `${prefix}:other`);
    expect(await other.register(v4, T0)).toEqual({ n: 4, state: 'active', created: true });
    expect(await redis.hget(other.key('trending_pages'), 'next')).toBe('4');
    await deletePrefix(redis, `${prefix}:other`);
  });
});

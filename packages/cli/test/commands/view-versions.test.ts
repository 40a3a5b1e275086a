// `tandem views versions | switch | rollback` on the real Redis: the first look adopts the built-in
// endpoint_hourly at v1; with a v2 registered beside it (a changed definition), an operator switches
// to it, rolls back, and is refused a version that does not exist (a usage error naming it).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenerationRegistry } from '@tandem/batch';
import { builtinViews, defineView, viewSpecOf } from '@tandem/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deletePrefix } from '@tandem/test-support/redis.ts';
import { connectRedis, redisUrl, uniqueName } from '@tandem/test-support/stack.ts';
import { runTandem } from '../support/run-cli.ts';

describe('tandem views versions, switch and rollback', () => {
  const prefix = uniqueName('view-versions');
  const redis = connectRedis();
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tandem-view-versions-'));
    env = { LAKE_URL: `file://${dir}`, REDIS_URL: redisUrl, REDIS_PREFIX: prefix, LOG_LEVEL: 'silent' };
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists, switches, rolls back and refuses an unknown version', async () => {
    const listed = await runTandem(['views', 'versions', '--view', 'endpoint_hourly', '--json'], env);
    expect(listed.code, listed.err).toBe(0);
    const v1 = builtinViews.endpoint_hourly;
    expect(JSON.parse(listed.out)).toMatchObject({
      view: 'endpoint_hourly',
      active: 1,
      generations: [{ n: 1, fingerprint: v1.fingerprint, state: 'active' }],
      progress: { active: 1, building: null, hoursNeeded: 0, hoursDone: 0 },
    });

    // A changed definition registered beside it (as a scheduler with the new config would).
    const changed = defineView({ ...viewSpecOf(v1), dimensions: ['endpoint', 'method'] });
    const registry = new GenerationRegistry(redis, prefix);
    expect(await registry.register(changed, Date.now())).toEqual({ n: 2, state: 'building', created: true });

    const switched = await runTandem(
      ['views', 'switch', '--view', 'endpoint_hourly', '--to', 'v2', '--json'],
      env,
    );
    expect(switched.code, switched.err).toBe(0);
    expect(JSON.parse(switched.out)).toEqual({ view: 'endpoint_hourly', from: 'v1', to: 'v2' });
    expect((await registry.active('endpoint_hourly'))?.fingerprint).toBe(changed.fingerprint);

    const rolledBack = await runTandem(['views', 'rollback', '--view', 'endpoint_hourly'], env);
    expect(rolledBack.code, rolledBack.err).toBe(0);
    expect(rolledBack.out).toContain('endpoint_hourly: serving v1 (was v2)');
    expect((await registry.list('endpoint_hourly')).generations.map((gen) => gen.state)).toEqual([
      'active',
      'previous',
    ]);

    const unknown = await runTandem(['views', 'switch', '--view', 'endpoint_hourly', '--to', 'v9'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('view "endpoint_hourly" has no version v9 to switch to (unknown)');
  });
});

// `tandem export` through the command, on the real stack: hours published by `tandem recompute` land
// in the view's PostgreSQL table (--json reports each hour and exported-through), a second run skips
// what the table holds, and a missing URL, refused credentials or an unreachable database exit 1
// with the coded error.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOUR_MS } from '@tandem/core';
import { openObjectStore } from '@tandem/lake';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateHour, writeHour } from '../../../batch/test/support/fixtures.ts';
import { deletePrefix } from '@tandem/test-support/redis.ts';
import { connectRedis, redisUrl, uniqueName } from '@tandem/test-support/stack.ts';
import { runTandem } from '../support/run-cli.ts';

const postgresUrl = process.env.EXPORT_POSTGRES_URL ?? 'postgres://tandem:tandem@127.0.0.1:5432/tandem';
const BASE = Date.UTC(2025, 3, 9, 4);
const iso = (ms: number) => new Date(ms).toISOString();
/** How the cli prints an hour (formatHour). */
const hourText = (ms: number) => `${iso(ms).slice(0, 16)}Z`;

interface ExportJson {
  table: string;
  counts: Record<string, number>;
  exportedThrough: string | null;
  hours: Array<{ hour: string; status: string; rows: number | null; error: { code: string } | null }>;
}

describe('tandem export', () => {
  let dir: string;
  const prefix = uniqueName('export');
  const schema = `test_${prefix.replaceAll('-', '').slice(-20)}`;
  const admin = new pg.Pool({ connectionString: postgresUrl, max: 1 });
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tandem-export-cli-'));
    env = {
      LAKE_URL: `file://${dir}`,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      EXPORT_POSTGRES_URL: postgresUrl,
      EXPORT_POSTGRES_SCHEMA: schema,
      LOG_LEVEL: 'silent',
      // A topic that does not exist, as on a fresh stack: `tandem status` must answer anyway.
      TANDEM_TOPIC: uniqueName('export-events'),
    };
    const store = openObjectStore({ url: `file://${dir}` });
    for (let i = 0; i < 2; i++) {
      await writeHour(store, generateHour(BASE + i * HOUR_MS, { events: 300, seed: 5, badLines: 0 }));
    }
    await store.close();
    // Published without an export database, so `tandem export` finds the hours not yet exported.
    const { EXPORT_POSTGRES_URL: _, ...withoutExport } = env;
    const recompute = await runTandem(
      ['recompute', '--view', 'endpoint_hourly', '--from', iso(BASE), '--to', iso(BASE + 2 * HOUR_MS)],
      withoutExport,
    );
    expect(recompute.code, recompute.err).toBe(0);
  });
  afterAll(async () => {
    const redis = connectRedis();
    await deletePrefix(redis, prefix);
    await redis.quit();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    await rm(dir, { recursive: true, force: true });
  });

  const argv = (...extra: string[]) => [
    'export',
    '--view',
    'endpoint_hourly',
    '--from',
    iso(BASE - HOUR_MS),
    '--to',
    iso(BASE + 2 * HOUR_MS),
    ...extra,
  ];

  it('exports the sealed hours, then skips them when run again', async () => {
    const run = await runTandem(argv('--json'), env);
    expect(run.code, run.err).toBe(0);
    const result = JSON.parse(run.out) as ExportJson;
    expect(result.table).toBe(`${schema}.endpoint_hourly_v1`);
    expect(result.hours.map((h) => [h.hour, h.status])).toEqual([
      [hourText(BASE - HOUR_MS), 'not-sealed'],
      [hourText(BASE), 'exported'],
      [hourText(BASE + HOUR_MS), 'exported'],
    ]);
    expect(result.exportedThrough).toBe(hourText(BASE + 2 * HOUR_MS));
    const rows = result.hours.reduce((sum, h) => sum + (h.rows ?? 0), 0);
    const count = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".endpoint_hourly`);
    expect(count.rows[0].n).toBe(rows);
    expect(rows).toBeGreaterThan(0);

    const again = await runTandem(argv(), env);
    expect(again.code, again.err).toBe(0);
    expect(again.err).toContain('export endpoint_hourly: 0 exported, 2 unchanged, 1 not sealed, 0 failed');
    expect(again.out).toContain(`exported through ${hourText(BASE + 2 * HOUR_MS)}`);
  });

  it('re-exports every hour a recompute republishes, and tandem status shows exported-through', async () => {
    const recompute = await runTandem(
      [
        'recompute',
        '--view',
        'endpoint_hourly',
        '--from',
        iso(BASE),
        '--to',
        iso(BASE + 2 * HOUR_MS),
        '--json',
      ],
      env,
    );
    expect(recompute.code, recompute.err).toBe(0);
    const published = (JSON.parse(recompute.out) as { hours: Array<{ status: string; runId: string }> })
      .hours;
    expect(published.map((h) => h.status)).toEqual(['published', 'published']);
    // The rows in the table are the new runs', exported before the command exited.
    const runs = await admin.query(`SELECT DISTINCT run_id FROM "${schema}".endpoint_hourly ORDER BY run_id`);
    expect(runs.rows.map((row) => row.run_id)).toEqual(published.map((h) => h.runId).sort());

    const status = await runTandem(['status', '--json'], env);
    expect(status.code, status.err).toBe(0);
    const views = (JSON.parse(status.out) as { views: Array<{ view: string; export?: unknown }> }).views;
    expect(views.find((v) => v.view === 'endpoint_hourly')?.export).toEqual({
      exportedThrough: BASE + 2 * HOUR_MS,
      lagging: 0,
    });
    const table = await runTandem(['status'], env);
    expect(table.out).toContain('EXPORTED THROUGH');
    expect(table.out).toContain(hourText(BASE + 2 * HOUR_MS));
  });

  it('names a missing URL, refused credentials and an unreachable database', async () => {
    const { EXPORT_POSTGRES_URL: _, ...withoutUrl } = env;
    const missing = await runTandem(argv(), withoutUrl);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('EXPORT_POSTGRES_URL is not set');
    expect(missing.err).toContain('TANDEM_ERR_CONFIG_INVALID');

    const wrong = new URL(postgresUrl);
    wrong.password = 'not-the-password';
    const refused = await runTandem(argv('--json'), { ...env, EXPORT_POSTGRES_URL: wrong.toString() });
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('TANDEM_ERR_EXPORT_AUTH');
    expect(refused.err).not.toContain('not-the-password');
    expect((JSON.parse(refused.out) as ExportJson).hours.map((h) => h.error?.code)).toEqual([
      'TANDEM_ERR_EXPORT_AUTH',
    ]);

    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const down = await runTandem(argv(), {
      ...env,
      EXPORT_POSTGRES_URL: `postgres://tandem:x@127.0.0.1:${port}/tandem`,
    });
    expect(down.code).toBe(1);
    expect(down.err).toContain(
      `PostgreSQL is not reachable at postgres://tandem:***@127.0.0.1:${port}/tandem`,
    );
    expect(down.err).toContain('TANDEM_ERR_SERVICE_UNAVAILABLE');
  });
});

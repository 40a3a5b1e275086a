// Bad configuration gives a coded error that names the problem, and never stops publishing: an
// unreachable database (retried with backoff, then TANDEM_ERR_SERVICE_UNAVAILABLE), refused
// credentials (TANDEM_ERR_EXPORT_AUTH, not retried), a table altered by hand
// (TANDEM_ERR_EXPORT_TABLE_ALTERED, whether this process checked the table before or not).
import { createServer } from 'node:net';
import { HOUR_MS, isTandemError } from '@tandem/core';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateHour, writeHour } from '../../batch/test/support/fixtures.ts';
import { createExportEnv, type ExportEnv, hoursRange, postgresUrl } from './support/fixtures.ts';

const BASE = Date.UTC(2025, 5, 2, 13);

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}

describe('export configuration errors', () => {
  let env: ExportEnv;
  beforeEach(async () => {
    env = await createExportEnv('file');
    await writeHour(env.batch.lake.store, generateHour(BASE, { events: 200, seed: 3, badLines: 0 }));
    expect((await env.layer.runHour('endpoint_hourly', BASE, { force: true })).status).toBe('published');
  });
  afterEach(async () => {
    await env.teardown();
  });

  it('an unreachable database is retried with backoff, then named, and publishing goes on', async () => {
    const port = await closedPort();
    const url = `postgres://tandem:s3cret-pw@127.0.0.1:${port}/tandem`;
    const delays: number[] = [];
    const logged: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    const exporter = env.exporter({
      url,
      maxAttempts: 3,
      logger,
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    const outcome = await exporter.exportHour('endpoint_hourly', BASE);
    expect(outcome.status).toBe('failed');
    expect(outcome.attempts).toBe(3);
    expect(outcome.error?.code).toBe('TANDEM_ERR_SERVICE_UNAVAILABLE');
    expect(outcome.error?.message).toContain(
      `PostgreSQL is not reachable at postgres://tandem:***@127.0.0.1:${port}/tandem`,
    );
    expect(outcome.error?.message).not.toContain('s3cret-pw');
    // Doubling backoff with jitter: [base/2, base], then [base, 2 base].
    expect(delays).toHaveLength(2);
    expect(delays[0]).toBeGreaterThanOrEqual(10);
    expect(delays[0]).toBeLessThanOrEqual(20);
    expect(delays[1]).toBeGreaterThanOrEqual(20);
    expect(delays[1]).toBeLessThanOrEqual(40);
    await expect(exporter.check()).rejects.toSatisfy((error) =>
      isTandemError(error, 'TANDEM_ERR_SERVICE_UNAVAILABLE'),
    );

    // The scheduler's hook: enqueue returns at once and never throws; publishing is not held up.
    exporter.enqueue('endpoint_hourly', BASE + HOUR_MS);
    await writeHour(
      env.batch.lake.store,
      generateHour(BASE + HOUR_MS, { events: 200, seed: 4, badLines: 0 }),
    );
    expect((await env.layer.runHour('endpoint_hourly', BASE + HOUR_MS, { force: true })).status).toBe(
      'published',
    );
    await exporter.idle();
    expect(
      logged.some((entry) => entry.code === 'TANDEM_ERR_SERVICE_UNAVAILABLE' && entry.level === 50),
    ).toBe(true);
  });

  it('refused credentials are named and not retried', async () => {
    const exporter = env.exporter({ url: withPassword(postgresUrl, 'wrong-password') });
    const outcome = await exporter.exportHour('endpoint_hourly', BASE);
    expect([outcome.status, outcome.attempts, outcome.error?.code]).toEqual([
      'failed',
      1,
      'TANDEM_ERR_EXPORT_AUTH',
    ]);
    expect(outcome.error?.message).toMatch(/refused the credentials .*password authentication failed/);
    expect(outcome.error?.message).not.toContain('wrong-password');
    const range = hoursRange(BASE, 1);
    const outcomes = await exporter.exportRange('endpoint_hourly', range);
    expect(outcomes.map((o) => o.error?.code)).toEqual(['TANDEM_ERR_EXPORT_AUTH']);
  });

  it('a table altered by hand is refused with the difference named, before or after this process checked it', async () => {
    const exporter = env.exporter();
    expect((await exporter.exportHour('endpoint_hourly', BASE)).status).toBe('exported');
    const table = `"${env.schema}".endpoint_hourly_v1`;

    // Checked already by this exporter: the failed write makes it look again. (CASCADE: the
    // alias view reads every column, as an analyst dropping a column would find out.)
    await env.admin.query(`ALTER TABLE ${table} DROP COLUMN p95_latency_ms CASCADE`);
    const afterDrop = await exporter.exportHour('endpoint_hourly', BASE, { force: true });
    expect(afterDrop.error?.code).toBe('TANDEM_ERR_EXPORT_TABLE_ALTERED');
    expect(afterDrop.error?.message).toContain('column "p95_latency_ms" (double precision) is missing');
    expect(afterDrop.attempts).toBe(1);

    // A fresh exporter checks before its first write.
    await env.admin.query(`ALTER TABLE ${table} ADD COLUMN p95_latency_ms double precision`);
    await env.admin.query(`ALTER TABLE ${table} ALTER COLUMN requests TYPE text`);
    const fresh = env.exporter();
    const refused = await fresh.exportRange('endpoint_hourly', hoursRange(BASE, 1), { force: true });
    expect(refused.map((o) => o.error?.code)).toEqual(['TANDEM_ERR_EXPORT_TABLE_ALTERED']);
    expect(refused[0]!.error?.message).toContain('column "requests" is text, expected bigint');
    expect(refused[0]!.error?.message).toContain(`table ${env.schema}.endpoint_hourly_v1`);
    // Restored by hand (the re-added column now comes last: column order does not matter), the
    // table is accepted again, and the alias view is created again.
    await env.admin.query(`ALTER TABLE ${table} ALTER COLUMN requests TYPE bigint USING requests::bigint`);
    expect((await env.exporter().exportHour('endpoint_hourly', BASE, { force: true })).status).toBe(
      'exported',
    );
    const alias = await env.admin.query(`SELECT count(*)::int AS n FROM "${env.schema}".endpoint_hourly`);
    expect(alias.rows[0].n).toBeGreaterThan(0);

    // Dropped by hand: created again and refilled.
    await env.admin.query(`DROP TABLE ${table} CASCADE`);
    const refilled = await env.exporter().exportHour('endpoint_hourly', BASE);
    expect(refilled.status).toBe('exported');
    const count = await env.admin.query(`SELECT count(*)::int AS n FROM ${table}`);
    expect(count.rows[0].n).toBe(refilled.rows);
  });
});

// The export on the real stack (PostgreSQL, Redis, S3 or a file lake, DuckDB): after a backfill every
// exported table equals the sealed batch view row for row, each finalized measure compared; a retry
// changes nothing (not even a row's xmin); a recompute replaces exactly its hour and deletes the
// tuples that vanished; an older run never overwrites a newer one, whichever exporter finishes last.
import { HOUR_MS } from '@tandem/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { endpointTruth, generateHour, writeHour } from '../../batch/test/support/fixtures.ts';
import type { ExportStage, HourExportOutcome, SealedViewSource } from '../src/index.ts';
import {
  createExportEnv,
  type ExportEnv,
  hoursRange,
  sealedTruth,
  type TableRows,
  tableRows,
} from './support/fixtures.ts';

const BASE = Date.UTC(2025, 0, 14, 9);
const HOURS = 3;
const VIEWS = ['endpoint_hourly', 'sessions_hourly', 'trending_pages', 'user_minutes'] as const;

function expectSameTable(actual: TableRows, expected: TableRows, label: string): void {
  expect(expected.size, `${label}: the sealed view has rows`).toBeGreaterThan(0);
  expect([...actual.keys()].sort(), `${label}: keys`).toEqual([...expected.keys()].sort());
  for (const [key, row] of expected) expect(actual.get(key), `${label} ${key}`).toEqual(row);
}

async function writeHours(env: ExportEnv, first: number, count: number, seed: number, events = 500) {
  const data = [];
  for (let i = 0; i < count; i++) {
    const hour = generateHour(first + i * HOUR_MS, { events, users: 60, endpoints: 8, seed, badLines: 0 });
    await writeHour(env.batch.lake.store, hour);
    data.push(hour);
  }
  return data;
}

async function publish(env: ExportEnv, view: string, hours: number[]): Promise<void> {
  const outcomes = await env.layer.runHours(view, hours, { force: true });
  expect(outcomes.map((o) => o.status)).toEqual(hours.map(() => 'published'));
}

/** Each row's xmin (the transaction that last wrote it), by key columns. */
async function xmins(env: ExportEnv, table: string): Promise<Map<string, string>> {
  const result = await env.admin.query<{ key: string; xmin: string }>(
    `SELECT row_to_json(t)::text AS key, xmin::text AS xmin FROM "${env.schema}"."${table}" t`,
  );
  return new Map(result.rows.map((row) => [row.key, row.xmin]));
}

describe.each(['s3', 'file'] as const)('export to PostgreSQL (%s lake)', (kind) => {
  let env: ExportEnv;
  beforeEach(async () => {
    env = await createExportEnv(kind);
  });
  afterEach(async () => {
    await env.teardown();
  });

  it('exports every view so that each table equals the sealed view, and a retry changes nothing', async () => {
    const hours = Array.from({ length: HOURS }, (_, i) => BASE + i * HOUR_MS);
    const data = await writeHours(env, BASE, HOURS, 7);
    for (const view of VIEWS) await publish(env, view, hours);
    const exporter = env.exporter();
    const range = hoursRange(BASE, HOURS);
    for (const view of VIEWS) {
      const outcomes = await exporter.exportRange(view, range);
      expect(outcomes.map((o) => [o.hour, o.status, o.error])).toEqual(
        hours.map((h) => [h, 'exported', null]),
      );
      expectSameTable(await tableRows(env, view, range), await sealedTruth(env.layer, view, range), view);
    }

    // Independently of the batch layer: plain counts over the generated events.
    const truth = endpointTruth(data.flatMap((hour) => hour.events));
    const counts = await env.admin.query<{
      bucket: Date;
      endpoint: string;
      requests: string;
      requests_2xx: string;
      errors_5xx: string;
    }>(`SELECT bucket, endpoint, requests, requests_2xx, errors_5xx FROM "${env.schema}".endpoint_hourly`);
    expect(counts.rows.length).toBe(truth.size);
    for (const row of counts.rows) {
      const expected = truth.get(`${row.bucket.getTime()}|${row.endpoint}`)!;
      expect([Number(row.requests), Number(row.requests_2xx), Number(row.errors_5xx)]).toEqual([
        expected.requests,
        expected.requests_2xx,
        expected.errors_5xx,
      ]);
    }

    // The README's BI query (its week taken at this data): per day and busiest endpoint, the
    // request-weighted mean latency equals the plain mean over the generated 2xx events.
    const bi = await env.admin.query<{
      endpoint: string;
      requests: string;
      error_pct: string | null;
      avg_latency_ms: string | null;
    }>(
      `SELECT date_trunc('day', bucket) AS day, endpoint, sum(requests) AS requests,
              round(100.0 * sum(errors_5xx) / nullif(sum(requests), 0), 2) AS error_pct,
              round((sum(avg_latency_ms * requests_2xx) / nullif(sum(requests_2xx), 0))::numeric, 1) AS avg_latency_ms,
              max(p95_latency_ms) AS worst_hourly_p95_ms
         FROM "${env.schema}".endpoint_hourly
        WHERE bucket >= $1
          AND endpoint IN (SELECT endpoint FROM "${env.schema}".endpoint_hourly WHERE bucket >= $1
                            GROUP BY endpoint ORDER BY sum(requests) DESC LIMIT 5)
        GROUP BY 1, 2 ORDER BY 1, 3 DESC`,
      [new Date(BASE)],
    );
    expect(bi.rows).toHaveLength(5);
    for (const row of bi.rows) {
      const events = data.flatMap((hour) => hour.events).filter((event) => event.endpoint === row.endpoint);
      const ok = events.filter((event) => event.status_code >= 200 && event.status_code <= 299);
      expect(Number(row.requests)).toBe(events.length);
      const mean = ok.reduce((sum, event) => sum + event.response_time_ms, 0) / ok.length;
      // rounded to 0.1 by the query
      expect(Math.abs(Number(row.avg_latency_ms) - mean)).toBeLessThanOrEqual(0.05 + 1e-9);
    }

    // The stable alias reads the same rows; the bookkeeping names each hour's run.
    const alias = await env.admin.query(`SELECT count(*)::int AS n FROM "${env.schema}".user_minutes`);
    expect(alias.rows[0].n).toBe((await sealedTruth(env.layer, 'user_minutes', range)).size);
    env.layer.reader.invalidate();
    const pointers = await env.layer.reader.pointersIn('user_minutes', range);
    const records = await env.admin.query<{
      hour: Date;
      run_id: string;
      fencing_token: string;
      pointer_version: string;
    }>(
      `SELECT hour, run_id, fencing_token, pointer_version FROM "${env.schema}".tandem_export_hours
        WHERE table_name = 'user_minutes_v1' ORDER BY hour`,
    );
    expect(
      records.rows.map((r) => [r.hour.getTime(), r.run_id, Number(r.fencing_token), r.pointer_version]),
    ).toEqual(
      pointers.map(({ info, pointer }) => [pointer.hour, pointer.runId, pointer.fencingToken, info.etag]),
    );
    expect(await exporter.exportedThrough('user_minutes')).toBe(BASE + HOURS * HOUR_MS);
    expect((await exporter.status('user_minutes', range)).lagging).toEqual([]);

    // A retry (a second exporter, as after a crash) writes nothing: every row keeps its xmin.
    const before = await xmins(env, 'user_minutes_v1');
    const again = await env.exporter().exportRange('user_minutes', range);
    expect(again.map((o) => o.status)).toEqual(hours.map(() => 'unchanged'));
    const single = await env.exporter().exportHour('user_minutes', BASE + HOUR_MS);
    expect([single.status, single.upserted, single.deleted]).toEqual(['unchanged', 0, 0]);
    expect(await xmins(env, 'user_minutes_v1')).toEqual(before);

    // --force writes the same run again: same values.
    const forced = await exporter.exportRange('user_minutes', range, { force: true });
    expect(forced.map((o) => o.status)).toEqual(hours.map(() => 'exported'));
    expectSameTable(
      await tableRows(env, 'user_minutes', range),
      await sealedTruth(env.layer, 'user_minutes', range),
      'forced',
    );
  });

  it('a recompute replaces exactly its hour, deleting the tuples that vanished; an older run never wins', async () => {
    const hours = Array.from({ length: HOURS }, (_, i) => BASE + i * HOUR_MS);
    await writeHours(env, BASE, HOURS, 11);
    await publish(env, 'user_minutes', hours);
    const exporter = env.exporter();
    const range = hoursRange(BASE, HOURS);
    await exporter.exportRange('user_minutes', range);
    const before = await xmins(env, 'user_minutes_v1');
    const oldTruth = await sealedTruth(env.layer, 'user_minutes', hoursRange(BASE + HOUR_MS, 1));

    // New input for the middle hour (other users and minutes), recomputed: a newer run.
    await writeHours(env, BASE + HOUR_MS, 1, 12);
    await publish(env, 'user_minutes', [BASE + HOUR_MS]);
    const newTruth = await sealedTruth(env.layer, 'user_minutes', hoursRange(BASE + HOUR_MS, 1));
    const vanished = [...oldTruth.keys()].filter((key) => !newTruth.has(key)).length;
    expect(vanished).toBeGreaterThan(0);
    const outcome = await exporter.exportHour('user_minutes', BASE + HOUR_MS);
    expect([outcome.status, outcome.upserted, outcome.deleted]).toEqual([
      'exported',
      newTruth.size,
      vanished,
    ]);
    expectSameTable(
      await tableRows(env, 'user_minutes', range),
      await sealedTruth(env.layer, 'user_minutes', range),
      'after recompute',
    );
    // The other hours were not touched.
    const after = await xmins(env, 'user_minutes_v1');
    for (const [key, xmin] of before) {
      const bucket = Date.parse(JSON.parse(key).bucket);
      if (bucket < BASE + HOUR_MS || bucket >= BASE + 2 * HOUR_MS) expect(after.get(key), key).toBe(xmin);
    }

    // An exporter that still sees the previous run (its reader is behind) is refused.
    const pointer = (await env.layer.reader.pointer('user_minutes', BASE + HOUR_MS))!;
    const previous = pointer.previous[0]!;
    expect(previous.fencingToken).toBeLessThan(pointer.fencingToken);
    const stale: SealedViewSource = {
      pointersIn: async () => [
        {
          info: { etag: 'stale' },
          pointer: { hour: BASE + HOUR_MS, runId: previous.runId, fencingToken: previous.fencingToken },
        },
      ],
      readRunText: (view, run, options) => env.layer.reader.readRunText(view, run, options),
      invalidate: () => {},
    };
    const refused = await env.exporter({ source: stale }).exportHour('user_minutes', BASE + HOUR_MS);
    expect(refused.status).toBe('superseded');
    expectSameTable(
      await tableRows(env, 'user_minutes', range),
      await sealedTruth(env.layer, 'user_minutes', range),
      'after stale',
    );
  });

  it('two exporters racing over a recompute end with the newest run', async () => {
    const hours = Array.from({ length: HOURS }, (_, i) => BASE + i * HOUR_MS);
    const hour = BASE + HOUR_MS;
    await writeHours(env, BASE, HOURS, 21);
    await publish(env, 'user_minutes', hours);
    const range = hoursRange(BASE, HOURS);
    await env.exporter().exportRange('user_minutes', range);

    // 1. The first exporter read run A and pauses before its transaction; run B is published and
    //    exported by the second; the first then finds B in the table and writes nothing.
    const paused = pauser();
    const first = env.exporter({ hooks: { onStage: paused.hook('read', hour) } });
    const second = env.exporter();
    const firstDone = first.exportHour('user_minutes', hour);
    await paused.reached;
    await writeHours(env, hour, 1, 22);
    await publish(env, 'user_minutes', [hour]);
    expect((await second.exportHour('user_minutes', hour)).status).toBe('exported');
    paused.release();
    expect((await firstDone).status).toBe('superseded');
    expectSameTable(
      await tableRows(env, 'user_minutes', range),
      await sealedTruth(env.layer, 'user_minutes', range),
      'read-paused',
    );

    // 2. The first holds the hour's claim (mid-transaction, run C) while run D is published; the
    //    second waits for the claim, then replaces C with D.
    await writeHours(env, hour, 1, 23);
    await publish(env, 'user_minutes', [hour]);
    const holding = pauser();
    const third = env.exporter({ hooks: { onStage: holding.hook('copied', hour) } });
    const thirdDone = third.exportHour('user_minutes', hour);
    await holding.reached;
    await writeHours(env, hour, 1, 24);
    await publish(env, 'user_minutes', [hour]);
    let secondSettled = false;
    const secondDone = second.exportHour('user_minutes', hour).finally(() => {
      secondSettled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(secondSettled, 'the second waits for the hour held by the first').toBe(false);
    holding.release();
    expect((await thirdDone).status).toBe('exported');
    expect((await secondDone).status).toBe('exported');
    expectSameTable(
      await tableRows(env, 'user_minutes', range),
      await sealedTruth(env.layer, 'user_minutes', range),
      'claim-held',
    );

    // 3. Free-running: both export every hour while all hours are recomputed, then both catch up.
    await writeHours(env, BASE, HOURS, 25);
    const racing = Promise.all([
      first.exportRange('user_minutes', range),
      second.exportRange('user_minutes', range),
      env.layer.runHours('user_minutes', hours, { force: true }),
    ]);
    await racing;
    const catchUp: HourExportOutcome[][] = await Promise.all([
      first.exportRange('user_minutes', range),
      second.exportRange('user_minutes', range),
    ]);
    expect(catchUp.flat().filter((o) => o.status === 'failed')).toEqual([]);
    expectSameTable(
      await tableRows(env, 'user_minutes', range),
      await sealedTruth(env.layer, 'user_minutes', range),
      'racing',
    );
  });
});

/** A hook that pauses the first time an export of `hour` reaches `stage`, until released. */
function pauser(): {
  hook(stage: ExportStage, hour: number): (at: ExportStage, view: string, atHour: number) => Promise<void>;
  reached: Promise<void>;
  release(): void;
} {
  let reach!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => {
    reach = resolve;
  });
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let used = false;
  return {
    hook: (stage, hour) => async (at, _view, atHour) => {
      if (used || at !== stage || atHour !== hour) return;
      used = true;
      reach();
      await released;
    },
    reached,
    release,
  };
}

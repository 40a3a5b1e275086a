// The batch layer on the real stack (DuckDB, Redis, S3Proxy or a directory): exact results against
// an independently computed truth, quarantine and the bad-row limit, Parquet inputs, idempotence and
// retention, staleness and catch-up, fencing, sealed-through, and the scheduler's triggers.
import { DuckDBInstance } from '@duckdb/node-api';
import { gzipSync } from 'node:zlib';
import {
  builtinViews,
  compileReducer,
  EVENT_VALIDATOR_VERSION,
  HOUR_MS,
  type PartialRow,
  parseEvent,
  type TandemEvent,
  type View,
} from '@tandem/core';
import {
  archiveManifestKey,
  buildArchiveManifest,
  logPartitionPrefix,
  type ObjectStore,
  writeArchiverWatermark,
} from '@tandem/lake';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pointerKey, type QuarantineReport, readPointer, viewHourPrefix } from '../src/index.ts';
import type { LakeKind } from '@tandem/test-support/lake.ts';
import { mulberry32 } from '@tandem/test-support/random.ts';
import { expectEndpointTruth, expectSameRows } from './support/assertions.ts';
import {
  createTestEnv,
  encodeNdjson,
  endpointTruth,
  generateHour,
  type TestEnv,
  writeHour,
} from './support/fixtures.ts';

const BASE = Date.UTC(2024, 2, 1); // a Friday, midnight UTC
const H = HOUR_MS;
const endpointHourly = builtinViews.endpoint_hourly;

function reducerRows(view: typeof endpointHourly, events: readonly TandemEvent[]): PartialRow[] {
  const reducer = compileReducer(view);
  for (const event of events) reducer.add(event);
  return reducer.rows();
}

async function listKeys(env: TestEnv, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of env.lake.store.list(prefix)) keys.push(info.key);
  return keys;
}

/** Strings and numbers that make a JSON reader work: escapes, control characters, astral code points, extremes. */
const awkwardStrings = [
  'héllo',
  'a"b',
  'back\\slash',
  'tab\tnew\nline',
  '\u0001ctl',
  'emoji 😀',
  '日本語',
  'x'.repeat(250),
];
const awkwardLatencies = [0, 1e-7, 5e-324, 0.1, 2.5, 123.456789012345, 86_399_999.99, 1 / 3];
const awkwardBytes = [0, 1, 12_345, 9_007_199_254_740_991, null];

interface ArchivedHour {
  hour: number;
  files: Map<string, string[]>;
  /** Distinct events (what dedup leaves). */
  events: TandemEvent[];
}

/** An hour as the archiver writes it: each line is JSON.stringify of a normalized event. */
function archiverStyleHour(hour: number, seed: number): ArchivedHour {
  const rand = mulberry32(seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(rand() * values.length)]!;
  const names = [0, 1, 2].map((f) => `events+${f}+${seed * 1000 + f}.json.gz`);
  const files = new Map(names.map((name) => [name, [] as string[]]));
  const events: TandemEvent[] = [];
  for (let i = 0; i < 300; i++) {
    const wire = {
      event_id: rand() < 0.1 ? `id ${pick(awkwardStrings).slice(0, 100)} ${i}` : `e-${seed}-${i}`,
      timestamp: hour + Math.floor(rand() * HOUR_MS),
      endpoint: rand() < 0.3 ? `/api/${pick(awkwardStrings)}` : `/api/r${Math.floor(rand() * 5)}`,
      method: rand() < 0.5 ? undefined : pick(['GET', 'POST', 'DELETE']),
      status_code: pick([100, 200, 200, 201, 404, 500, 599]),
      response_time_ms: rand() < 0.5 ? pick(awkwardLatencies) : rand() * 1000,
      bytes_sent: pick(awkwardBytes),
      user_id: rand() < 0.1 ? null : rand() < 0.2 ? pick(awkwardStrings) : `u${Math.floor(rand() * 30)}`,
      session_id: rand() < 0.5 ? null : `s${Math.floor(rand() * 9)}`,
      page_id: rand() < 0.3 ? null : rand() < 0.2 ? pick(awkwardStrings) : `/p/${Math.floor(rand() * 7)}`,
    };
    const parsed = parseEvent(JSON.stringify(wire), { now: () => hour + 10 * H });
    if (!parsed.ok) throw new Error(`fixture event is invalid: ${JSON.stringify(parsed.error)}`);
    events.push(parsed.event);
    const line = JSON.stringify(parsed.event);
    files.get(pick(names))!.push(line);
    if (rand() < 0.05) {
      files.get(pick(names))!.push(line); // a producer retry the archiver kept
    }
  }
  return { hour, files, events };
}

/**
 * Writes the files and, after each, its manifest, as the archiver does (`validator`: the web
 * stream's fingerprint, or what archivers wrote before streams existed).
 */
async function writeArchivedHour(
  store: ObjectStore,
  data: ArchivedHour,
  validator: string = EVENT_VALIDATOR_VERSION,
): Promise<void> {
  for (const [name, lines] of data.files) {
    const key = `${logPartitionPrefix(data.hour)}${name}`;
    const body = gzipSync(encodeNdjson(lines));
    await store.put(key, body);
    const manifest = buildArchiveManifest(key, body, lines.length, validator, 65_536);
    await store.put(archiveManifestKey(key)!, JSON.stringify(manifest));
  }
}

describe.each(['file', 's3'] as LakeKind[])('batch layer on a %s lake', (kind) => {
  let env: TestEnv;
  beforeEach(async () => {
    env = await createTestEnv(kind);
  });
  afterEach(async () => {
    await env.teardown();
  });

  it('computes exact results from inputs with duplicates and malformed lines, and reports the bad ones', async () => {
    const data = [
      generateHour(BASE, { seed: 11, events: 600, badLines: 5 }),
      generateHour(BASE + H, { seed: 12, events: 500, badLines: 4 }),
    ];
    for (const hour of data) await writeHour(env.lake.store, hour);
    const layer = await env.open();
    const outcomes = await layer.runHours('endpoint_hourly', [BASE, BASE + H]);
    expect(outcomes.map((o) => [o.hour, o.status, o.error?.message ?? null])).toEqual([
      [BASE, 'published', null],
      [BASE + H, 'published', null],
    ]);
    for (const [index, outcome] of outcomes.entries()) {
      const pointer = outcome.pointer!;
      expect(pointer.rowsIn).toBe(data[index]!.lines);
      expect(pointer.badRows).toBe(data[index]!.bad);
      expect(pointer.duplicateRows).toBe(data[index]!.duplicates);
      expect(pointer.inputs.map((input) => input.key)).toEqual(
        [...data[index]!.files.keys()].map((name) => `${logPartitionPrefix(outcome.hour)}${name}`).sort(),
      );
      // The quarantine report counts every bad line by verdict and keeps samples.
      const report = JSON.parse(
        Buffer.from((await env.lake.store.get(pointer.quarantineKey!))!).toString(),
      ) as QuarantineReport;
      expect(report.failed).toBe(false);
      const partition = report.partitions.find((p) => p.partitionHour === outcome.hour)!;
      expect(partition.badRows).toBe(data[index]!.bad);
      expect(partition.errors.reduce((sum, error) => sum + error.count, 0)).toBe(data[index]!.bad);
      expect(new Set(partition.errors.map((error) => error.code))).toEqual(
        new Set([
          'TANDEM_ERR_EVENT_INVALID_JSON',
          'TANDEM_ERR_EVENT_INVALID',
          'TANDEM_ERR_EVENT_INVALID_UTF8',
        ]),
      );
      expect(report.samples.length).toBe(data[index]!.bad);
    }
    const sealed = await layer.reader.sealedHours('endpoint_hourly', { from: BASE, to: BASE + 2 * H });
    expect(sealed.map((s) => [s.hour, s.runId])).toEqual(outcomes.map((o) => [o.hour, o.runId]));
    const rows = await layer.reader.readPartials('endpoint_hourly', sealed, {});
    const events = data.flatMap((hour) => hour.events);
    expectEndpointTruth(endpointHourly, rows, endpointTruth(events));
    // Bit-level agreement with the speed layer's engine: HLL registers and DDSketch bins included.
    expectSameRows(rows, reducerRows(endpointHourly, events));
    // Dimension filter.
    const filtered = await layer.reader.readPartials('endpoint_hourly', sealed, { endpoint: '/api/héllo' });
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered.every((row) => row.dims[0] === '/api/héllo')).toBe(true);
    expect(filtered.length).toBe(rows.filter((row) => row.dims[0] === '/api/héllo').length);
    // Cached rows are shared, so they are frozen.
    expect(Object.isFrozen(rows[0]!.states)).toBe(true);
    const history = await layer.reader.runHistory('endpoint_hourly', 10);
    expect(history.map((run) => [run.hour, run.status])).toEqual(
      expect.arrayContaining([
        [BASE, 'published'],
        [BASE + H, 'published'],
      ]),
    );
    if (kind === 's3') {
      const { readdir } = await import('node:fs/promises');
      expect(await readdir(`${env.tempDirectory}/inputs`).catch(() => [])).toEqual([]);
    }
  });

  it('fails an hour whose bad lines exceed the ratio, keeps its quarantine report, and publishes nothing', async () => {
    const data = generateHour(BASE, { seed: 3, events: 100, badLines: 6 });
    await writeHour(env.lake.store, data);
    const layer = await env.open({ maxBadRowRatio: 0.02 });
    const outcome = await layer.runHour('endpoint_hourly', BASE);
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toBe('TANDEM_ERR_BATCH_BAD_ROWS');
    expect(await readPointer(env.lake.store, pointerKey('endpoint_hourly', 1, BASE))).toBeNull();
    const keys = await listKeys(env, viewHourPrefix('endpoint_hourly', 1, BASE));
    expect(keys.filter((key) => key.includes('/quarantine-'))).toHaveLength(1);
    expect(keys.filter((key) => key.endsWith('.parquet'))).toHaveLength(0);
    const [run] = await layer.reader.runHistory('endpoint_hourly', 1);
    expect(run).toMatchObject({ status: 'failed', hour: BASE, error: { code: 'TANDEM_ERR_BATCH_BAD_ROWS' } });
    expect(run!.quarantineKey).toBe(keys.find((key) => key.includes('/quarantine-')));
    // A higher limit lets the same hour through.
    const lenient = await env.open({ maxBadRowRatio: 0.1 });
    expect((await lenient.runHour('endpoint_hourly', BASE)).status).toBe('published');
  });

  it('is idempotent, skips up-to-date hours, keeps N runs and collects older ones', async () => {
    const data = generateHour(BASE, { seed: 5, events: 300 });
    await writeHour(env.lake.store, data);
    const layer = await env.open({ keepVersions: 3 });
    const first = await layer.runHour('endpoint_hourly', BASE);
    expect(first.status).toBe('published');
    const again = await layer.runHour('endpoint_hourly', BASE);
    expect(again).toMatchObject({ status: 'skipped', reason: 'up-to-date', runId: first.runId });
    const read = async () =>
      layer.reader.readPartials(
        'endpoint_hourly',
        await layer.reader.sealedHours('endpoint_hourly', { from: BASE, to: BASE + H }),
        {},
      );
    const firstRows = await read();
    const runIds = [first.runId!];
    for (let i = 0; i < 3; i++) {
      const forced = await layer.runHour('endpoint_hourly', BASE, { force: true });
      expect(forced.status).toBe('published');
      runIds.push(forced.runId!);
      expectSameRows(await read(), firstRows);
    }
    const pointer = (await readPointer(env.lake.store, pointerKey('endpoint_hourly', 1, BASE)))!.pointer;
    expect(pointer.runId).toBe(runIds[3]);
    expect(pointer.previous.map((run) => run.runId)).toEqual([runIds[2], runIds[1]]);
    expect(pointer.fencingToken).toBeGreaterThan(pointer.previous[0]!.fencingToken);
    const parquet = (await listKeys(env, viewHourPrefix('endpoint_hourly', 1, BASE))).filter((key) =>
      key.endsWith('.parquet'),
    );
    expect(parquet.sort()).toEqual(
      runIds
        .slice(1)
        .map((id) => `${viewHourPrefix('endpoint_hourly', 1, BASE)}run-${id}.parquet`)
        .sort(),
    );
  });

  it('reads files the archiver validated without re-validating them, to the same states; any other bytes are validated', async () => {
    const hours = [BASE, BASE + H, BASE + 2 * H];
    const archived = hours.map((hour, index) => archiverStyleHour(hour, 70 + index));
    // The first hour as archived before streams existed: its manifests name the hand-written validator.
    for (const [index, hour] of archived.entries()) {
      await writeArchivedHour(
        env.lake.store,
        hour,
        index === 0 ? 'tandem-events/1' : EVENT_VALIDATOR_VERSION,
      );
    }
    const logs: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    // The clock stands 20 minutes into the last hour: with the default 5-minute tolerance, its
    // events after 25 minutes are in the future for both paths.
    const now = () => BASE + 2 * H + 20 * 60_000;
    const run = async (trustArchiveManifests: boolean) => {
      logs.length = 0;
      const layer = await env.open({ now, logger, trustArchiveManifests, maxBadRowRatio: 1 });
      const result = new Map<string, { rows: PartialRow[]; stats: unknown[]; trusted: number }>();
      for (const view of ['endpoint_hourly', 'sessions_hourly', 'trending_pages']) {
        const outcomes = await layer.runHours(view, hours, { force: true });
        expect(outcomes.map((o) => o.status)).toEqual(['published', 'published', 'published']);
        const sealed = await layer.reader.sealedHours(view, { from: BASE, to: BASE + 3 * H });
        const computed = logs.filter((line) => line.msg === 'batch chunk computed' && line.view === view);
        result.set(view, {
          rows: await layer.reader.readPartials(view, sealed, {}),
          stats: outcomes.map((o) => [o.pointer!.rowsIn, o.pointer!.badRows, o.pointer!.duplicateRows]),
          trusted: computed.reduce((sum, line) => sum + Number(line.trustedFiles), 0),
        });
      }
      return result;
    };
    const validated = await run(false);
    const trusted = await run(true);
    const files = archived.reduce((sum, hour) => sum + hour.files.size, 0);
    for (const [view, expected] of validated) {
      const actual = trusted.get(view)!;
      expect(expected.trusted).toBe(0);
      expect(actual.trusted, view).toBe(files);
      expect(actual.stats, view).toEqual(expected.stats);
      expectSameRows(actual.rows, expected.rows);
    }
    // Truth from the lines: a future line is bad (each copy), a repeated accepted id a duplicate.
    const latest = now() + 300_000;
    const truth = archived.map((hour) => {
      const all = [...hour.files.values()].flat().map((line) => JSON.parse(line) as TandemEvent);
      const bad = all.filter((event) => event.timestamp > latest).length;
      const ids = new Set(all.filter((event) => event.timestamp <= latest).map((event) => event.event_id));
      return [all.length, bad, all.length - bad - ids.size];
    });
    expect(truth[2]![1]).toBeGreaterThan(0);
    expect(validated.get('endpoint_hourly')!.stats).toEqual(truth);
    const lines = truth.map(([count]) => count!);
    const accepted = archived.flatMap((hour) => hour.events).filter((e) => e.timestamp <= now() + 300_000);
    expectSameRows(trusted.get('endpoint_hourly')!.rows, reducerRows(endpointHourly, accepted));

    // A file rewritten by someone else (one more line, same manifest) is validated again.
    const [name, original] = [...archived[0]!.files][0]!;
    await env.lake.store.put(
      `${logPartitionPrefix(BASE)}${name}`,
      gzipSync(encodeNdjson([...original, 'not json'])),
    );
    logs.length = 0;
    const layer = await env.open({ now, logger, maxBadRowRatio: 1 });
    const [rerun] = await layer.runHours('endpoint_hourly', [BASE]);
    expect([rerun!.pointer!.rowsIn, rerun!.pointer!.badRows]).toEqual([lines[0]! + 1, 1]);
    expect(logs.find((line) => line.msg === 'batch chunk computed')!.trustedFiles).toBe(
      archived[0]!.files.size - 1,
    );
    const sealed = await layer.reader.sealedHours('endpoint_hourly', { from: BASE, to: BASE + H });
    expectSameRows(
      await layer.reader.readPartials('endpoint_hourly', sealed, {}),
      trusted.get('endpoint_hourly')!.rows.filter((row) => row.bucket < BASE + H),
    );
  });

  it('marks an hour stale when its input changes, and catch-up recomputes it', async () => {
    const data = generateHour(BASE, { seed: 7, events: 200 });
    await writeHour(env.lake.store, data);
    const layer = await env.open({ now: () => BASE + 3 * H, latenessMs: 0, catchUpMaxHours: 48 });
    const outcomes = await layer.backfill('endpoint_hourly');
    // The window runs from the earliest archived hour to the last complete one; the empty hours
    // after the data are sealed too (with no rows), so sealed-through advances.
    expect(outcomes.map((o) => [o.hour, o.status])).toEqual([
      [BASE, 'published'],
      [BASE + H, 'published'],
      [BASE + 2 * H, 'published'],
    ]);
    expect(await layer.reader.staleHours('endpoint_hourly')).toEqual([]);
    expect(await layer.reader.sealedThrough('endpoint_hourly')).toBe(BASE + 3 * H);

    const late = generateHour(BASE, { seed: 8, events: 50, badLines: 0, files: 1 });
    const [name, lines] = [...late.files][0]!;
    // Plain NDJSON this time (`.json`), next to the archiver's gzipped files.
    await env.lake.store.put(
      `${logPartitionPrefix(BASE)}late-${name.replace(/\.gz$/, '')}`,
      encodeNdjson(lines),
    );
    expect(await layer.reader.staleHours('endpoint_hourly')).toEqual([BASE]);
    const status = await layer.status('endpoint_hourly');
    expect(status).toMatchObject({
      staleHours: [BASE],
      missingHours: [],
      sealedThrough: BASE + 3 * H,
      sealedHours: 3,
    });

    const recomputed = await layer.backfill('endpoint_hourly');
    expect(recomputed.map((o) => [o.hour, o.status])).toEqual([[BASE, 'published']]);
    expect(await layer.reader.staleHours('endpoint_hourly')).toEqual([]);
    const rows = await layer.reader.readPartials(
      'endpoint_hourly',
      await layer.reader.sealedHours('endpoint_hourly', { from: BASE, to: BASE + H }),
      {},
    );
    expectEndpointTruth(endpointHourly, rows, endpointTruth([...data.events, ...late.events]));
  });

  it('fences a writer that lost its lease: a lower token never replaces a higher one', async () => {
    await writeHour(env.lake.store, generateHour(BASE, { seed: 9, events: 100 }));
    let release!: () => void;
    const paused = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reachedData!: () => void;
    const atData = new Promise<void>((resolve) => {
      reachedData = resolve;
    });
    const zombie = await env.open({
      owner: 'zombie',
      hooks: {
        onStage: async (stage) => {
          if (stage === 'data-written') {
            reachedData();
            await paused;
          }
        },
      },
    });
    const running = zombie.runHour('endpoint_hourly', BASE);
    await Promise.race([
      atData,
      running.then((outcome) => {
        throw new Error(
          `the zombie run ended before its data write: ${JSON.stringify(outcome.error?.message)}`,
        );
      }),
    ]);
    // The zombie's lease "expires" (deleted), a healthy runner takes the hour and publishes …
    const leaseKey = `${env.prefix}:batch:{endpoint_hourly:${BASE}}:lease`;
    const zombieLease = (await env.redis.get(leaseKey))!;
    expect(zombieLease).toMatch(/^1:zombie$/);
    await env.redis.del(leaseKey);
    const healthy = await env.open({ owner: 'healthy' });
    const winner = await healthy.runHour('endpoint_hourly', BASE);
    expect(winner.status).toBe('published');
    expect(winner.pointer!.fencingToken).toBe(2);
    // … then the zombie believes it holds its lease again (say, a failover restored it).
    await env.redis.set(leaseKey, zombieLease, 'PX', 10_000);
    release();
    const lost = await running;
    expect(lost).toMatchObject({ status: 'failed', reason: 'TANDEM_ERR_BATCH_LEASE_LOST' });
    const pointer = (await readPointer(env.lake.store, pointerKey('endpoint_hourly', 1, BASE)))!.pointer;
    expect(pointer.runId).toBe(winner.runId);
    expect(pointer.fencingToken).toBe(2);
  });

  it('runs two schedulers at once and publishes each hour exactly once', async () => {
    for (let h = 0; h < 6; h++)
      await writeHour(env.lake.store, generateHour(BASE + h * H, { seed: 20 + h, events: 60, badLines: 0 }));
    const common = { now: () => BASE + 6 * H, latenessMs: 0, catchUpMaxHours: 48, maxHoursPerChunk: 1 };
    const a = await env.open({ ...common, owner: 'scheduler-a' });
    const b = await env.open({ ...common, owner: 'scheduler-b' });
    const manual = {
      schedule: () => ({ stop: () => {} }),
      catchUpOnStart: false,
      views: ['endpoint_hourly'],
    };
    const [fromA, fromB] = await Promise.all([
      a.createScheduler(manual).catchUp(),
      b.createScheduler(manual).catchUp(),
    ]);
    const published = [...fromA, ...fromB].filter((o) => o.status === 'published').map((o) => o.hour);
    expect(published.sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5].map((h) => BASE + h * H));
    const history = await a.reader.runHistory('endpoint_hourly', 100);
    const publishedRuns = history.filter((run) => run.status === 'published');
    expect(publishedRuns).toHaveLength(6);
    expect(new Set(publishedRuns.map((run) => run.hour)).size).toBe(6);
    expect(await a.reader.sealedThrough('endpoint_hourly')).toBe(BASE + 6 * H);
  });
});

describe('batch layer details (file lake)', () => {
  let env: TestEnv;
  beforeEach(async () => {
    env = await createTestEnv('file');
  });
  afterEach(async () => {
    await env.teardown();
  });

  it('gives the same states from Parquet inputs as from NDJSON, and from one query as hour by hour', async () => {
    const data = [0, 1, 2].map((h) => generateHour(BASE + h * H, { seed: 40 + h, events: 250, badLines: 0 }));
    for (const hour of data) await writeHour(env.lake.store, hour);
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const layer = await env.open({ now: () => BASE + 4 * H, logger });
    const together = await layer.runHours('endpoint_hourly', [BASE, BASE + H, BASE + 2 * H]);
    expect(together.every((o) => o.status === 'published')).toBe(true);
    const sealed = await layer.reader.sealedHours('endpoint_hourly', { from: BASE, to: BASE + 3 * H });
    const chunkRows = await layer.reader.readPartials('endpoint_hourly', sealed, {});
    for (const hour of [BASE, BASE + H, BASE + 2 * H]) {
      expect((await layer.runHour('endpoint_hourly', hour, { force: true })).status).toBe('published');
    }
    const hourlyRows = await layer.reader.readPartials(
      'endpoint_hourly',
      await layer.reader.sealedHours('endpoint_hourly', { from: BASE, to: BASE + 3 * H }),
      {},
    );
    expectSameRows(hourlyRows, chunkRows);

    // Replace hour 1's NDJSON with Parquet holding the same lines (typed timestamp column).
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    const ndjson = `${env.tempDirectory}/hour1.json`;
    const parquet = `${env.tempDirectory}/hour1.parquet`;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(ndjson, encodeNdjson([...data[1]!.files.values()].flat()));
    // The timestamp column is read as raw JSON (ISO strings and epoch numbers are mixed) and
    // written as a typed TIMESTAMP, which the batch layer turns back into epoch ms.
    await connection.run(
      `COPY (SELECT event_id,
                  make_timestamp(CASE WHEN json_type("timestamp") = 'VARCHAR'
                    THEN epoch_ms(CAST("timestamp" ->> '$' AS TIMESTAMPTZ)) ELSE CAST("timestamp" AS BIGINT) END * 1000) AS "timestamp",
                  endpoint, method, status_code, response_time_ms, bytes_sent, user_id, session_id, page_id
           FROM read_json('${ndjson}', format = 'newline_delimited', columns = {event_id: 'VARCHAR', "timestamp": 'JSON',
             endpoint: 'VARCHAR', method: 'VARCHAR', status_code: 'INTEGER', response_time_ms: 'DOUBLE', bytes_sent: 'BIGINT',
             user_id: 'VARCHAR', session_id: 'VARCHAR', page_id: 'VARCHAR'}))
         TO '${parquet}' (FORMAT parquet)`,
    );
    connection.closeSync();
    instance.closeSync();
    for (const name of data[1]!.files.keys())
      await env.lake.store.delete(`${logPartitionPrefix(BASE + H)}${name}`);
    await env.lake.store.putFile(`${logPartitionPrefix(BASE + H)}part-0.parquet`, parquet);
    await env.lake.store.put(`${logPartitionPrefix(BASE + H)}README.txt`, 'not an input');
    expect(await layer.reader.staleHours('endpoint_hourly')).toEqual([BASE + H]);
    const fromParquet = await layer.runHour('endpoint_hourly', BASE + H);
    expect(fromParquet.status).toBe('published');
    expect(warnings.some((line) => line.includes('README.txt') && line.includes('skipping'))).toBe(true);
    expect(fromParquet.pointer!.inputs.map((input) => input.key)).toEqual([
      `${logPartitionPrefix(BASE + H)}part-0.parquet`,
    ]);
    expect(fromParquet.pointer!.rowsIn).toBe(data[1]!.lines);
    expect(fromParquet.pointer!.duplicateRows).toBe(data[1]!.duplicates);
    const parquetRows = await layer.reader.readPartials(
      'endpoint_hourly',
      await layer.reader.sealedHours('endpoint_hourly', { from: BASE + H, to: BASE + 2 * H }),
      {},
    );
    expectSameRows(
      parquetRows,
      chunkRows.filter((row) => row.bucket === BASE + H),
    );
  });

  it('counts an event only in the partition of its own hour, whatever the chunking', async () => {
    const data = [0, 1].map((h) => generateHour(BASE + h * H, { seed: 50 + h, events: 200, badLines: 0 }));
    const inHour1 = data[1]!.events[0]!;
    const stray = JSON.stringify(inHour1); // a copy of an hour-1 event filed under hour 0
    const lost = JSON.stringify({ ...inHour1, event_id: 'misfiled-only' }); // only under hour 0
    data[0]!.files.set('stray.json.gz', [stray, lost]);
    for (const hour of data) await writeHour(env.lake.store, hour);
    const layer = await env.open();
    const together = await layer.runHours('endpoint_hourly', [BASE, BASE + H]);
    expect(together.map((o) => o.status)).toEqual(['published', 'published']);
    const report = JSON.parse(
      Buffer.from((await env.lake.store.get(together[0]!.pointer!.quarantineKey!))!).toString(),
    ) as QuarantineReport;
    // The stray copy lost deduplication to the copy under its own hour; the misfiled-only event is
    // left out and reported.
    expect(report.partitions[0]).toMatchObject({ misplacedRows: 1, badRows: 0 });
    const sealed = await layer.reader.sealedHours('endpoint_hourly', { from: BASE, to: BASE + 2 * H });
    const chunkRows = await layer.reader.readPartials('endpoint_hourly', sealed, {});
    const events = data.flatMap((hour) => hour.events);
    expectEndpointTruth(endpointHourly, chunkRows, endpointTruth(events));
    for (const hour of [BASE + H, BASE]) {
      expect((await layer.runHour('endpoint_hourly', hour, { force: true })).status).toBe('published');
    }
    const hourlyRows = await layer.reader.readPartials(
      'endpoint_hourly',
      await layer.reader.sealedHours('endpoint_hourly', { from: BASE, to: BASE + 2 * H }),
      {},
    );
    expectSameRows(hourlyRows, chunkRows);
  });

  it('computes sessionized and minute-bucket views equal to the reducer', async () => {
    const data = [0, 1, 2].map((h) =>
      generateHour(BASE + h * H, { seed: 60 + h, events: 300, users: 12, badLines: 1 }),
    );
    for (const hour of data) await writeHour(env.lake.store, hour);
    const layer = await env.open();
    const events = data.flatMap((hour) => hour.events);

    const sessions = await layer.runHours('sessions_hourly', [BASE, BASE + H]);
    expect(sessions.map((o) => o.status)).toEqual(['published', 'published']);
    // Hour 1 reads from midnight through 01:30 (+ gap), so partition 2 is an input too.
    expect(sessions[1]!.pointer!.inputRange).toEqual({ from: BASE, to: BASE + 3 * H });
    const sessionReducer = compileReducer(
      builtinViews.sessions_hourly as View & { sessionize: NonNullable<View['sessionize']> },
    );
    for (const event of events) sessionReducer.add(event);
    sessionReducer.flush();
    const sessionRows = await layer.reader.readPartials(
      'sessions_hourly',
      await layer.reader.sealedHours('sessions_hourly', { from: BASE, to: BASE + 2 * H }),
      {},
    );
    expectSameRows(
      sessionRows,
      sessionReducer.rows().filter((row) => row.bucket < BASE + 2 * H),
    );

    const minutes = await layer.runHours('trending_pages', [BASE, BASE + H, BASE + 2 * H]);
    expect(minutes.every((o) => o.status === 'published')).toBe(true);
    const minuteRows = await layer.reader.readPartials(
      'trending_pages',
      await layer.reader.sealedHours('trending_pages', { from: BASE, to: BASE + 3 * H }),
      {},
    );
    expect(minuteRows.length).toBeGreaterThan(60);
    expectSameRows(minuteRows, reducerRows(builtinViews.trending_pages as typeof endpointHourly, events));
  });

  it('stops between hours once aborted, even inside a chunk, and reports each hour as it lands', async () => {
    for (const h of [0, 1, 2, 3])
      await writeHour(env.lake.store, generateHour(BASE + h * H, { seed: 60 + h, events: 20, badLines: 0 }));
    const hours = [BASE, BASE + H, BASE + 2 * H, BASE + 3 * H];
    let abortAt: 'published' | 'staged' = 'published';
    let abort = new AbortController();
    const layer = await env.open({
      maxHoursPerChunk: 2,
      concurrency: 1,
      hooks: { onStage: (stage) => void (stage === abortAt && abort.abort()) },
    });
    const seen: number[] = [];
    // Aborted once the first hour is published: its chunk-mate was computed too but is not published.
    const outcomes = await layer.runHours('endpoint_hourly', hours, {
      signal: abort.signal,
      onOutcome: (outcome) => seen.push(outcome.hour),
    });
    expect(seen).toEqual([BASE]);
    expect(outcomes.map((outcome) => [outcome.hour, outcome.status])).toEqual([[BASE, 'published']]);
    expect(await layer.reader.sealedThrough('endpoint_hourly')).toBe(BASE + H);
    // Aborted while a chunk is being computed: its query is interrupted, nothing more is published.
    abortAt = 'staged';
    abort = new AbortController();
    const later = await layer.runHours('endpoint_hourly', hours.slice(1), {
      force: true,
      signal: abort.signal,
    });
    expect(later).toEqual([]);
    expect(await layer.reader.sealedThrough('endpoint_hourly')).toBe(BASE + H);
    // Not aborted: every hour.
    abortAt = 'staged';
    const rest = await layer.runHours('endpoint_hourly', hours.slice(1), {
      signal: new AbortController().signal,
    });
    expect(rest.map((outcome) => outcome.status)).toEqual(['published', 'published', 'published']);
  });

  it('publishes chunks oldest first when a signal is given, even when a later chunk is computed first', async () => {
    for (const h of [0, 1, 2, 3])
      await writeHour(env.lake.store, generateHour(BASE + h * H, { seed: 70 + h, events: 20, badLines: 0 }));
    const order: number[] = [];
    const layer = await env.open({
      maxHoursPerChunk: 2,
      concurrency: 2,
      hooks: {
        onStage: async (stage, context) => {
          // The first chunk is slow to compute; the second would publish first if nothing waited.
          if (stage === 'staged' && context.hours[0] === BASE) await new Promise((r) => setTimeout(r, 400));
          if (stage === 'published') order.push(...context.hours);
        },
      },
    });
    const hours = [BASE, BASE + H, BASE + 2 * H, BASE + 3 * H];
    await layer.runHours('endpoint_hourly', hours, { signal: new AbortController().signal });
    expect(order).toEqual(hours);
  });

  it('derives sealed-through from the pointers and stops at the first gap', async () => {
    for (const h of [0, 1, 2, 4])
      await writeHour(env.lake.store, generateHour(BASE + h * H, { seed: 80 + h, events: 20, badLines: 0 }));
    const layer = await env.open();
    expect(await layer.reader.sealedThrough('endpoint_hourly')).toBeNull();
    await layer.runHours('endpoint_hourly', [BASE, BASE + H, BASE + 2 * H, BASE + 4 * H]);
    expect(await layer.reader.sealedThrough('endpoint_hourly')).toBe(BASE + 3 * H);
    expect((await layer.runHour('endpoint_hourly', BASE + 3 * H)).status).toBe('published');
    expect(await layer.reader.sealedThrough('endpoint_hourly')).toBe(BASE + 5 * H);
  });

  it('runs the hourly trigger once watermarks or the lateness delay say the hour is complete', async () => {
    for (const h of [0, 1, 2])
      await writeHour(env.lake.store, generateHour(BASE + h * H, { seed: 90 + h, events: 30, badLines: 0 }));
    let now = BASE + 3 * H + 60_000;
    const timers: Array<{ callback: () => void; ms: number }> = [];
    const layer = await env.open({
      now: () => now,
      latenessMs: H,
      topicPartitions: 2,
      setTimer: (callback, ms) => {
        timers.push({ callback, ms });
        return () => {};
      },
    });
    const scheduler = layer.createScheduler({
      schedule: () => ({ stop: () => {} }),
      catchUpOnStart: false,
      views: ['endpoint_hourly'],
    });
    scheduler.start();
    // Lateness passed for hours 0 and 1 (end + 1h <= now); hour 2 is not complete yet.
    const first = await scheduler.runHourly();
    expect(first.filter((o) => o.status === 'published').map((o) => o.hour)).toEqual([BASE, BASE + H]);
    expect(timers.map((t) => t.ms)).toContain(layer.options.recheckMs);
    // Both partitions' archiver watermarks pass the end of hour 2: complete before the lateness delay.
    for (const partition of [0, 1]) {
      await writeArchiverWatermark(env.lake.store, {
        topic: 'events',
        partition,
        watermark: BASE + 3 * H + partition,
        offset: '10',
        updatedAt: now,
      });
    }
    now += 60_000;
    const second = await scheduler.runHourly();
    expect(second.filter((o) => o.status === 'published').map((o) => o.hour)).toEqual([BASE + 2 * H]);
    await scheduler.stop();
  });

  it('recomputes the previous day nightly, and lists hours and inputs on a dry run', async () => {
    await writeHour(env.lake.store, generateHour(BASE + 5 * H, { seed: 99, events: 40, badLines: 0 }));
    const layer = await env.open({ now: () => BASE + 24 * H + 3 * H, latenessMs: 0 });
    const dry = await layer.recompute(
      'endpoint_hourly',
      { from: BASE + 4 * H, to: BASE + 7 * H },
      { dryRun: true },
    );
    expect(dry.outcomes).toEqual([]);
    expect(dry.plan.map((entry) => [entry.hour, entry.inputs.length, entry.current])).toEqual([
      [BASE + 4 * H, 0, null],
      [BASE + 5 * H, 2, null],
      [BASE + 6 * H, 0, null],
    ]);
    expect(await listKeys(env, 'views/')).toEqual([]);
    const scheduler = layer.createScheduler({
      schedule: () => ({ stop: () => {} }),
      catchUpOnStart: false,
      views: ['endpoint_hourly'],
    });
    const nightly = await scheduler.runNightly();
    expect(nightly).toHaveLength(24);
    expect(nightly.every((o) => o.status === 'published')).toBe(true);
    const runs = await layer.reader.runHistory('endpoint_hourly', 30);
    expect(runs.filter((run) => run.trigger === 'nightly')).toHaveLength(24);
    expect(await layer.reader.sealedThrough('endpoint_hourly')).toBe(BASE + 24 * H);
  });

  it('spills an hour larger than the memory limit to disk instead of failing', async () => {
    // ~140 MB of raw lines (wide user ids) against a 128 MB limit: the staged rows, the dedup and
    // the deduplicated events together exceed it, so DuckDB must spill to the temp directory.
    const data = generateHour(BASE, {
      seed: 123,
      events: 300_000,
      users: 100_000,
      endpoints: 50,
      badLines: 0,
      duplicateShare: 0.02,
      files: 3,
      userIdPadding: 240,
    });
    const rawBytes = [...data.files.values()].flat().reduce((sum, line) => sum + line.length + 1, 0);
    expect(rawBytes).toBeGreaterThan(128 * 1024 * 1024);
    await writeHour(env.lake.store, data);
    const layer = await env.open({ memoryLimit: '128MB', threads: 1 });
    const outcome = await layer.runHour('endpoint_hourly', BASE);
    expect(outcome.error?.message ?? null).toBeNull();
    expect(outcome.pointer!.rowsIn).toBe(data.lines);
    expect(outcome.pointer!.duplicateRows).toBe(data.duplicates);
    const rows = await layer.reader.readPartials(
      'endpoint_hourly',
      await layer.reader.sealedHours('endpoint_hourly', { from: BASE, to: BASE + H }),
      {},
    );
    expect(rows.reduce((sum, row) => sum + (row.states.requests!.n ?? 0), 0)).toBe(data.events.length);
  });

  it('rejects a filter on something that is not a dimension', async () => {
    const layer = await env.open();
    await expect(layer.reader.readPartials('endpoint_hourly', [], { user_id: 'x' })).rejects.toMatchObject({
      code: 'TANDEM_ERR_QUERY_INVALID',
    });
    await expect(layer.runHour('no_such_view', BASE)).rejects.toMatchObject({
      code: 'TANDEM_ERR_VIEW_UNKNOWN',
    });
  });
});

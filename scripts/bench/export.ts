// Benchmark of @tandem/export-postgres (one JSON line on stdout): a view of ~1.1M rows — 12 hours of
// 1-minute buckets × endpoint × user × status, computed once by the batch layer into a local lake
// under .data/bench/export and reused — exported end to end (pointer listing, run files read and
// finished into COPY text by the batch reader, the next hour read while this one is written, per
// hour one transaction: straight COPY on a first export, or COPY into a temporary table, fenced upsert,
// delete of vanished tuples), against a plain COPY of the same rows into an empty table of the same
// shape (same key) in the same run and on the same server. Each figure is the best of BENCH_RUNS
// (default 1).
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { type BatchLayerOptions, openBatchLayer } from '../../packages/batch/src/index.ts';
import {
  createCatalog,
  defineView,
  HOUR_MS,
  hourPartition,
  webStream,
} from '../../packages/core/src/index.ts';
import { PostgresExporter } from '../../packages/export-postgres/src/index.ts';
import { openObjectStore } from '../../packages/lake/src/index.ts';
import { mulberry32 } from '../../test/support/random.ts';
import { deletePrefix } from '../../test/support/redis.ts';
import { connectRedis } from '../../test/support/stack.ts';

const FIRST_HOUR = Date.UTC(2024, 6, 1);
const HOURS = Number(process.env.BENCH_EXPORT_HOURS ?? 12);
const EVENTS_PER_HOUR = Number(process.env.BENCH_EXPORT_EVENTS_PER_HOUR ?? 92_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
const postgresUrl = process.env.EXPORT_POSTGRES_URL ?? 'postgres://tandem:tandem@127.0.0.1:5432/tandem';
const root = join(new URL('../..', import.meta.url).pathname, '.data', 'bench', 'export');
const lakeDir = join(root, 'lake');

// pg-copy-streams is a dependency of the export package, resolved from there (scripts/ has none).
const requireFromExport = createRequire(
  new URL('../../packages/export-postgres/package.json', import.meta.url),
);
const copyStreams = requireFromExport('pg-copy-streams') as {
  from(sql: string): Writable;
  to(sql: string): NodeJS.ReadableStream;
};

// Logs go to stderr, quiet: stdout carries the one JSON line.
const { pino } = requireFromExport('pino') as {
  pino(
    options: { level: string },
    destination: NodeJS.WritableStream,
  ): NonNullable<BatchLayerOptions['logger']>;
};
const logger = pino({ level: 'warn' }, process.stderr);

const view = defineView(
  {
    name: 'bench_export',
    bucket: '1m',
    dimensions: ['endpoint', 'user_id', 'status_code'],
    measures: {
      requests: { kind: 'count' },
      bytes: { kind: 'sum', field: 'bytes_sent' },
      avg_latency_ms: { kind: 'avg', field: 'response_time_ms' },
      fastest_ms: { kind: 'min', field: 'response_time_ms' },
      slowest_ms: { kind: 'max', field: 'response_time_ms' },
    },
  },
  webStream,
);
const catalog = createCatalog([webStream], [view]);
const hours = Array.from({ length: HOURS }, (_, i) => FIRST_HOUR + i * HOUR_MS);

/** Writes the raw logs once (deterministic); a marker records their shape. */
function ensureLogs(): void {
  const marker = join(root, 'generated.json');
  const shape = JSON.stringify({ version: 1, hours: HOURS, events: EVENTS_PER_HOUR, first: FIRST_HOUR });
  if (existsSync(marker) && readFileSync(marker, 'utf8') === shape) return;
  rmSync(root, { recursive: true, force: true });
  const started = Date.now();
  for (const hour of hours) {
    const random = mulberry32(hour / HOUR_MS);
    const { dt, hour: hh } = hourPartition(hour);
    const dir = join(lakeDir, 'logs', `dt=${dt}`, `hour=${hh}`);
    mkdirSync(dir, { recursive: true });
    for (let file = 0; file < 2; file++) {
      const lines: string[] = [];
      for (let i = file; i < EVENTS_PER_HOUR; i += 2) {
        const roll = random();
        lines.push(
          JSON.stringify({
            event_id: `b-${hour}-${i}`,
            timestamp: hour + Math.floor(random() * HOUR_MS),
            endpoint: `/api/r${Math.floor(random() * random() * 50)}`,
            method: 'GET',
            status_code: roll < 0.85 ? 200 : roll < 0.95 ? 404 : 500,
            response_time_ms: Math.round(random() ** 3 * 900_000) / 1000,
            bytes_sent: Math.floor(random() * 50_000),
            user_id: `u${Math.floor(random() * 2_000_000)}`,
          }),
        );
      }
      writeFileSync(
        join(dir, `events+${file}+${(hour / HOUR_MS) * 10 + file}.json.gz`),
        gzipSync(`${lines.join('\n')}\n`),
      );
    }
  }
  writeFileSync(marker, shape);
  process.stderr.write(`[bench] generated ${HOURS * EVENTS_PER_HOUR} events in ${Date.now() - started} ms\n`);
}

ensureLogs();
const store = openObjectStore({ url: `file://${lakeDir}`, fsync: false });
const redis = connectRedis();
const prefix = `bench-export-${randomUUID()}`;
const layer = await openBatchLayer({
  store,
  redis,
  redisPrefix: prefix,
  catalog,
  threads: 2,
  memoryLimit: '1GB',
  tempDirectory: join(root, 'tmp'),
  logger,
});
// The batch views are computed once and kept in the lake with the logs.
const sealed = await layer.reader.sealedHours(view.name, {
  from: FIRST_HOUR,
  to: FIRST_HOUR + HOURS * HOUR_MS,
});
if (sealed.length < HOURS) {
  const started = Date.now();
  const outcomes = await layer.runHours(view.name, hours, { force: true });
  const failed = outcomes.filter((outcome) => outcome.status !== 'published');
  if (failed.length > 0)
    throw new Error(`the batch layer did not publish ${failed.length} hours: ${failed[0]!.reason}`);
  process.stderr.write(`[bench] computed ${HOURS} hours in ${Date.now() - started} ms\n`);
}

interface Phase {
  ms: number;
  rows: number;
  /** Export phases: time inside the hours' PostgreSQL transactions (claim to commit). */
  writeMs: number;
}

/**
 * Every hour exported: the first time (the table holds none of the hour's rows: straight COPY), or
 * with `force` again (the same rows through the temporary table and the fenced upsert, the path a
 * recompute takes).
 */
async function exportPhase(schema: string, force: boolean): Promise<Phase> {
  const exporter = new PostgresExporter({ url: postgresUrl, schema, catalog, source: layer.reader, logger });
  try {
    await exporter.check();
    const started = performance.now();
    const outcomes = await exporter.exportRange(
      view.name,
      { from: FIRST_HOUR, to: FIRST_HOUR + HOURS * HOUR_MS },
      { force },
    );
    const ms = performance.now() - started;
    const bad = outcomes.filter((outcome) => outcome.status !== 'exported');
    if (bad.length > 0)
      throw new Error(
        `export: ${bad.length} hours not exported: ${bad[0]!.status} ${bad[0]!.error?.message ?? ''}`,
      );
    return {
      ms,
      rows: outcomes.reduce((sum, outcome) => sum + (outcome.rows ?? 0), 0),
      writeMs: outcomes.reduce((sum, outcome) => sum + outcome.writeMs, 0),
    };
  } finally {
    await exporter.close();
  }
}

/** The exported rows as COPY text, then COPY of exactly those bytes into an empty copy of the table. */
async function plainCopyPhase(schema: string, exporter: PostgresExporter): Promise<Phase> {
  const table = `"${schema}"."${exporter.layout(view.name).table}"`;
  const client = await exporter.pool.connect();
  try {
    const chunks: Buffer[] = [];
    const out = client.query(
      copyStreams.to(`COPY ${table} TO STDOUT`) as never,
    ) as unknown as NodeJS.ReadableStream;
    for await (const chunk of out) chunks.push(chunk as Buffer);
    await client.query(`CREATE TABLE "${schema}".plain_copy (LIKE ${table} INCLUDING ALL)`);
    const started = performance.now();
    const copy = client.query(
      copyStreams.from(`COPY "${schema}".plain_copy FROM STDIN`) as never,
    ) as unknown as Writable;
    await pipeline(Readable.from(chunks), copy);
    const ms = performance.now() - started;
    const count = await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".plain_copy`);
    return { ms, rows: Number(count.rows[0]!.n), writeMs: ms };
  } finally {
    client.release();
  }
}

const exports: Phase[] = [];
const upserts: Phase[] = [];
const copies: Phase[] = [];
const rate = (rows: number, ms: number) => Math.round((rows / ms) * 1000);
for (let run = 0; run < RUNS; run++) {
  const schema = `bench_export_${Date.now()}`;
  const admin = new PostgresExporter({ url: postgresUrl, schema, catalog, source: layer.reader, logger });
  try {
    const exported = await exportPhase(schema, false);
    exports.push(exported);
    process.stderr.write(
      `[bench] export: ${exported.rows} rows in ${Math.round(exported.ms)} ms (${Math.round(exported.writeMs)} ms in transactions)\n`,
    );
    const upserted = await exportPhase(schema, true);
    upserts.push(upserted);
    process.stderr.write(
      `[bench] re-export (upsert path): ${upserted.rows} rows in ${Math.round(upserted.ms)} ms (${Math.round(upserted.writeMs)} ms in transactions)\n`,
    );
    const copied = await plainCopyPhase(schema, admin);
    if (copied.rows !== exported.rows)
      throw new Error(`plain COPY loaded ${copied.rows} rows, exported ${exported.rows}`);
    copies.push(copied);
    process.stderr.write(`[bench] plain COPY: ${copied.rows} rows in ${Math.round(copied.ms)} ms\n`);
  } finally {
    await admin.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.close();
  }
}
await layer.close();
await deletePrefix(redis, prefix);
redis.disconnect();
await store.close();

const best = (phases: Phase[]) => phases.reduce((a, b) => (b.ms < a.ms ? b : a));
const e = best(exports);
const u = best(upserts);
const c = best(copies);
const copyRowsPerS = rate(c.rows, c.ms);
process.stdout.write(
  `${JSON.stringify({
    bench: 'export',
    rows: e.rows,
    hours: HOURS,
    // end to end: pointers listed, run files read and finished into COPY text by the batch
    // reader, each hour's transaction
    rows_per_s: rate(e.rows, e.ms),
    copy_rows_per_s: copyRowsPerS,
    ratio_vs_copy: Math.round((rate(e.rows, e.ms) / copyRowsPerS) * 100) / 100,
    // the PostgreSQL side alone (claim to commit, encoding of the rows included)
    write_rows_per_s: rate(e.rows, e.writeMs),
    write_ratio_vs_copy: Math.round((rate(e.rows, e.writeMs) / copyRowsPerS) * 100) / 100,
    // a re-export of every hour through the temporary table and the fenced upsert
    upsert_rows_per_s: rate(u.rows, u.ms),
    upsert_write_rows_per_s: rate(u.rows, u.writeMs),
    export_ms: Math.round(e.ms),
    copy_ms: Math.round(c.ms),
  })}\n`,
);

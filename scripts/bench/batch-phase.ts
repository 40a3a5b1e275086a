// One measured phase of the batch benchmark, in its own process so its peak RSS is its own:
//   tandem <lakeDir>   the batch layer computing endpoint_hourly for the bench day (forced)
//   duckdb <lakeDir>   DuckDB alone: the equivalent built-in query on the same NDJSON files
// Prints one JSON line: { ms, peak_rss_mib, ... }.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DuckDbEngine, openBatchLayer } from '../../packages/batch/src/index.ts';
import { connectRedis } from '../../packages/connections/src/index.ts';
import { loadConfig } from '../../packages/core/src/config.ts';
import { openObjectStore } from '../../packages/lake/src/index.ts';
import { BENCH_DAY } from './batch-data.ts';
import { HOUR_MS } from '../../packages/core/src/time.ts';

const requireFromBatch = createRequire(new URL('../../packages/batch/package.json', import.meta.url));
// pino is a dependency of the batch package only; resolve it from there.
const { pino } = (await import(
  requireFromBatch.resolve('pino')
)) as typeof import('../../packages/batch/node_modules/pino/pino.js');

const [phase, lakeDir] = process.argv.slice(2) as [string, string];
const threads = Number(process.env.BENCH_THREADS ?? 2);
const memoryLimit = process.env.BENCH_MEMORY_LIMIT ?? '1GB';
const tempDirectory = join(lakeDir, '..', 'tmp');
const hours = Array.from({ length: 24 }, (_, i) => BENCH_DAY + i * HOUR_MS);
const peakRssMib = () => Math.round(process.resourceUsage().maxRSS / 1024);

if (phase === 'tandem') {
  const store = openObjectStore({ url: `file://${lakeDir}`, fsync: false });
  const redis = await connectRedis(loadConfig().redis);
  const prefix = `bench-${randomUUID()}`;
  // Chunk logs are counted (files, and those read as trusted archiver files); warnings, or every
  // line with BENCH_LOG=info, go to stderr.
  let files = 0;
  let trustedFiles = 0;
  const logger = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        const entry = JSON.parse(line) as {
          level: number;
          msg: string;
          files?: number;
          trustedFiles?: number;
        };
        if (entry.msg === 'batch chunk computed') {
          files += entry.files ?? 0;
          trustedFiles += entry.trustedFiles ?? 0;
        }
        if (entry.level >= 40 || process.env.BENCH_LOG === 'info') process.stderr.write(line);
      },
    },
  );
  const layer = await openBatchLayer({
    store,
    redis,
    redisPrefix: prefix,
    threads,
    memoryLimit,
    tempDirectory,
    logger,
    // BENCH_BATCH_OPTIONS: JSON of batch options to try, e.g. '{"maxChunkInputBytes":67108864}'
    ...(JSON.parse(process.env.BENCH_BATCH_OPTIONS ?? '{}') as object),
  });
  const started = performance.now();
  const outcomes = await layer.runHours('endpoint_hourly', hours, { force: true });
  const ms = Math.round(performance.now() - started);
  const failed = outcomes.filter((outcome) => outcome.status !== 'published');
  if (failed.length > 0)
    throw new Error(`bench hours not published: ${JSON.stringify(failed.map((f) => f.error?.message))}`);
  const sum = (pick: (o: (typeof outcomes)[number]) => number) =>
    outcomes.reduce((total, o) => total + pick(o), 0);
  const result = {
    ms,
    peak_rss_mib: peakRssMib(),
    rows_in: sum((o) => o.pointer!.rowsIn),
    bad_rows: sum((o) => o.pointer!.badRows),
    duplicate_rows: sum((o) => o.pointer!.duplicateRows),
    rows_out: sum((o) => o.pointer!.rowsOut),
    files,
    trusted_files: trustedFiles,
  };
  await layer.close();
  for (const key of await redis.keys(`${prefix}:*`)) await redis.del(key);
  await redis.quit();
  await store.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else if (phase === 'duckdb') {
  const engine = await DuckDbEngine.create({ threads, memoryLimit, tempDirectory });
  const started = performance.now();
  const rows = await engine.withConnection(async (connection) => {
    // DuckDB's own reader and aggregates: what a hand-written DuckDB job would run.
    const reader = await connection.runAndReadAll(`
      SELECT hour, endpoint, count(*) AS requests,
        count(*) FILTER (WHERE status_code BETWEEN 200 AND 299) AS requests_2xx,
        count(*) FILTER (WHERE status_code BETWEEN 500 AND 599) AS errors_5xx,
        avg(response_time_ms) FILTER (WHERE status_code BETWEEN 200 AND 299) AS avg_latency_ms,
        quantile_cont(response_time_ms, [0.5, 0.95, 0.99]) FILTER (WHERE status_code BETWEEN 200 AND 299) AS latency,
        avg(bytes_sent) AS avg_response_bytes,
        approx_count_distinct(user_id) AS unique_users
      FROM (
        SELECT *, (CASE WHEN json_type("timestamp") = 'VARCHAR' THEN epoch_ms(CAST("timestamp" ->> '$' AS TIMESTAMPTZ))
                   ELSE CAST("timestamp" AS BIGINT) END) // ${HOUR_MS} AS hour
        FROM read_json('${lakeDir}/logs/*/*/*.json.gz', format = 'newline_delimited', ignore_errors = true,
          columns = {event_id: 'VARCHAR', "timestamp": 'JSON', endpoint: 'VARCHAR', method: 'VARCHAR',
                     status_code: 'INTEGER', response_time_ms: 'DOUBLE', bytes_sent: 'BIGINT', user_id: 'VARCHAR',
                     session_id: 'VARCHAR', page_id: 'VARCHAR'})
        WHERE event_id IS NOT NULL
      )
      GROUP BY hour, endpoint`);
    return reader.currentRowCount;
  });
  const ms = Math.round(performance.now() - started);
  engine.close();
  process.stdout.write(`${JSON.stringify({ ms, peak_rss_mib: peakRssMib(), rows_out: rows })}\n`);
} else {
  throw new Error(`unknown phase ${phase}; use tandem or duckdb`);
}

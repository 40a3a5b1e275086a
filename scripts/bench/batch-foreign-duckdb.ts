// The "DuckDB alone" phase of the foreign-logs benchmark, in its own process: what a hand-written
// DuckDB job would run over the foreign day — a typed read_json(..., ignore_errors = true), the
// schema's required fields and ranges as a WHERE, dedup by event_id, and DuckDB's built-in aggregates
// for an equivalent of endpoint_hourly. No Tandem code: @duckdb/node-api straight from the batch
// package's dependencies. Prints one JSON line: { ms, peak_rss_mib, rows_out, events }.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const requireFromBatch = createRequire(new URL('../../packages/batch/package.json', import.meta.url));
const { DuckDBInstance } = (await import(
  requireFromBatch.resolve('@duckdb/node-api')
)) as typeof import('../../packages/batch/node_modules/@duckdb/node-api/lib/index.js');

const [lakeDir] = process.argv.slice(2) as [string];
if (!/^[\w./+=-]+$/.test(lakeDir)) throw new Error(`unexpected characters in the lake path ${lakeDir}`);
// The batch layer's defaults (BATCH_THREADS, BATCH_MEMORY_LIMIT), so both engines get the same budget.
const threads = process.env.BENCH_THREADS ?? '2';
const memoryLimit = process.env.BENCH_MEMORY_LIMIT ?? '1GB';
const tempDirectory = join(lakeDir, '..', 'tmp');
mkdirSync(tempDirectory, { recursive: true });
const HOUR_MS = 3_600_000;

const instance = await DuckDBInstance.create(':memory:', {
  threads,
  memory_limit: memoryLimit,
  temp_directory: tempDirectory,
});
const connection = await instance.connect();
const started = performance.now();
const reader = await connection.runAndReadAll(`
  WITH raw AS (
    SELECT * FROM read_json('${lakeDir}/logs/*/*/*.json.gz', format = 'newline_delimited', ignore_errors = true,
      columns = {event_id: 'VARCHAR', "timestamp": 'JSON', endpoint: 'VARCHAR', method: 'VARCHAR',
                 status_code: 'INTEGER', response_time_ms: 'DOUBLE', bytes_sent: 'BIGINT', user_id: 'VARCHAR'})
  ), typed AS (
    SELECT *, CASE WHEN json_type("timestamp") = 'VARCHAR'
                   THEN epoch_ms(TRY_CAST("timestamp" ->> '$' AS TIMESTAMPTZ))
                   ELSE TRY_CAST("timestamp" AS BIGINT) END AS ts
    FROM raw
    WHERE event_id <> '' AND endpoint <> '' AND status_code BETWEEN 100 AND 599
      AND response_time_ms >= 0 AND (bytes_sent IS NULL OR bytes_sent >= 0)
  ), events AS (
    SELECT DISTINCT ON (event_id) * FROM typed WHERE ts IS NOT NULL
  )
  SELECT ts // ${HOUR_MS} AS hour, endpoint, count(*) AS requests,
    count(*) FILTER (WHERE status_code BETWEEN 200 AND 299) AS requests_2xx,
    count(*) FILTER (WHERE status_code BETWEEN 500 AND 599) AS errors_5xx,
    avg(response_time_ms) FILTER (WHERE status_code BETWEEN 200 AND 299) AS avg_latency_ms,
    approx_quantile(response_time_ms, [0.5, 0.95, 0.99]) FILTER (WHERE status_code BETWEEN 200 AND 299) AS latency,
    avg(bytes_sent) AS avg_response_bytes,
    approx_count_distinct(user_id) AS unique_users
  FROM events
  GROUP BY ALL`);
const ms = Math.round(performance.now() - started);
let events = 0;
for (const row of reader.getRowObjectsJS()) events += Number(row.requests);
connection.closeSync();
instance.closeSync();
process.stdout.write(
  `${JSON.stringify({ ms, peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024), rows_out: reader.currentRowCount, events })}\n`,
);

// One measured phase of the IoT batch benchmark, in its own process so its peak RSS is its own:
//   tandem <lakeDir>   the batch layer computing site_minutely of the IoT stream for the day (forced)
//   duckdb <lakeDir>   DuckDB alone: the equivalent built-in query on the same NDJSON files
// Prints one JSON line: { ms, peak_rss_mib, ... }.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DuckDbEngine, openBatchLayer } from '../../packages/batch/src/index.ts';
import { connectRedis } from '../../packages/connections/src/index.ts';
import { loadConfig } from '../../packages/core/src/config.ts';
import { openObjectStore } from '../../packages/lake/src/index.ts';
import { IOT_BENCH_DAY, iotBenchCatalog, iotBenchStream, iotBenchView } from './batch-iot-data.ts';
import { HOUR_MS, MINUTE_MS } from '../../packages/core/src/time.ts';

const requireFromBatch = createRequire(new URL('../../packages/batch/package.json', import.meta.url));
// pino is a dependency of the batch package only; resolve it from there.
const { pino } = (await import(
  requireFromBatch.resolve('pino')
)) as typeof import('../../packages/batch/node_modules/pino/pino.js');

const [phase, lakeDir] = process.argv.slice(2) as [string, string];
const threads = Number(process.env.BENCH_THREADS ?? 2);
const memoryLimit = process.env.BENCH_MEMORY_LIMIT ?? '1GB';
const tempDirectory = join(lakeDir, '..', 'tmp');
const hours = Array.from({ length: 24 }, (_, i) => IOT_BENCH_DAY + i * HOUR_MS);
const peakRssMib = () => Math.round(process.resourceUsage().maxRSS / 1024);

if (phase === 'tandem') {
  const store = openObjectStore({ url: `file://${lakeDir}`, fsync: false });
  const redis = await connectRedis(loadConfig().redis);
  const prefix = `bench-${randomUUID()}`;
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
    catalog: iotBenchCatalog,
    threads,
    memoryLimit,
    tempDirectory,
    logger,
    ...(JSON.parse(process.env.BENCH_BATCH_OPTIONS ?? '{}') as object),
  });
  const started = performance.now();
  const outcomes = await layer.runHours(iotBenchView.name, hours, { force: true });
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
      SELECT ts // ${MINUTE_MS} AS minute, site, count(*) AS readings,
        avg(temperature_c) AS avg_temperature_c, max(temperature_c) AS max_temperature_c,
        quantile_cont(temperature_c, 0.95) AS p95_temperature_c,
        approx_count_distinct(device) AS devices,
        count(*) FILTER (WHERE battery_low) AS low_battery
      FROM read_json('${lakeDir}/${iotBenchStream.lakePrefix}/*/*/*.json.gz', format = 'newline_delimited',
        ignore_errors = true,
        columns = {reading_id: 'VARCHAR', ts: 'BIGINT', site: 'VARCHAR', device: 'VARCHAR', kind: 'VARCHAR',
                   temperature_c: 'DOUBLE', humidity: 'DOUBLE', battery_low: 'BOOLEAN'})
      WHERE reading_id IS NOT NULL
      GROUP BY minute, site`);
    return reader.currentRowCount;
  });
  const ms = Math.round(performance.now() - started);
  engine.close();
  process.stdout.write(`${JSON.stringify({ ms, peak_rss_mib: peakRssMib(), rows_out: rows })}\n`);
} else {
  throw new Error(`unknown phase ${phase}; use tandem or duckdb`);
}

// Benchmark of @tandem/core's two engines on 4M generated events (one JSON line on stdout):
// - reducer_events_per_s: compileReducer(endpoint_hourly).add over validated event objects on one
//   core, all measures, validation excluded (validate_events_per_s reports parseEvent separately);
// - sql_ms vs duckdb_builtin_ms: the compiled endpoint_hourly SQL against DuckDB's own
//   count/avg/approx_count_distinct/quantile_cont query on the same table in the same run
//   (best of N runs each, interleaved);
// - validate_ns_per_event vs validate_oracle_ns_per_event: parseEvent (the validator compiled from
//   webStream's schema) against the first build's hand-written validator (the test oracle), CPU
//   time, best of N interleaved runs over the same 300k JSON lines;
// - staging_ns_per_line vs staging_oracle_ns_per_line: the compiled web staging SQL against the
//   hand-written one (the test oracle) over the same lines, canonical (the fast path) and with
//   keys reordered (`_reordered_`, the general path); CPU time, best of N interleaved runs.
import { createRequire } from 'node:module';
import {
  builtinViews,
  compileReducer,
  compileViewSql,
  compileEventStagingSql,
  HOUR_MS,
  parseEvent,
  type TandemEvent,
} from '../../packages/core/src/index.ts';
import { loadEventsTable } from '../../packages/core/test/support/duckdb.ts';
import { parseEvent as parseEventOracle } from '../../packages/core/test/support/web-event-oracle.ts';
import { compileEventStagingSql as compileOracleStagingSql } from '../../packages/core/test/support/web-event-oracle-sql.ts';

// DuckDB is a dev dependency of core only; resolve it from there.
type DuckDBApi = typeof import('../../packages/core/node_modules/@duckdb/node-api/lib/index.js');
const requireFromCore = createRequire(new URL('../../packages/core/package.json', import.meta.url));
const { DuckDBInstance } = (await import(requireFromCore.resolve('@duckdb/node-api'))) as DuckDBApi;

const EVENTS = Number(process.env.BENCH_EVENTS ?? 4_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const HOURS = 24;
const ENDPOINTS = 200;
const USERS = 20_000;
const PAGES = 5_000;
const BURST = 20;
const base = Date.UTC(2024, 4, 1);

// xorshift32: deterministic and fast, so every run measures the same data.
let state = 2463534242;
function random(): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 4294967296;
}

const endpoints = Array.from({ length: ENDPOINTS }, (_, i) => `/api/v1/resource-${i}`);
const users = Array.from({ length: USERS }, (_, i) => `user-${i}`);
const pages = Array.from({ length: PAGES }, (_, i) => `/page/${i}`);
const statuses = [200, 200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 429, 500, 502, 503];

/**
 * Traffic shaped like an API's: a visitor arrives at a random time of day and makes a burst of
 * BURST requests over a few minutes against three endpoints of their own (skewed popularity);
 * 5% of visitors are anonymous. Latencies are log-uniform over 1 ms - 4 s with 0.01 ms resolution.
 */
function generate(): TandemEvent[] {
  const out: TandemEvent[] = new Array(EVENTS);
  let user: string | null = null;
  let start = 0;
  let favourites: string[] = [];
  for (let i = 0; i < EVENTS; i++) {
    if (i % BURST === 0) {
      const u = Math.floor(random() * USERS);
      user = random() < 0.05 ? null : (users[u] as string);
      start = base + Math.floor(random() * HOURS * HOUR_MS);
      favourites = [0, 1, 2].map(() => {
        const r = random();
        return endpoints[Math.floor(r * r * ENDPOINTS)] as string;
      });
    }
    out[i] = {
      event_id: `evt-${i}`,
      timestamp: Math.min(start + Math.floor(random() * 10 * 60_000), base + HOURS * HOUR_MS - 1),
      endpoint: favourites[Math.floor(random() * 3)] as string,
      method: 'GET',
      status_code: statuses[Math.floor(random() * statuses.length)] as number,
      response_time_ms: Math.round(Math.exp(random() * 8.3) * 100) / 100,
      bytes_sent: random() < 0.1 ? null : Math.floor(random() * 50_000),
      user_id: user,
      session_id: null,
      page_id: random() < 0.4 ? null : (pages[Math.floor(random() * PAGES)] as string),
    };
  }
  return out;
}

function log(message: string): void {
  process.stderr.write(`[bench core] ${message}\n`);
}

const events = generate();
log(`generated ${EVENTS} events`);

// Reducer: one core, the speed layer's hot path.
const view = builtinViews.endpoint_hourly;
const reducer = compileReducer(view);
const t0 = performance.now();
for (const event of events) reducer.add(event);
const rows = reducer.rows();
const reducerMs = performance.now() - t0;
log(`reducer ${reducerMs.toFixed(0)} ms, ${rows.length} rows`);

// Validation of raw JSON messages, measured on a slice.
const sample = events
  .slice(0, 300_000)
  .map((e) => JSON.stringify({ ...e, timestamp: new Date(e.timestamp).toISOString() }));
const now = () => base + 2 * HOURS * HOUR_MS;
const parseOptions = { now, futureToleranceMs: 300_000, maxBytes: 65_536 };
/** CPU ms of one pass of `parse` over the sample (one thread: CPU time is steadier than wall). */
function timeValidation(parse: typeof parseEvent): number {
  const cpu = process.cpuUsage();
  let valid = 0;
  for (const line of sample) if (parse(line, parseOptions).ok) valid++;
  const used = process.cpuUsage(cpu);
  if (valid !== sample.length) throw new Error(`only ${valid} of ${sample.length} sample events validated`);
  return (used.user + used.system) / 1000;
}
let validateMs = Number.POSITIVE_INFINITY;
let validateOracleMs = Number.POSITIVE_INFINITY;
for (let run = 0; run < 2 * RUNS + 1; run++) {
  validateMs = Math.min(validateMs, timeValidation(parseEvent));
  validateOracleMs = Math.min(validateOracleMs, timeValidation(parseEventOracle as typeof parseEvent));
}
log(`validation ${validateMs.toFixed(0)} ms, hand-written oracle ${validateOracleMs.toFixed(0)} ms`);

// DuckDB: load once, then interleave the two queries.
const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
await loadEventsTable(connection, 'events', events);
log('loaded DuckDB table');

const range = { from: base, to: base + HOURS * HOUR_MS };
const compiled = compileViewSql(view, { eventsRelation: 'events', range });
const builtinSql = `SELECT ("timestamp" // ${HOUR_MS}) * ${HOUR_MS} AS bucket, endpoint,
  count(*) AS requests,
  count(*) FILTER (WHERE status_code BETWEEN 200 AND 299) AS requests_2xx,
  count(*) FILTER (WHERE status_code BETWEEN 500 AND 599) AS errors_5xx,
  avg(response_time_ms) FILTER (WHERE status_code BETWEEN 200 AND 299) AS avg_latency_ms,
  quantile_cont(response_time_ms, [0.5, 0.95, 0.99]) FILTER (WHERE status_code BETWEEN 200 AND 299) AS latency,
  avg(bytes_sent) AS avg_response_bytes,
  approx_count_distinct(user_id) AS unique_users
FROM events WHERE "timestamp" >= ${range.from} AND "timestamp" < ${range.to}
GROUP BY ALL ORDER BY bucket, endpoint`;

/** Wall time, and CPU time of this process (DuckDB's threads included): steadier on a busy machine. */
async function timeQuery(
  sql: string,
  params?: Record<string, string | number>,
): Promise<{ ms: number; cpuMs: number; rows: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = await connection.runAndReadAll(sql, params);
  const used = process.cpuUsage(cpu);
  return {
    ms: performance.now() - start,
    cpuMs: (used.user + used.system) / 1000,
    rows: result.currentRowCount,
  };
}

let sqlMs = Number.POSITIVE_INFINITY;
let builtinMs = Number.POSITIVE_INFINITY;
let sqlCpuMs = Number.POSITIVE_INFINITY;
let builtinCpuMs = Number.POSITIVE_INFINITY;
for (let run = 0; run < RUNS; run++) {
  const a = await timeQuery(compiled.sql, compiled.params);
  const b = await timeQuery(builtinSql);
  if (a.rows !== rows.length || b.rows !== rows.length) {
    throw new Error(`row counts differ: compiled ${a.rows}, builtin ${b.rows}, reducer ${rows.length}`);
  }
  sqlMs = Math.min(sqlMs, a.ms);
  builtinMs = Math.min(builtinMs, b.ms);
  sqlCpuMs = Math.min(sqlCpuMs, a.cpuMs);
  builtinCpuMs = Math.min(builtinCpuMs, b.cpuMs);
  log(
    `run ${run + 1}: compiled ${a.ms.toFixed(0)} ms (cpu ${a.cpuMs.toFixed(0)}), builtin ${b.ms.toFixed(0)} ms (cpu ${b.cpuMs.toFixed(0)})`,
  );
}

// Staging SQL: the same raw lines through the compiled and the hand-written query.
const reordered = sample.map((line) => {
  const { page_id, status_code, ...rest } = JSON.parse(line);
  return JSON.stringify({ status_code, page_id, ...rest });
});
const staging: Record<string, number> = {};
for (const [name, lines] of [
  ['', sample],
  ['_reordered', reordered],
] as const) {
  await connection.run('CREATE OR REPLACE TABLE lines (line VARCHAR)');
  const appender = await connection.createAppender('lines');
  for (const line of lines) {
    appender.appendVarchar(line);
    appender.endRow();
  }
  appender.closeSync();
  const options = { linesRelation: 'lines', nowMs: now(), futureToleranceMs: 300_000, maxBytes: 65_536 };
  let compiledCpu = Number.POSITIVE_INFINITY;
  let oracleCpu = Number.POSITIVE_INFINITY;
  for (let run = 0; run < RUNS; run++) {
    for (const [which, stagingSql] of [
      ['compiled', compileEventStagingSql(options)],
      ['oracle', compileOracleStagingSql(options)],
    ] as const) {
      const { cpuMs } = await timeQuery(
        `SELECT count(*) FILTER (WHERE error_code IS NULL) AS ok, sum(status_code), sum("timestamp"), sum(response_time_ms), ` +
          `count(user_id), count(bytes_sent), count(page_id), max(length(endpoint)) FROM (${stagingSql.sql})`,
        stagingSql.params,
      );
      if (which === 'compiled') compiledCpu = Math.min(compiledCpu, cpuMs);
      else oracleCpu = Math.min(oracleCpu, cpuMs);
    }
  }
  staging[`staging${name}_ns_per_line`] = Math.round((compiledCpu * 1e6) / lines.length);
  staging[`staging${name}_oracle_ns_per_line`] = Math.round((oracleCpu * 1e6) / lines.length);
  log(
    `staging${name}: compiled ${compiledCpu.toFixed(0)} ms cpu, hand-written oracle ${oracleCpu.toFixed(0)} ms cpu`,
  );
}
connection.closeSync();
instance.closeSync();

console.log(
  JSON.stringify({
    bench: 'core',
    events: EVENTS,
    reducer_events_per_s: Math.round(EVENTS / (reducerMs / 1000)),
    reducer_includes_validation: false,
    validate_events_per_s: Math.round(sample.length / (validateMs / 1000)),
    validate_ns_per_event: Math.round((validateMs * 1e6) / sample.length),
    validate_oracle_ns_per_event: Math.round((validateOracleMs * 1e6) / sample.length),
    ...staging,
    sql_ms: Math.round(sqlMs),
    duckdb_builtin_ms: Math.round(builtinMs),
    sql_vs_builtin: Number((sqlMs / builtinMs).toFixed(2)),
    sql_cpu_ms: Math.round(sqlCpuMs),
    duckdb_builtin_cpu_ms: Math.round(builtinCpuMs),
    sql_events_per_s: Math.round(EVENTS / (sqlMs / 1000)),
  }),
);

import { DuckDBInstance } from '@duckdb/node-api';
import { compileEventStagingSql, compileViewSql, getView } from '@tandem/core';
const inst = await DuckDBInstance.create(':memory:', {
  threads: '2',
  memory_limit: '1GB',
  temp_directory: '/tmp/exp/spill',
  preserve_insertion_order: 'false',
});
const c = await inst.connect();
const n = Number(process.argv[2] ?? 1);
const glob = `/tmp/exp/lake/logs/dt=2024-03-01/hour=${n === 1 ? '00' : '0[0-' + (n - 1) + ']'}/*.json.gz`;
const lines = `(SELECT line FROM read_csv('${glob}', columns={'line':'VARCHAR'}, delim='\x01', quote='', escape='', header=false, compression='auto', auto_detect=false) WHERE line IS NOT NULL)`;
const st = compileEventStagingSql({
  linesRelation: lines,
  nowMs: Date.now(),
  futureToleranceMs: 300000,
  maxBytes: 65536,
});
async function t(name: string, sql: string, params?: Record<string, string | number>) {
  const t0 = Date.now();
  const r = await c.runAndReadAll(sql, params);
  console.log(name, Date.now() - t0, 'ms', JSON.stringify(r.getRowsJson().slice(0, 2)).slice(0, 300));
}
await t('lines', `SELECT count(*) FROM ${lines}`);
await t(
  'staging',
  `SELECT count(*), count(error_code), count(DISTINCT error_rule) FROM (${st.sql})`,
  st.params,
);
await t('staging-mat', `CREATE TEMP TABLE s AS SELECT * EXCLUDE (line) FROM (${st.sql})`, st.params);
const v = compileViewSql(getView('endpoint_hourly'), {
  eventsRelation: '(SELECT * FROM s WHERE error_code IS NULL)',
  range: { from: Date.UTC(2024, 2, 1), to: Date.UTC(2024, 2, 2) },
});
await t('view', `SELECT count(*), sum(length(states)) FROM (${v.sql})`, v.params);

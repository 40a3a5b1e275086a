import { DuckDBInstance } from '@duckdb/node-api';
import { compileEventStagingSql } from '@tandem/core';
const inst = await DuckDBInstance.create(':memory:', {
  threads: '1',
  memory_limit: process.argv[2] ?? '128MB',
  temp_directory: '/tmp/exp/spill3',
  preserve_insertion_order: 'false',
});
const c = await inst.connect();
const lines = `(SELECT line FROM read_csv('/tmp/exp/spilltest/*.json.gz', columns={'line':'VARCHAR'}, delim='\x01', quote='', escape='', header=false, auto_detect=false) WHERE line IS NOT NULL)`;
const st = compileEventStagingSql({
  linesRelation: lines,
  nowMs: Date.now(),
  futureToleranceMs: 300000,
  maxBytes: 65536,
});
async function t(name: string, sql: string, params?: Record<string, string | number>) {
  const t0 = Date.now();
  try {
    const r = await c.runAndReadAll(sql, params);
    console.log(name, Date.now() - t0, JSON.stringify(r.getRowsJson()).slice(0, 100));
  } catch (e) {
    console.log(name, 'ERR', (e as Error).message.split('\n')[0]);
  }
}
const v = process.argv[3];
if (v === 'user') await t('user-only', `CREATE TEMP TABLE c AS SELECT user_id FROM (${st.sql})`, st.params);
if (v === 'endpoint')
  await t('endpoint-only', `CREATE TEMP TABLE c AS SELECT endpoint FROM (${st.sql})`, st.params);
if (v === 'copy')
  await t('copy', `COPY (SELECT * EXCLUDE (line) FROM (${st.sql})) TO '/tmp/exp/staged.parquet'`, st.params);
if (v === 'agg')
  await t('agg', `SELECT count(DISTINCT user_id), count(error_code) FROM (${st.sql})`, st.params);

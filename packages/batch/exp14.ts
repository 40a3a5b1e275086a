import { DuckDBInstance } from '@duckdb/node-api';
import { compileEventStagingSql } from '@tandem/core';
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const c = await inst.connect();
await c.run(
  `CREATE TABLE l AS SELECT line FROM read_csv('/tmp/exp/lake/logs/dt=2024-03-01/hour=00/events+0*.json.gz', columns={'line':'VARCHAR'}, delim='\x01', quote='', escape='', header=false, auto_detect=false)`,
);
const st = compileEventStagingSql({
  linesRelation: 'l',
  nowMs: Date.now(),
  futureToleranceMs: 300000,
  maxBytes: 65536,
});
const t0 = Date.now();
await c.run(`CREATE TABLE s AS SELECT * EXCLUDE (line) FROM (${st.sql})`, st.params);
console.log(
  'staging on 1 thread',
  Date.now() - t0,
  'ms for',
  (await c.runAndReadAll('SELECT count(*) FROM l')).getRowsJS()[0],
);
await c.run(`PRAGMA enable_profiling='json'`);
await c.run(`PRAGMA profiling_output='/tmp/exp/prof.json'`);
await c.run(`SELECT count(*) FROM (${st.sql})`, st.params);

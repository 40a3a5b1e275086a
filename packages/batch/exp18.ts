import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
import { DuckDBInstance } from '@duckdb/node-api';
import { compileEventStagingSql } from '@tandem/core';
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const c = await inst.connect();
await c.run(
  `CREATE TABLE l AS SELECT line FROM read_csv('/work/main/.data/bench/batch/ndjson/logs/dt=2024-05-01/hour=00/events+0*.json.gz', columns={'line':'VARCHAR'}, delim='\x01', quote='', escape='', header=false, auto_detect=false)`,
);
const st = compileEventStagingSql({
  linesRelation: 'l',
  nowMs: Date.now(),
  futureToleranceMs: 300000,
  maxBytes: 65536,
});
const r = await c.runAndReadAll(
  `EXPLAIN ANALYZE SELECT count(event_id), count(error_code), count("timestamp"), count(endpoint), count(user_id) FROM (${st.sql})`,
  st.params,
);
const text = String(r.getRowsJS()[0]?.[1]);
require('node:fs').writeFileSync('/tmp/exp/explain.txt', text);

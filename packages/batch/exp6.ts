import { DuckDBInstance } from '@duckdb/node-api';
import { existsSync } from 'node:fs';
const fresh = !existsSync('/tmp/exp/staged.db');
const inst = await DuckDBInstance.create('/tmp/exp/staged.db', {
  threads: '2',
  memory_limit: '1GB',
  temp_directory: '/tmp/exp/spill',
  preserve_insertion_order: 'false',
});
const c = await inst.connect();
async function t(name: string, sql: string) {
  const t0 = Date.now();
  const r = await c.runAndReadAll(sql);
  console.log(name, Date.now() - t0, 'ms', JSON.stringify(r.getRowsJson().slice(0, 2)).slice(0, 200));
}
if (fresh)
  await t(
    'make',
    `CREATE TABLE s AS SELECT (h//416667)::BIGINT AS partition_hour, e.* FROM (SELECT row_number() OVER () - 1 h, json_extract_string(line, ['$.event_id','$.timestamp','$.endpoint','$.status_code','$.response_time_ms','$.bytes_sent','$.user_id']) x, hash(line) lh FROM read_csv('/tmp/exp/lake/logs/dt=2024-03-01/hour=0[0-7]/*.json.gz', columns={'line':'VARCHAR'}, delim='\x01', quote='', escape='', header=false, auto_detect=false)) q, LATERAL (SELECT x[1] event_id, try_cast(x[2] AS BIGINT) AS timestamp, x[3] endpoint, x[4]::INT status_code, x[5]::DOUBLE response_time_ms, x[6]::BIGINT bytes_sent, x[7] user_id, NULL::VARCHAR error_code, lh) e`,
  );
const cols = `partition_hour, timestamp, endpoint, status_code, response_time_ms, bytes_sent, user_id`;
await t('count-distinct', `SELECT count(DISTINCT event_id) FROM s`);
await t(
  'any_value',
  `CREATE OR REPLACE TEMP TABLE g AS SELECT event_id, count(*) n, any_value(struct_pack(${cols})) ev FROM s GROUP BY event_id`,
);
await t(
  'arg_min',
  `CREATE OR REPLACE TEMP TABLE g AS SELECT event_id, count(*) n, arg_min(struct_pack(${cols}), lh) ev FROM s GROUP BY event_id`,
);
await t(
  'min-cols',
  `CREATE OR REPLACE TEMP TABLE g AS SELECT event_id, count(*) n, ${cols
    .split(', ')
    .map((c) => `min(${c}) AS ${c}`)
    .join(', ')} FROM s GROUP BY event_id`,
);
await t(
  'any-cols',
  `CREATE OR REPLACE TEMP TABLE g AS SELECT event_id, count(*) n, ${cols
    .split(', ')
    .map((c) => `any_value(${c}) AS ${c}`)
    .join(', ')} FROM s GROUP BY event_id`,
);
await t(
  'distinct-on',
  `CREATE OR REPLACE TEMP TABLE g AS SELECT DISTINCT ON (event_id) event_id, ${cols} FROM s ORDER BY event_id, lh`,
);
await t(
  'distinct-on-noorder',
  `CREATE OR REPLACE TEMP TABLE g AS SELECT DISTINCT ON (event_id) event_id, ${cols} FROM s`,
);
await t('distinct-all', `CREATE OR REPLACE TEMP TABLE g AS SELECT DISTINCT event_id, ${cols} FROM s`);
await t(
  'qualify',
  `CREATE OR REPLACE TEMP TABLE g AS SELECT event_id, ${cols} FROM s QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY lh) = 1`,
);
await t(
  'streaming-agg-any',
  `SELECT endpoint, count(*), avg(response_time_ms), approx_count_distinct(user_id) FROM (SELECT event_id, ${cols
    .split(', ')
    .map((c) => `any_value(${c}) AS ${c}`)
    .join(', ')} FROM s GROUP BY event_id) GROUP BY ALL`,
);

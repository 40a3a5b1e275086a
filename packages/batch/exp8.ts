import { DuckDBInstance } from '@duckdb/node-api';
import { EVENT_ISO_PATTERN } from '@tandem/core';
const inst = await DuckDBInstance.create(':memory:', {
  threads: '2',
  memory_limit: '1GB',
  preserve_insertion_order: 'false',
});
const c = await inst.connect();
await c.run(
  `CREATE TABLE l AS SELECT line FROM read_csv('/tmp/exp/lake/logs/dt=2024-03-01/hour=00/*.json.gz', columns={'line':'VARCHAR'}, delim='\x01', quote='', escape='', header=false, auto_detect=false)`,
);
async function t(name: string, sql: string) {
  const t0 = Date.now();
  const r = await c.runAndReadAll(sql);
  console.log(
    name.padEnd(20),
    Date.now() - t0,
    'ms',
    JSON.stringify(r.getRowsJson().slice(0, 1)).slice(0, 120),
  );
}
const iso = `'${EVENT_ISO_PATTERN.replaceAll("'", "''")}'`;
console.log(EVENT_ISO_PATTERN);
await t('strlen', `SELECT sum(strlen(line)) FROM l`);
await t('json_valid', `SELECT count(*) FILTER (json_valid(line)) FROM l`);
await t(
  'lenient-regex',
  `SELECT count(*) FILTER (regexp_matches(line, '(?i),[ \\t\\n\\r]*[\\]}]|nan|inf')) FROM l`,
);
await t('json_type', `SELECT count(*) FILTER (json_type(line) = 'OBJECT') FROM l`);
await t(
  'json_extract10',
  `SELECT count(v[1]) FROM (SELECT json_extract(line, ['$.event_id','$.timestamp','$.endpoint','$.method','$.status_code','$.response_time_ms','$.bytes_sent','$.user_id','$.session_id','$.page_id']) v FROM l)`,
);
await t(
  'extract+types',
  `SELECT count(t1), count(s2) FROM (SELECT json_type(v[1]) t1, v[3] ->> '$' s2, json_type(v[2]) t2, json_type(v[4]) t4, json_type(v[5]) t5 FROM (SELECT json_extract(line, ['$.event_id','$.timestamp','$.endpoint','$.method','$.status_code','$.response_time_ms','$.bytes_sent','$.user_id','$.session_id','$.page_id']) v FROM l))`,
);
await t(
  'iso-match',
  `SELECT count(*) FILTER (regexp_matches(s, ${iso})) FROM (SELECT line ->> '$.timestamp' s FROM l)`,
);
await t(
  'iso-extract',
  `SELECT count(x.y) FROM (SELECT regexp_extract(s, ${iso}, ['y', 'mo', 'd', 'h', 'mi', 'sec', 'frac', 'z', 'sign', 'oh', 'om']) x FROM (SELECT line ->> '$.timestamp' s FROM l))`,
);

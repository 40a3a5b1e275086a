import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:', {
  threads: '2',
  memory_limit: '1GB',
  temp_directory: '/tmp/exp/spill',
  preserve_insertion_order: 'false',
});
const c = await inst.connect();
const hours = Array.from({ length: Number(process.argv[2] ?? 24) }, (_, h) => h);
const lines = (h: number) =>
  `(SELECT line FROM read_csv('/tmp/exp/lake/logs/dt=2024-03-01/hour=${String(h).padStart(2, '0')}/*.json.gz', columns={'line':'VARCHAR'}, delim='\x01', quote='', escape='', header=false, compression='auto', auto_detect=false, store_rejects=true) WHERE line IS NOT NULL)`;
const staging = (rel: string) =>
  `SELECT e[1] AS event_id, CASE WHEN json_type(j,'$.timestamp')='VARCHAR' THEN epoch_ms(try_cast(e[2] AS TIMESTAMPTZ)) ELSE try_cast(e[2] AS BIGINT) END AS timestamp, e[3] AS endpoint, coalesce(e[4],'GET') AS method, try_cast(e[5] AS INTEGER) AS status_code, try_cast(e[6] AS DOUBLE) AS response_time_ms, try_cast(e[7] AS BIGINT) AS bytes_sent, e[8] AS user_id, e[9] AS session_id, e[10] AS page_id, CASE WHEN j IS NULL THEN 'TANDEM_ERR_EVENT_INVALID_JSON' WHEN e[1] IS NULL THEN 'TANDEM_ERR_EVENT_INVALID' END AS error_code, NULL::VARCHAR AS error_field, NULL::VARCHAR AS error_rule, line FROM (SELECT line, j, json_extract_string(j, ['$.event_id','$.timestamp','$.endpoint','$.method','$.status_code','$.response_time_ms','$.bytes_sent','$.user_id','$.session_id','$.page_id']) e FROM (SELECT line, try_cast(line AS JSON) j FROM ${rel}))`;
const union = hours
  .map((h) => `SELECT ${h}::BIGINT AS partition_hour, s.* FROM (${staging(lines(h))}) s`)
  .join(' UNION ALL ');
async function t(name: string, sql: string) {
  const t0 = Date.now();
  const r = await c.runAndReadAll(sql);
  console.log(name, Date.now() - t0, 'ms', JSON.stringify(r.getRowsJson().slice(0, 2)).slice(0, 300));
}
const cols = `partition_hour, timestamp, endpoint, status_code, response_time_ms, bytes_sent, user_id`;
const variant = process.argv[3] ?? 'gs';
if (variant === 'gs') {
  await t(
    'grouped',
    `CREATE TEMP TABLE g AS SELECT CASE WHEN error_code IS NULL THEN event_id END AS event_key, partition_hour, error_code, error_field, error_rule, count(*) AS n, arg_min(struct_pack(${cols}), hash(line)) AS ev, arg_min(left(line, 1024), hash(line), 20) FILTER (error_code IS NOT NULL) AS samples, GROUPING(event_key) AS gid FROM (${union}) GROUP BY GROUPING SETS ((event_key), (partition_hour, error_code, error_field, error_rule))`,
  );
} else if (variant === 'any') {
  await t(
    'grouped-any',
    `CREATE TEMP TABLE g AS SELECT CASE WHEN error_code IS NULL THEN event_id END AS event_key, partition_hour, error_code, error_field, error_rule, count(*) AS n, any_value(struct_pack(${cols})) AS ev, arg_min(left(line, 1024), hash(line), 20) FILTER (error_code IS NOT NULL) AS samples, GROUPING(event_key) AS gid FROM (${union}) GROUP BY GROUPING SETS ((event_key), (partition_hour, error_code, error_field, error_rule))`,
  );
} else {
  await t(
    'staged',
    `CREATE TEMP TABLE s AS SELECT ${cols}, event_id, error_code, hash(line) h FROM (${union})`,
  );
  await t('stats', `SELECT partition_hour, error_code, count(*) FROM s GROUP BY ALL`);
  await t(
    'dedup',
    `CREATE TEMP TABLE g AS SELECT event_id, count(*) n, arg_min(struct_pack(${cols}), h) ev FROM s WHERE error_code IS NULL GROUP BY event_id`,
  );
}
await t('count', `SELECT count(*), sum(n) FROM g`);
await t(
  'agg',
  `SELECT ev.endpoint, ev.timestamp // 3600000, count(*), avg(ev.response_time_ms), approx_count_distinct(ev.user_id) FROM g WHERE event_key IS NOT NULL GROUP BY ALL`.replace(
    'event_key IS NOT NULL',
    variant === 'staged' ? 'true' : 'event_key IS NOT NULL',
  ),
);

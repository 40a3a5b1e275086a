import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const c = await inst.connect();
await c.run(
  `CREATE TABLE l AS SELECT line FROM read_csv('/work/main/.data/bench/batch/ndjson/logs/dt=2024-05-01/hour=00/events+0*.json.gz', columns={'line':'VARCHAR'}, delim='\x01', quote='', escape='', header=false, auto_detect=false)`,
);
await c.run(`DELETE FROM l WHERE NOT json_valid(line)`);
async function t(name: string, sql: string) {
  const best = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await c.runAndReadAll(sql);
    best.push(performance.now() - t0);
  }
  console.log(name.padEnd(28), Math.round(Math.min(...best)), 'ms');
}
const fields = [
  'event_id',
  'timestamp',
  'endpoint',
  'method',
  'status_code',
  'response_time_ms',
  'bytes_sent',
  'user_id',
  'session_id',
  'page_id',
];
const paths = fields.map((f) => `'$.${f}'`).join(', ');
await t('scan', `SELECT count(line) FROM l`);
await t('json_valid', `SELECT count(*) FILTER (json_valid(line)) FROM l`);
await t(
  'lenient regex',
  `SELECT count(*) FILTER (regexp_matches(line, '(?i),[ \\t\\n\\r]*[\\]}]|nan|inf')) FROM l`,
);
await t('json_type(line)', `SELECT count(*) FILTER (json_type(line)='OBJECT') FROM l`);
await t('json_extract 10', `SELECT count(v[1]) FROM (SELECT json_extract(line, [${paths}]) v FROM l)`);
await t(
  'json_extract_string 10',
  `SELECT count(v[1]) FROM (SELECT json_extract_string(line, [${paths}]) v FROM l)`,
);
await t(
  'from_json struct JSON',
  `SELECT count(v.event_id) FROM (SELECT from_json(line, '{${fields.map((f) => `"${f}":"JSON"`).join(',')}}') v FROM l)`,
);
await t(
  'types of 10 values',
  `SELECT count(*) FILTER (${fields.map((_, i) => `json_type(v[${i + 1}]) IS NOT NULL`).join(' AND ')}) FROM (SELECT json_extract(line, [${paths}]) v FROM l)`,
);
await t(
  '->> of 10 values',
  `SELECT count(*) FILTER (${fields.map((_, i) => `(v[${i + 1}] ->> '$') IS NOT NULL`).join(' AND ')}) FROM (SELECT json_extract(line, [${paths}]) v FROM l)`,
);
await t(
  'read_json typed (file)',
  `SELECT count(event_id) FROM read_json('/work/main/.data/bench/batch/ndjson/logs/dt=2024-05-01/hour=00/events+0*.json.gz', format='newline_delimited', ignore_errors=true, columns={${fields.map((f) => `"${f}": 'JSON'`).join(',')}})`,
);
await t(
  'read_csv lines (file)',
  `SELECT count(line) FROM read_csv('/work/main/.data/bench/batch/ndjson/logs/dt=2024-05-01/hour=00/events+0*.json.gz', columns={'line':'VARCHAR'}, delim='\x01', quote='', escape='', header=false, auto_detect=false)`,
);
await c.run(`DELETE FROM l WHERE NOT json_valid(line)`);

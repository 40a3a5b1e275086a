import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:');
const c = await inst.connect();
await c.run(
  `COPY (SELECT line FROM (VALUES ('{"a": "x,y", "b": "q\\"z"}'), ('{"event_id": "broken", "timestamp": ')) t(line)) TO '/tmp/exp/w.json.gz' (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x01', COMPRESSION gzip)`,
);

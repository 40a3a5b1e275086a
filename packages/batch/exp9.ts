import { DuckDBInstance } from '@duckdb/node-api';
import { getView } from '@tandem/core';
import { writeRunParquet, readRunParquets } from './src/run-files.ts';
const inst = await DuckDBInstance.create(':memory:');
const c = await inst.connect();
const view = getView('endpoint_hourly');
const rows = [
  { bucket: 3600000, dims: ['/a'], states: { requests: { n: 3 } } },
  { bucket: 3600000, dims: [null], states: {} },
];
await writeRunParquet(c, view, rows as never, '/tmp/exp/t.parquet', { runId: 'r1', hour: 3600000 });
console.log(await readRunParquets(c, ['/tmp/exp/t.parquet']));
console.log(
  (await c.runAndReadAll(`SELECT * FROM parquet_kv_metadata('/tmp/exp/t.parquet')`)).getRowObjectsJson(),
);

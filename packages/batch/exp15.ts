import { DuckDBInstance } from '@duckdb/node-api';
const mode = process.argv[2];
const inst = await DuckDBInstance.create(mode === 'file' ? '/tmp/exp/spill-db.duckdb' : ':memory:', {
  threads: '1',
  memory_limit: '64MB',
  temp_directory: '/tmp/exp/spill3',
  preserve_insertion_order: 'false',
});
const c = await inst.connect();
const t0 = Date.now();
try {
  await c.run(
    `CREATE ${mode === 'temp' ? 'TEMP' : ''} TABLE t AS SELECT i, repeat('x', 300) || i AS s FROM range(1000000) r(i)`,
  );
  console.log(
    mode,
    'ok',
    Date.now() - t0,
    (await c.runAndReadAll(`SELECT count(*), sum(length(s)) FROM t`)).getRowsJS(),
  );
} catch (e) {
  console.log(mode, 'ERR', (e as Error).message.split('\n')[0]);
}

// The immutable file of one run: the partial rows of one (view, hour) as Parquet with three columns,
// `bucket BIGINT`, `dims VARCHAR` (JSON array, so string and number dimensions keep their type) and
// `states VARCHAR` (core's versioned `encodeStates`). Written with DuckDB COPY, read back with
// read_parquet; the run id, view and version ride along as key-value metadata for forensics.
import type { DuckDBConnection } from '@duckdb/node-api';
import { encodeStates, type PartialRow, type View } from '@tandem/core';
import { sqlString, sqlStringList } from './duckdb-engine.ts';

export interface RunFileMetadata {
  runId: string;
  hour: number;
}

/** One stored partial row with its states still encoded (decoded lazily by the reader). */
export interface EncodedPartialRow {
  bucket: number;
  dims: PartialRow['dims'];
  states: string;
}

/**
 * Writes the rows (already in bucket, dims order) to a local Parquet file; states given as cells
 * are encoded with `encodeStates`, states given as text are stored as they are (already encoded).
 */
export async function writeRunParquet(
  connection: DuckDBConnection,
  view: View,
  rows: readonly (PartialRow | EncodedPartialRow)[],
  path: string,
  metadata: RunFileMetadata,
): Promise<void> {
  const table = 'tandem_run_rows';
  await connection.run(
    `CREATE OR REPLACE TEMP TABLE ${table} (seq INTEGER, bucket BIGINT, dims VARCHAR, states VARCHAR)`,
  );
  try {
    const appender = await connection.createAppender(table, 'main', 'temp');
    try {
      rows.forEach((row, index) => {
        appender.appendInteger(index);
        appender.appendBigInt(BigInt(row.bucket));
        appender.appendVarchar(JSON.stringify(row.dims));
        appender.appendVarchar(typeof row.states === 'string' ? row.states : encodeStates(view, row.states));
        appender.endRow();
      });
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    const kv = [
      ['tandem_view', view.name],
      ['tandem_view_version', String(view.version)],
      ['tandem_run_id', metadata.runId],
      ['tandem_hour', new Date(metadata.hour).toISOString()],
    ]
      .map(([key, value]) => `${key}: ${sqlString(value!)}`)
      .join(', ');
    await connection.run(
      `COPY (SELECT bucket, dims, states FROM ${table} ORDER BY seq) TO ${sqlString(path)} ` +
        `(FORMAT parquet, COMPRESSION zstd, KV_METADATA {${kv}})`,
    );
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${table}`);
  }
}

/** Reads run files; rows come back grouped by the path they were read from, in file order. */
export async function readRunParquets(
  connection: DuckDBConnection,
  paths: readonly string[],
): Promise<Map<string, EncodedPartialRow[]>> {
  const byPath = new Map<string, EncodedPartialRow[]>(paths.map((path) => [path, []]));
  if (paths.length === 0) return byPath;
  const reader = await connection.runAndReadAll(
    `SELECT filename, bucket, dims, states FROM read_parquet(${sqlStringList(paths)}, filename = true, ` +
      'file_row_number = true) ORDER BY filename, file_row_number',
  );
  if (reader.currentRowCount === 0) return byPath;
  const columns = reader.getColumnsJS();
  const [filenames, buckets, dims, states] = columns as [unknown[], unknown[], unknown[], unknown[]];
  for (let i = 0; i < filenames.length; i++) {
    const list = byPath.get(String(filenames[i]));
    if (list === undefined) continue;
    list.push({
      bucket: Number(buckets[i] as bigint),
      dims: JSON.parse(String(dims[i])) as PartialRow['dims'],
      states: String(states[i]),
    });
  }
  return byPath;
}

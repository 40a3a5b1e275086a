// One sealed hour into its table, in one transaction: claim the hour in the bookkeeping table
// (only a newer fencing token may), COPY the run's rows into a temporary table, upsert them guarded
// by the fencing token, delete the hour's rows the run no longer has, commit (an hour the table
// holds no row of yet is COPYed straight in). A crash anywhere
// before COMMIT leaves the hour as the previous run wrote it; a retry of the same run changes nothing.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HOUR_MS, type RunText } from '@tandem/core';
import type { PoolClient } from 'pg';
import copyStreams from 'pg-copy-streams';
import { copyChunks, copyColumns, type RunStamp } from './copy-rows.ts';
import { HOURS_TABLE, ident, type TableLayout } from './table-layout.ts';

/** Points inside the transaction where tests may pause (and be killed). */
export type ExportStage = 'read' | 'claimed' | 'copied' | 'upserted' | 'deleted';

export interface HourTransactionResult {
  /** `exported`: this run's rows are now the hour's; otherwise the table already held this run or a newer one. */
  status: 'exported' | 'unchanged' | 'superseded';
  /** Rows inserted or updated, and rows of vanished dimension tuples deleted (0 unless exported). */
  upserted: number;
  deleted: number;
  /** The run the table holds for the hour afterwards. */
  heldRunId: string;
  heldToken: number;
}

const STAGE_TABLE = 'tandem_export_stage';

/**
 * Writes `text` (the complete sealed run `run` of `hour`, read with `run`'s trailer) into the
 * table. `force` lets the same fencing token write again (to repair rows changed by hand); a lower
 * token never writes.
 */
export async function exportHourInTransaction(
  client: PoolClient,
  layout: TableLayout,
  hour: number,
  text: RunText,
  run: RunStamp,
  options: { force: boolean; onStage: (stage: ExportStage) => Promise<void> },
): Promise<HourTransactionResult> {
  const hours = `${ident(layout.schema)}.${ident(HOURS_TABLE)}`;
  const newer = options.force ? '<=' : '<';
  await client.query('BEGIN');
  try {
    // The claim is the hour's lock: a concurrent exporter of the same hour waits here until this
    // transaction ends, then sees this run's token and writes only if its own is higher.
    const claimed = await client.query(
      `INSERT INTO ${hours} AS h
              (table_name, view, view_version, hour, run_id, fencing_token, pointer_version, row_count, exported_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
       ON CONFLICT (table_name, hour) DO UPDATE
          SET run_id = EXCLUDED.run_id, fencing_token = EXCLUDED.fencing_token,
              pointer_version = EXCLUDED.pointer_version, row_count = EXCLUDED.row_count,
              exported_at = EXCLUDED.exported_at
        WHERE h.fencing_token ${newer} EXCLUDED.fencing_token
       RETURNING 1`,
      [
        layout.table,
        layout.view.name,
        layout.view.version,
        new Date(hour),
        run.runId,
        run.fencingToken,
        run.pointerVersion,
        text.rows,
      ],
    );
    if (claimed.rowCount === 0) {
      const held = await client.query<{ run_id: string; fencing_token: string }>(
        `SELECT run_id, fencing_token FROM ${hours} WHERE table_name = $1 AND hour = $2`,
        [layout.table, new Date(hour)],
      );
      await client.query('ROLLBACK');
      const heldToken = Number(held.rows[0]?.fencing_token ?? 0);
      return {
        status: heldToken === run.fencingToken ? 'unchanged' : 'superseded',
        upserted: 0,
        deleted: 0,
        heldRunId: held.rows[0]?.run_id ?? '',
        heldToken,
      };
    }
    await options.onStage('claimed');

    const columns = copyColumns(layout, text);
    const columnList = columns.map(ident).join(', ');
    const encoded = () => Readable.from(copyChunks(layout, text));
    // An hour the table holds no row of has nothing to upsert against or delete: its rows are
    // COPYed straight into the table. No other writer can add rows of the hour meanwhile (they
    // wait on the claim above), and a conflict would fail the whole transaction, so the guarantees
    // are those of the staged path, at the cost of a plain COPY (the first export of every hour).
    const held = await client.query(
      `SELECT 1 FROM ${layout.qualified} WHERE bucket >= $1 AND bucket < $2 LIMIT 1`,
      [new Date(hour), new Date(hour + HOUR_MS)],
    );
    if (held.rowCount === 0) {
      const copy = client.query(copyStreams.from(`COPY ${layout.qualified} (${columnList}) FROM STDIN`));
      await pipeline(encoded(), copy);
      await options.onStage('copied');
      await options.onStage('upserted');
      await options.onStage('deleted');
      await client.query('COMMIT');
      return {
        status: 'exported',
        upserted: text.rows,
        deleted: 0,
        heldRunId: run.runId,
        heldToken: run.fencingToken,
      };
    }

    await client.query(`CREATE TEMPORARY TABLE ${STAGE_TABLE} (LIKE ${layout.qualified}) ON COMMIT DROP`);
    const copy = client.query(copyStreams.from(`COPY ${STAGE_TABLE} (${columnList}) FROM STDIN`));
    await pipeline(encoded(), copy);
    await options.onStage('copied');

    const updates = columns
      .filter((column) => !layout.keyColumns.includes(column))
      .map((column) => `${ident(column)} = EXCLUDED.${ident(column)}`)
      .join(', ');
    const upserted = await client.query(
      `INSERT INTO ${layout.qualified} AS t (${columnList}) SELECT ${columnList} FROM ${STAGE_TABLE}
       ON CONFLICT (${layout.keyColumns.map(ident).join(', ')}) DO UPDATE SET ${updates}
        WHERE t.fencing_token ${newer} EXCLUDED.fencing_token`,
    );
    await options.onStage('upserted');

    // Every row of the run now carries its token, so what is left of the hour with a lower one is
    // a dimension tuple the run no longer has.
    const deleted = await client.query(
      `DELETE FROM ${layout.qualified} WHERE bucket >= $1 AND bucket < $2 AND fencing_token < $3`,
      [new Date(hour), new Date(hour + HOUR_MS), run.fencingToken],
    );
    await options.onStage('deleted');
    await client.query('COMMIT');
    return {
      status: 'exported',
      upserted: upserted.rowCount ?? 0,
      deleted: deleted.rowCount ?? 0,
      heldRunId: run.runId,
      heldToken: run.fencingToken,
    };
  } catch (error) {
    // The error that stopped the transaction is the one to report; a failed ROLLBACK means the
    // connection is gone, and the caller discards it (the server has rolled back already).
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

// Creating a view version's table, and refusing one that was changed by hand: the exporter checks
// columns, types, nullability, the key and its own marker comment before its first write, because
// an upsert into a table of another shape would fail half-way or, worse, succeed with wrong columns.
import { TandemError } from '@tandem/core';
import type { PoolClient } from 'pg';
import {
  aliasSql,
  createTableSql,
  HOURS_TABLE,
  hoursTableSql,
  ident,
  TABLE_LAYOUT_VERSION,
  type TableLayout,
} from './table-layout.ts';

interface ColumnRow {
  attname: string;
  type: string;
  attnotnull: boolean;
}

interface KeyRow {
  contype: 'p' | 'u';
  nullsnotdistinct: boolean;
  columns: string[];
}

/** What differs between the table in the database and the one the view implies; empty when equal. */
export async function tableProblems(client: PoolClient, layout: TableLayout, oid: number): Promise<string[]> {
  const problems: string[] = [];
  const comment = await client.query<{ comment: string | null }>(
    `SELECT obj_description($1::oid, 'pg_class') AS comment`,
    [oid],
  );
  const marker = /^tandem export layout (\d+): view (\S+) version (\d+);/.exec(
    comment.rows[0]?.comment ?? '',
  );
  if (marker === null) {
    problems.push(
      'its comment does not mark it as a table Tandem created (was it created or re-commented by hand?)',
    );
  } else if (Number(marker[1]) !== TABLE_LAYOUT_VERSION) {
    problems.push(`it has table layout ${marker[1]}, this Tandem writes layout ${TABLE_LAYOUT_VERSION}`);
  } else if (marker[2] !== layout.view.name || Number(marker[3]) !== layout.view.version) {
    problems.push(`its comment says it holds view ${marker[2]} version ${marker[3]}`);
  }

  const columns = await client.query<ColumnRow>(
    `SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull
       FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [oid],
  );
  const actual = new Map(columns.rows.map((row) => [row.attname, row]));
  for (const expected of layout.columns) {
    const found = actual.get(expected.name);
    if (found === undefined) {
      problems.push(`column "${expected.name}" (${expected.type}) is missing`);
      continue;
    }
    if (found.type !== expected.type) {
      problems.push(`column "${expected.name}" is ${found.type}, expected ${expected.type}`);
    }
    if (found.attnotnull !== expected.notNull) {
      problems.push(
        `column "${expected.name}" is ${found.attnotnull ? 'NOT NULL' : 'nullable'}, expected ${expected.notNull ? 'NOT NULL' : 'nullable'}`,
      );
    }
  }
  const known = new Set(layout.columns.map((column) => column.name));
  for (const row of columns.rows) {
    if (!known.has(row.attname)) problems.push(`column "${row.attname}" was added`);
  }

  const keys = await client.query<KeyRow>(
    `SELECT c.contype, i.indnullsnotdistinct AS nullsnotdistinct,
            array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                   ORDER BY k.n)::text[] AS columns
       FROM pg_constraint c JOIN pg_index i ON i.indexrelid = c.conindid
      WHERE c.conrelid = $1::oid AND c.contype IN ('p', 'u')`,
    [oid],
  );
  const wantPrimary = layout.keyKind === 'primary key';
  const matching = keys.rows.some(
    (key) =>
      key.contype === (wantPrimary ? 'p' : 'u') &&
      (wantPrimary || key.nullsnotdistinct) &&
      key.columns.join(',') === layout.keyColumns.join(','),
  );
  if (!matching) {
    problems.push(`its key is not ${layout.keyKind.toUpperCase()} (${layout.keyColumns.join(', ')})`);
  }
  return problems;
}

/** The refusal for a table changed by hand, naming each difference and the two ways out. */
export function alteredError(layout: TableLayout, problems: string[]): TandemError {
  return new TandemError(
    'TANDEM_ERR_EXPORT_TABLE_ALTERED',
    `table ${layout.schema}.${layout.table} (view ${layout.view.name} version ${layout.view.version}) was altered by hand: ` +
      `${problems.join('; ')}. Tandem will not write into it; undo the change, or drop the table ` +
      `(Tandem creates it again and \`tandem export\` refills it)`,
    { details: { schema: layout.schema, table: layout.table, view: layout.view.name, problems } },
  );
}

/**
 * Creates the schema, the bookkeeping table and the view version's table when missing (one DDL
 * transaction under an advisory lock, so two exporters starting at once do not race), points the
 * alias view at it, and checks an existing table. A table created here starts with no hour records
 * (a table dropped by hand is refilled by the next export). Throws `TANDEM_ERR_EXPORT_TABLE_ALTERED`.
 */
export async function ensureTable(
  client: PoolClient,
  layout: TableLayout,
): Promise<{ outcome: 'created' | 'checked'; aliasProblem: string | null }> {
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('tandem export ddl'))`);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(layout.schema)}`);
    await client.query(hoursTableSql(layout.schema));
    const found = await client.query<{ oid: number | null; relkind: string | null }>(
      `SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2`,
      [layout.schema, layout.table],
    );
    let outcome: 'created' | 'checked';
    const existing = found.rows[0];
    if (existing === undefined) {
      for (const statement of createTableSql(layout)) await client.query(statement);
      await client.query(`DELETE FROM ${ident(layout.schema)}.${ident(HOURS_TABLE)} WHERE table_name = $1`, [
        layout.table,
      ]);
      outcome = 'created';
    } else {
      const problems =
        existing.relkind === 'r'
          ? await tableProblems(client, layout, existing.oid!)
          : [`it is not a table (relkind ${existing.relkind})`];
      if (problems.length > 0) throw alteredError(layout, problems);
      outcome = 'checked';
    }
    const aliasProblem = await pointAlias(client, layout);
    await client.query('COMMIT');
    return { outcome, aliasProblem };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/**
 * Points the alias view at this table unless it already does. An alias that can not be replaced
 * (an analyst's view depends on it, or a table has its name) is left as it is: the export itself
 * does not depend on it; the reason is returned for the caller to log.
 */
async function pointAlias(client: PoolClient, layout: TableLayout): Promise<string | null> {
  const current = await client.query<{ points: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
        WHERE r.ev_class = to_regclass($1) AND d.refobjid = to_regclass($2)
     ) AS points`,
    [layout.qualifiedAlias, layout.qualified],
  );
  if (current.rows[0]?.points === true) return null;
  await client.query('SAVEPOINT tandem_alias');
  try {
    for (const statement of aliasSql(layout)) await client.query(statement);
    await client.query('RELEASE SAVEPOINT tandem_alias');
    return null;
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT tandem_alias');
    return `the view ${layout.schema}.${layout.alias} could not be pointed at ${layout.table}: ${(error as Error).message}`;
  }
}

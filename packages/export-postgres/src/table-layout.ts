// The PostgreSQL table of one view version: its documented name, its columns with SQL types (the
// bucket, the dimensions, the finalized measures, and the run that produced each row), its key, and
// the DDL that creates it. Everything the exporter writes or checks about a table is derived here
// from the view definition alone, so two exporters always agree on it.
import { createHash } from 'node:crypto';
import {
  type Catalog,
  type FieldType,
  type Measure,
  quantileLabel,
  TandemError,
  type View,
} from '@tandem/core';

/** Bumped when the shape Tandem gives its tables changes; kept in each table's comment. */
export const TABLE_LAYOUT_VERSION = 1;

/** The bookkeeping table (one per schema): which run of which hour each table holds. */
export const HOURS_TABLE = 'tandem_export_hours';

/** The SQL types the exporter uses, spelled as `format_type()` prints them (what the check compares). */
export type SqlType = 'timestamp with time zone' | 'text' | 'bigint' | 'double precision' | 'jsonb';

export interface ColumnSpec {
  name: string;
  type: SqlType;
  notNull: boolean;
  role: 'bucket' | 'dimension' | 'measure' | 'run';
  /** What the column holds, as the table's column comment (read by BI tools' data dictionaries). */
  description: string;
}

/** Columns Tandem adds to every table besides dimensions and measures. */
export const RUN_COLUMNS = ['run_id', 'fencing_token', 'pointer_version'] as const;

export interface TableLayout {
  view: View;
  schema: string;
  /** `<view>_v<version>` (see `tableNameOf`). */
  table: string;
  /** `"schema"."table"`. */
  qualified: string;
  /** A SQL view named after the view alone, over the table of its current version. */
  alias: string;
  qualifiedAlias: string;
  columns: ColumnSpec[];
  /** bucket, then the dimensions: the primary key (or unique key when a dimension may be null). */
  keyColumns: string[];
  /** A primary key needs every key column NOT NULL; a dimension that may be null gets a unique key
   *  with NULLS NOT DISTINCT instead, which ON CONFLICT infers the same way. */
  keyKind: 'primary key' | 'unique nulls not distinct';
  keyName: string;
  /** Finalized measure values in column order: which measure, and which of its outputs. */
  measureColumns: Array<{ column: string; measure: Measure }>;
  /** The table comment: marks a table as Tandem's, with its layout version. */
  comment: string;
}

/** PostgreSQL truncates identifiers past 63 bytes; names are kept shorter than that, with room for `_key`. */
const MAX_TABLE_NAME = 59;

/**
 * The table name of a view version: `<view>_v<version>`, e.g. `endpoint_hourly_v1`. A name longer
 * than 59 bytes keeps the view name's first characters and adds 8 hex digits of its SHA-1, so it
 * stays unique and leaves room for the key constraint's `_key` suffix.
 */
export function tableNameOf(viewName: string, version: number): string {
  const suffix = `_v${version}`;
  const plain = `${viewName}${suffix}`;
  if (Buffer.byteLength(plain) <= MAX_TABLE_NAME) return plain;
  const hash = createHash('sha1').update(viewName).digest('hex').slice(0, 8);
  return `${viewName.slice(0, MAX_TABLE_NAME - suffix.length - hash.length - 1)}_${hash}${suffix}`;
}

/** A quoted SQL identifier (names come from view definitions; quoting keeps case and any keyword). */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A SQL string literal (only for names Tandem builds, as in comments). */
export function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function layoutError(view: View, message: string, details: Record<string, unknown> = {}): TandemError {
  return new TandemError(
    'TANDEM_ERR_VIEW_INVALID',
    `view "${view.name}" can not be exported to PostgreSQL: ${message}`,
    { details: { view: view.name, ...details } },
  );
}

function dimensionType(type: FieldType | undefined): SqlType {
  if (type === 'integer') return 'bigint';
  if (type === 'number') return 'double precision';
  return 'text';
}

/** SQL type, nullability and description of each finalized value of a measure. */
function measureSpecs(view: View, measure: Measure): ColumnSpec[] {
  const fieldType = measure.field === null ? undefined : view.measureSchema[measure.field];
  const of = measure.field === null ? 'events' : measure.field;
  const where = measure.where === null ? '' : ' (filtered)';
  const column = (type: SqlType, notNull: boolean, description: string): ColumnSpec[] => [
    { name: measure.name, type, notNull, role: 'measure', description: `${description}${where}` },
  ];
  switch (measure.kind) {
    case 'count':
      return column('bigint', true, `count of ${of}`);
    case 'sum':
      return column(fieldType === 'integer' ? 'bigint' : 'double precision', true, `sum of ${of}`);
    case 'min':
    case 'max':
      return column(
        fieldType === 'integer' ? 'bigint' : 'double precision',
        false,
        `${measure.kind} of ${of}; null when no value`,
      );
    case 'avg':
      return column('double precision', false, `mean of ${of}; null when no value`);
    case 'distinct':
      return column('bigint', true, `distinct ${of} (HyperLogLog estimate, p = 14)`);
    case 'topK':
      return column('jsonb', true, `top ${measure.k} ${of} as [{"key", "count"}], largest first`);
    case 'quantiles':
      return measure.outputs.map((output, index) => ({
        name: output,
        type: 'double precision',
        notNull: false,
        role: 'measure',
        description: `p${quantileLabel(measure.qs[index]!)} of ${of} (DDSketch, 1% relative error)${where}; null when no value`,
      }));
  }
}

/** Whether a stream field can never be null in a normalized event (required and not nullable). */
function neverNull(catalog: Catalog, view: View, field: string): boolean {
  const spec = catalog.stream(view.stream).fields.find((candidate) => candidate.name === field);
  return spec?.required === true && !spec.nullable;
}

/** The table of a view version in `schema`; throws `TANDEM_ERR_VIEW_INVALID` when a name does not fit. */
export function tableLayoutOf(catalog: Catalog, view: View, schema: string): TableLayout {
  const table = tableNameOf(view.name, view.version);
  const columns: ColumnSpec[] = [
    { name: 'bucket', type: 'timestamp with time zone', notNull: true, role: 'bucket', description: '' },
  ];
  columns[0]!.description = `start of the ${view.bucket} bucket (UTC)`;
  for (const dimension of view.dimensions) {
    columns.push({
      name: dimension,
      type: dimensionType(view.eventSchema[dimension]),
      notNull: neverNull(catalog, view, dimension),
      role: 'dimension',
      description: `dimension: the event's ${dimension}`,
    });
  }
  const measureColumns: TableLayout['measureColumns'] = [];
  for (const measure of Object.values(view.measures)) {
    for (const spec of measureSpecs(view, measure)) {
      columns.push(spec);
      measureColumns.push({ column: spec.name, measure });
    }
  }
  columns.push(
    {
      name: 'run_id',
      type: 'text',
      notNull: true,
      role: 'run',
      description: 'batch run that computed the row',
    },
    {
      name: 'fencing_token',
      type: 'bigint',
      notNull: true,
      role: 'run',
      description:
        "the run's fencing token: grows with every publish of the hour; a row is only replaced by a higher one",
    },
    {
      name: 'pointer_version',
      type: 'text',
      notNull: true,
      role: 'run',
      description: "version (etag) of the hour's batch pointer that named the run",
    },
  );
  const seen = new Set<string>();
  for (const column of columns) {
    if (seen.has(column.name)) {
      throw layoutError(
        view,
        `two columns would be named "${column.name}" (a dimension or measure may not be named bucket, run_id, fencing_token or pointer_version, nor repeat another's name)`,
        { column: column.name },
      );
    }
    if (Buffer.byteLength(column.name) > 63) {
      throw layoutError(view, `column "${column.name}" is longer than PostgreSQL's 63-byte identifiers`, {
        column: column.name,
      });
    }
    seen.add(column.name);
  }
  const keyColumns = ['bucket', ...view.dimensions];
  const keyKind = columns.filter((column) => column.role === 'dimension').every((column) => column.notNull)
    ? 'primary key'
    : 'unique nulls not distinct';
  return {
    view,
    schema,
    table,
    qualified: `${ident(schema)}.${ident(table)}`,
    alias: view.name,
    qualifiedAlias: `${ident(schema)}.${ident(view.name)}`,
    columns,
    keyColumns,
    keyKind,
    keyName: `${table}_key`,
    measureColumns,
    comment: `tandem export layout ${TABLE_LAYOUT_VERSION}: view ${view.name} version ${view.version}; written by Tandem's exporter, do not alter by hand`,
  };
}

/** The statements that create the table, its comments and its stable alias view. */
export function createTableSql(layout: TableLayout): string[] {
  const columns = layout.columns.map(
    (column) => `  ${ident(column.name)} ${column.type}${column.notNull ? ' NOT NULL' : ''}`,
  );
  const key = `  CONSTRAINT ${ident(layout.keyName)} ${layout.keyKind.toUpperCase()} (${layout.keyColumns.map(ident).join(', ')})`;
  return [
    `CREATE TABLE ${layout.qualified} (\n${[...columns, key].join(',\n')}\n)`,
    `COMMENT ON TABLE ${layout.qualified} IS ${literal(layout.comment)}`,
    ...layout.columns.map(
      (column) =>
        `COMMENT ON COLUMN ${layout.qualified}.${ident(column.name)} IS ${literal(column.description)}`,
    ),
  ];
}

/**
 * The stable name BI tools query: a SQL view named after the Tandem view, over the table of its
 * current version. Dropped and created again (not replaced) because a new version may change columns.
 */
export function aliasSql(layout: TableLayout): string[] {
  return [
    `DROP VIEW IF EXISTS ${layout.qualifiedAlias}`,
    `CREATE VIEW ${layout.qualifiedAlias} AS SELECT * FROM ${layout.qualified}`,
    `COMMENT ON VIEW ${layout.qualifiedAlias} IS ${literal(`Tandem view ${layout.view.name}: its current version, table ${layout.table}`)}`,
  ];
}

/** The bookkeeping table: one row per (table, hour) exported, written in the hour's own transaction. */
export function hoursTableSql(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS ${ident(schema)}.${ident(HOURS_TABLE)} (
  table_name text NOT NULL,
  view text NOT NULL,
  view_version integer NOT NULL,
  hour timestamp with time zone NOT NULL,
  run_id text NOT NULL,
  fencing_token bigint NOT NULL,
  pointer_version text NOT NULL,
  row_count bigint NOT NULL,
  exported_at timestamp with time zone NOT NULL,
  CONSTRAINT ${ident(`${HOURS_TABLE}_key`)} PRIMARY KEY (table_name, hour)
)`;
}

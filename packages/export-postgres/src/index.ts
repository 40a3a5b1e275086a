// Public face of @tandem/export-postgres: the exporter of sealed batch views into PostgreSQL tables
// (one per view version), its options, and the table layout (names, columns) that docs and status
// pages show. Left out on purpose: the hour transaction, COPY encoding and table check (used only
// through the exporter, which holds the connection and the retries).
export type { ColumnSpec, SqlType, TableLayout } from './table-layout.ts';
export {
  HOURS_TABLE,
  RUN_COLUMNS,
  TABLE_LAYOUT_VERSION,
  tableLayoutOf,
  tableNameOf,
} from './table-layout.ts';
export type { ExportOptions } from './options.ts';
export { defaultExportOptions, exportOptionsFromConfig, redactUrl, resolveExportOptions } from './options.ts';
export type {
  ExportHooks,
  ExportRangeOptions,
  ExportViewStatus,
  HourExportOutcome,
  HourExportStatus,
  PostgresExporterInit,
  SealedViewSource,
} from './exporter.ts';
export { PostgresExporter } from './exporter.ts';
export type { ExportStage } from './hour-transaction.ts';

// Export test fixtures on the real stack: a batch layer over a fresh lake and Redis prefix (the batch
// package's own test fixtures), a PostgreSQL schema of the test's own on the stack's PostgreSQL, the
// exporters the test opens, and the truth an exported table must equal: the sealed batch view's
// rows, read through the batch reader and finalized with core's finalizeStates.
import { randomUUID } from 'node:crypto';
import type { BatchLayer } from '@tandem/batch';
import {
  builtinCatalog,
  createCatalog,
  defineView,
  finalizeStates,
  HOUR_MS,
  type TimeRange,
  type View,
  webStream,
} from '@tandem/core';
import pg from 'pg';
import { pino } from 'pino';
import { createTestEnv, type TestEnv } from '../../../batch/test/support/fixtures.ts';
import type { LakeKind } from '@tandem/test-support/lake.ts';
import { PostgresExporter, type PostgresExporterInit } from '../../src/index.ts';

/** The stack's PostgreSQL (`TANDEM_STACK_POSTGRES=1 scripts/stack up`), or the one EXPORT_POSTGRES_URL names. */
export const postgresUrl =
  process.env.EXPORT_POSTGRES_URL ?? 'postgres://tandem:tandem@127.0.0.1:5432/tandem';

export const quietLogger = pino({ level: process.env.TANDEM_TEST_LOG ?? 'silent' });

/**
 * A view beside the built-in ones that exercises what they do not: a nullable text dimension
 * (user_id, so a unique key with NULLS NOT DISTINCT), an integer dimension, 1-minute buckets (many
 * rows per hour, and tuples that vanish when the input changes), and integer and double measures.
 */
export const userMinutes: View = defineView(
  {
    name: 'user_minutes',
    bucket: '1m',
    dimensions: ['user_id', 'status_code'],
    measures: {
      requests: { kind: 'count' },
      bytes: { kind: 'sum', field: 'bytes_sent' },
      fastest_ms: { kind: 'min', field: 'response_time_ms' },
      slowest_ms: { kind: 'max', field: 'response_time_ms' },
      latency_sum_ms: { kind: 'sum', field: 'response_time_ms' },
    },
  },
  webStream,
);

/** The built-in views and `user_minutes`. */
export const testCatalog = createCatalog([webStream], [...builtinCatalog().views, userMinutes]);

export interface ExportEnv {
  batch: TestEnv;
  layer: BatchLayer;
  schema: string;
  /** For assertions: a pool of the test's own. */
  admin: pg.Pool;
  /** An exporter over the test's layer and schema (closed by teardown). */
  exporter(init?: Partial<PostgresExporterInit>): PostgresExporter;
  teardown(): Promise<void>;
}

export async function createExportEnv(kind: LakeKind): Promise<ExportEnv> {
  const batch = await createTestEnv(kind);
  const layer = await batch.open({ catalog: testCatalog });
  const schema = `test_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
  const admin = new pg.Pool({ connectionString: postgresUrl, max: 2 });
  const exporters: PostgresExporter[] = [];
  return {
    batch,
    layer,
    schema,
    admin,
    exporter: (init = {}) => {
      const exporter = new PostgresExporter({
        url: postgresUrl,
        schema,
        catalog: testCatalog,
        source: layer.reader,
        logger: quietLogger,
        retryBaseMs: 20,
        retryMaxMs: 200,
        ...init,
      });
      exporters.push(exporter);
      return exporter;
    },
    teardown: async () => {
      const errors: unknown[] = [];
      for (const exporter of exporters) await exporter.close().catch((error) => errors.push(error));
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch((error) => errors.push(error));
      await admin.end().catch((error) => errors.push(error));
      await batch.teardown().catch((error) => errors.push(error));
      if (errors.length > 0) throw new AggregateError(errors, 'export test teardown failed');
    },
  };
}

/** One row as a table should hold it: key text → column → value. */
export type TableRows = Map<string, Record<string, unknown>>;

function keyOf(bucket: number, dims: ReadonlyArray<unknown>): string {
  return JSON.stringify([new Date(bucket).toISOString(), ...dims]);
}

/**
 * The sealed batch view over `range` as an exported table must hold it: one entry per (bucket,
 * dimensions), each finalized measure, and the run id, fencing token and pointer version of its hour.
 */
export async function sealedTruth(layer: BatchLayer, viewName: string, range: TimeRange): Promise<TableRows> {
  const view = layer.catalog.view(viewName);
  layer.reader.invalidate();
  const pointers = await layer.reader.pointersIn(viewName, range);
  const rows: TableRows = new Map();
  for (const { info, pointer } of pointers) {
    const partials = await layer.reader.readPartials(
      viewName,
      [{ hour: pointer.hour, runId: pointer.runId, pointerVersion: info.etag }],
      {},
    );
    for (const row of partials) {
      const finished = finalizeStates(view, row.states);
      const record: Record<string, unknown> = { bucket: row.bucket };
      view.dimensions.forEach((dimension, index) => {
        record[dimension] = row.dims[index] ?? null;
      });
      for (const [name, value] of Object.entries(finished)) record[name] = value ?? null;
      record.run_id = pointer.runId;
      record.fencing_token = pointer.fencingToken;
      record.pointer_version = info.etag;
      rows.set(keyOf(row.bucket, row.dims), record);
    }
  }
  return rows;
}

/** The rows of a view's table in `range`, decoded to the same shapes as `sealedTruth`. */
export async function tableRows(env: ExportEnv, viewName: string, range: TimeRange): Promise<TableRows> {
  const view = env.layer.catalog.view(viewName);
  const table = `"${env.schema}"."${viewName}_v${view.version}"`;
  const result = await env.admin.query<Record<string, unknown>>(
    `SELECT * FROM ${table} WHERE bucket >= $1 AND bucket < $2`,
    [new Date(range.from), new Date(range.to)],
  );
  const intColumns = new Set(
    result.fields.filter((field) => field.dataTypeID === 20).map((field) => field.name),
  );
  const rows: TableRows = new Map();
  for (const raw of result.rows) {
    const record: Record<string, unknown> = {};
    for (const [column, value] of Object.entries(raw)) {
      if (value instanceof Date) record[column] = value.getTime();
      else if (intColumns.has(column) && value !== null) record[column] = Number(value);
      else record[column] = value;
    }
    rows.set(
      keyOf(
        record.bucket as number,
        view.dimensions.map((d) => record[d]),
      ),
      record,
    );
  }
  return rows;
}

/** Hours [first, first + count) as a range. */
export function hoursRange(first: number, count: number): TimeRange {
  return { from: first, to: first + count * HOUR_MS };
}

// One in-process DuckDB per test file, with helpers to load events / lines and run compiled SQL.
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { eventFields, eventSqlTypes } from '../../src/fields.ts';
import type { SqlParams } from '../../src/sql.ts';
import type { TandemEvent } from '../../src/types.ts';

export interface TestDuck {
  connection: DuckDBConnection;
  loadEvents(table: string, events: readonly TandemEvent[]): Promise<void>;
  loadLines(table: string, lines: readonly string[]): Promise<void>;
  rows(sql: string, params?: SqlParams): Promise<Record<string, unknown>[]>;
  close(): void;
}

/**
 * Creates (or replaces) `table` with the event columns and appends `events`; shared by the parity
 * tests and `scripts/bench/core`, so both engines are always fed the same typed rows.
 */
export async function loadEventsTable(
  connection: DuckDBConnection,
  table: string,
  events: readonly TandemEvent[],
): Promise<void> {
  const columns = eventFields.map((f) => `"${f}" ${eventSqlTypes[f]}`).join(', ');
  await connection.run(`CREATE OR REPLACE TABLE ${table} (${columns})`);
  const appender = await connection.createAppender(table);
  for (const e of events) {
    appender.appendVarchar(e.event_id);
    appender.appendBigInt(BigInt(e.timestamp));
    appender.appendVarchar(e.endpoint);
    appender.appendVarchar(e.method);
    appender.appendInteger(e.status_code);
    appender.appendDouble(e.response_time_ms);
    if (e.bytes_sent === null) appender.appendNull();
    else appender.appendBigInt(BigInt(e.bytes_sent));
    for (const v of [e.user_id, e.session_id, e.page_id]) {
      if (v === null) appender.appendNull();
      else appender.appendVarchar(v);
    }
    appender.endRow();
  }
  appender.closeSync();
}

export async function openTestDuck(): Promise<TestDuck> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await instance.connect();
  return {
    connection,
    async loadEvents(table, events) {
      await loadEventsTable(connection, table, events);
    },
    async loadLines(table, lines) {
      await connection.run(`CREATE OR REPLACE TABLE ${table} (line VARCHAR)`);
      const appender = await connection.createAppender(table);
      for (const line of lines) {
        appender.appendVarchar(line);
        appender.endRow();
      }
      appender.closeSync();
    },
    async rows(sql, params) {
      const reader = await connection.runAndReadAll(sql, params);
      return reader.getRowObjectsJS() as Record<string, unknown>[];
    },
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

// The field allow-lists: which fields events and sessions have, their value types and their SQL
// column types. Every identifier the SQL compilers emit comes from these lists.
import type { EventField } from './types.ts';

/** Value type of a field: strings, integers (exact in a double), finite doubles or booleans. */
export type FieldType = 'string' | 'integer' | 'number' | 'boolean';

/** A set of fields a view can filter on, group by or measure, with their types. */
export type FieldSchema = Readonly<Record<string, FieldType>>;

/** Fields of a validated `TandemEvent`, in validation order. */
export const eventFields: readonly EventField[] = [
  'event_id',
  'timestamp',
  'endpoint',
  'method',
  'status_code',
  'response_time_ms',
  'bytes_sent',
  'user_id',
  'session_id',
  'page_id',
];

/** Value type of each event field (the schema allow-list of filters, dimensions and measures). */
export const eventFieldTypes: Readonly<Record<EventField, FieldType>> = {
  event_id: 'string',
  timestamp: 'integer',
  endpoint: 'string',
  method: 'string',
  status_code: 'integer',
  response_time_ms: 'number',
  bytes_sent: 'integer',
  user_id: 'string',
  session_id: 'string',
  page_id: 'string',
};

/** DuckDB column types of the events relation the compiled SQL reads. */
export const eventSqlTypes: Readonly<Record<EventField, string>> = {
  event_id: 'VARCHAR',
  timestamp: 'BIGINT',
  endpoint: 'VARCHAR',
  method: 'VARCHAR',
  status_code: 'INTEGER',
  response_time_ms: 'DOUBLE',
  bytes_sent: 'BIGINT',
  user_id: 'VARCHAR',
  session_id: 'VARCHAR',
  page_id: 'VARCHAR',
};

/** Fields of a closed session (see the sessionizer); measures of sessionized views read these. */
export interface SessionRecord {
  /** The sessionize key (user_id for the built-in view). */
  user_id: string;
  /** First and last event time (epoch ms). */
  start: number;
  end: number;
  /** end - start. */
  duration_ms: number;
  /** Events in the session. */
  events: number;
  /** Events with a non-null page_id. */
  page_views: number;
  /** Distinct non-null page_id values. */
  unique_pages: number;
  /** 1 when the session has exactly one event, else 0. */
  bounce: number;
}

export type SessionField = keyof SessionRecord;

/** Value type of each session field (what measures of sessionized views may read). */
export const sessionFieldTypes: Readonly<Record<SessionField, FieldType>> = {
  user_id: 'string',
  start: 'integer',
  end: 'integer',
  duration_ms: 'integer',
  events: 'integer',
  page_views: 'integer',
  unique_pages: 'integer',
  bounce: 'integer',
};

/** Whether a schema has the field (own property: `__proto__` is not a field). */
export function hasField(schema: FieldSchema, name: string): boolean {
  return Object.hasOwn(schema, name);
}

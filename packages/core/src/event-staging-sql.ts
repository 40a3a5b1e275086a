// The web stream's staging SQL under its first name: a thin wrapper over the query compiled from
// webStream's schema (stream-staging-sql.ts). New code compiles `compileStreamStagingSql(stream, …)`;
// this stays while callers move to the stream API.
import { eventFields, eventSqlTypes } from './fields.ts';
import { type CompiledSql, quoteIdent } from './sql.ts';
import { compileStreamStagingSql, type StreamStagingSqlOptions } from './stream-staging-sql.ts';
import { webStream } from './web-stream.ts';

/** Input relation and the validation limits of the staging query (same as parseEvent's). */
export type EventStagingSqlOptions = StreamStagingSqlOptions;

/**
 * Compiles the web stream's staging query: from `linesRelation(line)` to the TandemEvent columns
 * (NULL when the line is rejected; typed as `eventSqlTypes`) plus `error_code`, `error_field`,
 * `error_rule` (NULL when valid), `line` and `canonical`. Verdicts equal `parseEvent(line, { now: ()
 * => nowMs, futureToleranceMs, maxBytes })`; `message` can be rebuilt with
 * `describeRejection(error_field, error_rule)`. See `compileStreamStagingSql`.
 */
export function compileEventStagingSql(options: EventStagingSqlOptions): CompiledSql {
  const { sql, params } = compileStreamStagingSql(webStream, options);
  // The web columns keep their first types (status_code INTEGER, where a stream integer is BIGINT).
  const recast = eventFields
    .filter((field) => eventSqlTypes[field] !== webStream.sqlTypes[field])
    .map((field) => `CAST(${quoteIdent(field)} AS ${eventSqlTypes[field]}) AS ${quoteIdent(field)}`);
  return recast.length === 0
    ? { sql, params }
    : { sql: `SELECT * REPLACE (${recast.join(', ')}) FROM (${sql})`, params };
}

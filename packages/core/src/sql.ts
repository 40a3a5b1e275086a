// Quoting and parameter helpers for the SQL compilers: identifiers only from allow-lists and
// always quoted, values only as named parameters (`$p1`, `$p2`, ... bound from `params`).
import { TandemError } from './errors.ts';

/**
 * Named parameters of a compiled statement: `{ p1: 'x', p2: '200' }` binds `$p1`, `$p2`. Every
 * value is a string and the SQL casts it to its type: DuckDB's node-api would bind an
 * integer-valued JS number as BIGINT (and fail on 1e300), and JS's shortest round-trip number
 * text parses back to the exact same double in DuckDB.
 */
export type SqlParams = Record<string, string>;

/** A compiled statement. Bind `params` by name (DuckDB node-api: `connection.run(sql, params)`). */
export interface CompiledSql {
  sql: string;
  params: SqlParams;
}

/** Quotes an identifier for DuckDB. Callers pass only names from an allow-list. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Adds a value as the next parameter and returns its typed placeholder. */
export function sqlParam(params: SqlParams, value: string | number, sqlType?: 'BIGINT'): string {
  const name = `p${Object.keys(params).length + 1}`;
  params[name] = typeof value === 'string' ? value : String(value);
  const type = sqlType ?? (typeof value === 'string' ? 'VARCHAR' : 'DOUBLE');
  return `CAST($${name} AS ${type})`;
}

/** An exact DOUBLE literal for a constant the compiler itself chose (never user input). */
export function sqlDouble(value: number): string {
  if (!Number.isFinite(value))
    throw new TandemError('TANDEM_ERR_INTERNAL', `not a finite SQL constant: ${value}`);
  return `CAST('${String(value)}' AS DOUBLE)`;
}

/** An integer literal for a constant the compiler itself chose (never user input). */
export function sqlInteger(value: number): string {
  if (!Number.isSafeInteger(value))
    throw new TandemError('TANDEM_ERR_INTERNAL', `not a safe integer SQL constant: ${value}`);
  return String(value);
}

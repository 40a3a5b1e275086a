// The exporter's one options object: where PostgreSQL is, which schema the tables live in, how hard
// to retry, validated once at construction. The URL comes from `EXPORT_POSTGRES_URL` through core's
// loadConfig; everything else has a default.
import { TandemError, type TandemConfig } from '@tandem/core';

export interface ExportOptions {
  /** `postgres://user:password@host:5432/db` (EXPORT_POSTGRES_URL). */
  url: string;
  /**
   * The schema that holds the exported tables and the bookkeeping table (created when missing).
   * @defaultValue 'tandem' (EXPORT_POSTGRES_SCHEMA)
   */
  schema: string;
  /** Connections kept open; one hour holds one connection for its transaction. @defaultValue 2 */
  poolSize: number;
  /** How long to wait for a connection before calling PostgreSQL unreachable. @defaultValue 10000 */
  connectTimeoutMs: number;
  /** Attempts per hour for retryable failures (unreachable, serialization, a run file GC'd). @defaultValue 5 */
  maxAttempts: number;
  /** First retry delay; doubles per attempt, with jitter, up to `retryMaxMs`. @defaultValue 500 */
  retryBaseMs: number;
  /** Longest wait between two attempts. @defaultValue 30000 */
  retryMaxMs: number;
  /** Rows encoded per chunk written to COPY (bounds the memory of one write). @defaultValue 2000 */
  copyChunkRows: number;
  /**
   * Hours `exportRange` reads ahead of the one it writes, each read a DuckDB query of its own (on
   * the batch engine's threads), so reading overlaps COPY; one hour's text is held per hour read
   * ahead. 0 reads each hour when it is written. On two cores 1 beat 0 (the bench's export 17 s
   * against 21 s) and 2 measured no better than 1; more may pay with more cores. @defaultValue 1
   */
  readAheadHours: number;
}

export const defaultExportOptions: Omit<ExportOptions, 'url'> = {
  schema: 'tandem',
  poolSize: 2,
  connectTimeoutMs: 10_000,
  maxAttempts: 5,
  retryBaseMs: 500,
  retryMaxMs: 30_000,
  copyChunkRows: 2000,
  readAheadHours: 1,
};

/** Lower-case identifiers only: they need no quoting in a BI tool's SQL, and never change case. */
const schemaPattern = /^[a-z_][a-z0-9_]{0,62}$/;

function invalid(name: string, message: string): TandemError {
  return new TandemError('TANDEM_ERR_CONFIG_INVALID', `export option ${name}: ${message}`, {
    details: { option: name },
  });
}

/** Merges the defaults and checks every knob once; throws `TANDEM_ERR_CONFIG_INVALID` naming the option. */
export function resolveExportOptions(options: Partial<ExportOptions> & { url: string }): ExportOptions {
  const resolved: ExportOptions = { ...defaultExportOptions, ...options };
  if (!/^postgres(ql)?:\/\//.test(resolved.url)) {
    throw new TandemError(
      'TANDEM_ERR_CONFIG_INVALID',
      `EXPORT_POSTGRES_URL "${redactUrl(resolved.url)}" is not a PostgreSQL URL; use postgres://user:password@host:5432/database`,
      { details: { variable: 'EXPORT_POSTGRES_URL' } },
    );
  }
  if (!schemaPattern.test(resolved.schema)) {
    throw invalid('schema', `"${resolved.schema}" must be lower-case letters, digits and _ (max 63)`);
  }
  const positive: Array<keyof ExportOptions> = [
    'poolSize',
    'connectTimeoutMs',
    'maxAttempts',
    'retryBaseMs',
    'retryMaxMs',
    'copyChunkRows',
  ];
  for (const name of positive) {
    const value = resolved[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw invalid(name, `must be a positive integer, got ${JSON.stringify(value)}`);
    }
  }
  const { readAheadHours } = resolved;
  if (!Number.isInteger(readAheadHours) || readAheadHours < 0 || readAheadHours > 24) {
    throw invalid('readAheadHours', `must be an integer from 0 to 24, got ${JSON.stringify(readAheadHours)}`);
  }
  return resolved;
}

/** The options the deployment's config names, or null when no database is configured (export off). */
export function exportOptionsFromConfig(
  config: TandemConfig,
): (Partial<ExportOptions> & { url: string }) | null {
  const { url, schema } = config.exportPostgres;
  return url === null ? null : { url, schema };
}

/** The URL with its password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

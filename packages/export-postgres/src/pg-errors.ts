// What a failure talking to PostgreSQL means for the operator and for the retry loop: unreachable
// (retry later), credentials refused (fix the URL), a transient conflict (retry now), or a problem
// with the table or data (a coded error naming it). Classified by SQLSTATE and socket error codes.
import { isTandemError, serviceUnavailable, TandemError } from '@tandem/core';
import { redactUrl } from './options.ts';

/** SQLSTATE of an error from the server, if it is one. */
export function sqlState(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

const socketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

function isConnectionFailure(error: unknown): boolean {
  if (error instanceof AggregateError && error.errors.some(isConnectionFailure)) return true;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && socketCodes.has(code)) return true;
  const state = sqlState(error);
  // 08: connection exception; 57P01-03: the server shuts down or is starting up.
  if (state !== null && (state.startsWith('08') || /^57P0[123]$/.test(state))) return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|connection timeout|timeout expired|Client has encountered a connection error/i.test(
    message,
  );
}

/** SQLSTATEs worth retrying at once: serialization failure, deadlock, lock timeout, out of resources. */
function isTransient(state: string): boolean {
  return state === '40001' || state === '40P01' || state === '55P03' || state.startsWith('53');
}

/**
 * A coded error for a failure of `what` (e.g. "exporting endpoint_hourly 2025-01-31T14:00Z"):
 * `TANDEM_ERR_SERVICE_UNAVAILABLE` (retryable) when PostgreSQL can not be reached,
 * `TANDEM_ERR_EXPORT_AUTH` when it refuses the credentials or the database does not exist, else
 * `TANDEM_ERR_EXPORT_FAILED` (retryable only for transient conflicts). Tandem errors pass through.
 */
export function exportError(error: unknown, url: string, what: string): TandemError {
  if (isTandemError(error)) return error;
  const shownUrl = redactUrl(url);
  if (isConnectionFailure(error)) return serviceUnavailable('PostgreSQL', shownUrl, error);
  const state = sqlState(error);
  const message = error instanceof Error ? error.message : String(error);
  if (state !== null && (state.startsWith('28') || state === '3D000')) {
    const why =
      state === '3D000'
        ? `the database does not exist (${message})`
        : `it refused the credentials (${message})`;
    return new TandemError(
      'TANDEM_ERR_EXPORT_AUTH',
      `PostgreSQL at ${shownUrl} can not be used for the export: ${why}; fix the user, password or database in EXPORT_POSTGRES_URL`,
      { cause: error, details: { service: 'PostgreSQL', url: shownUrl, sqlState: state } },
    );
  }
  if (state === '42501') {
    return new TandemError(
      'TANDEM_ERR_EXPORT_AUTH',
      `${what}: the PostgreSQL user of EXPORT_POSTGRES_URL lacks a privilege (${message}); grant it CREATE on the database and the export schema`,
      { cause: error, details: { service: 'PostgreSQL', url: shownUrl, sqlState: state } },
    );
  }
  return new TandemError('TANDEM_ERR_EXPORT_FAILED', `${what} failed: ${message}`, {
    cause: error,
    retryable: state !== null && isTransient(state),
    details: { url: shownUrl, sqlState: state },
  });
}

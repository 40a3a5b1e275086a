// Usage errors: a wrong command, flag or value. They exit with code 2 and print the command's usage.
import { TandemError } from '@tandem/core';

/** A usage error that names what was wrong and what is accepted. */
export function usageError(message: string, details: Record<string, unknown> = {}): TandemError {
  return new TandemError('TANDEM_ERR_USAGE', message, { details });
}

export function isUsageError(error: unknown): error is TandemError {
  return error instanceof TandemError && error.code === 'TANDEM_ERR_USAGE';
}

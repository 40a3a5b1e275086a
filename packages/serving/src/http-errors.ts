// The one place where errors become HTTP responses: core error codes map to status codes here,
// and schema-validation failures become a 400 that names the parameter and the broken rule.
import { type ErrorCode, isTandemError, TandemError } from '@tandem/core';
import { timeInputPattern, timeInputRule } from './routes/schemas.ts';

/** The code of a rejected rate (raised only at the HTTP edge, but kept in core's one catalog). */
export const RATE_LIMITED_CODE: ErrorCode = 'TANDEM_ERR_RATE_LIMITED';

/** Status per core error code; any code not listed is a 500. */
export const statusByCode: Partial<Record<ErrorCode, number>> = {
  TANDEM_ERR_QUERY_INVALID: 400,
  TANDEM_ERR_QUERY_TOO_LARGE: 400,
  TANDEM_ERR_VIEW_FIELD_UNKNOWN: 400,
  TANDEM_ERR_VIEW_OPERATOR_UNKNOWN: 400,
  TANDEM_ERR_USAGE: 400,
  TANDEM_ERR_AUTH_MISSING: 401,
  TANDEM_ERR_AUTH_FORBIDDEN: 403,
  TANDEM_ERR_VIEW_UNKNOWN: 404,
  TANDEM_ERR_NOT_FOUND: 404,
  TANDEM_ERR_SERVICE_UNAVAILABLE: 503,
  TANDEM_ERR_LAKE_IO: 503,
};

/** The JSON error body every route answers with. */
export interface ErrorBody {
  error: { code: string; message: string; parameter?: string; requestId?: string };
}

export function queryInvalid(parameter: string, message: string): TandemError {
  return new TandemError('TANDEM_ERR_QUERY_INVALID', message, { details: { parameter } });
}

export function queryTooLarge(parameter: string, message: string): TandemError {
  return new TandemError('TANDEM_ERR_QUERY_TOO_LARGE', message, { details: { parameter } });
}

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** Messages for our custom formats, so a 400 says what is accepted instead of a format name. */
const formatMessages: Record<string, string> = {
  'tandem-time': timeInputRule,
};

/** Turns the first ajv error of a failed validation into the 400 body's message and parameter. */
export function describeValidationError(
  context: string,
  errors: AjvError[],
): { message: string; parameter: string } {
  const first = errors[0];
  if (first === undefined) return { message: `${context} is invalid`, parameter: context };
  const path = first.instancePath.replace(/^\//, '');
  if (first.keyword === 'additionalProperties') {
    const extra = String(first.params.additionalProperty);
    const name = path === '' ? extra : `${path}/${extra}`;
    return { message: `${context}/${name} is not an accepted parameter`, parameter: name };
  }
  if (first.keyword === 'required') {
    const missing = String(first.params.missingProperty);
    const name = path === '' ? missing : `${path}/${missing}`;
    return { message: `${context}/${name} is required`, parameter: name };
  }
  const parameter = path === '' ? context : (path.split('/')[0] ?? path);
  let rule = first.message ?? 'is invalid';
  if (first.keyword === 'format') rule = formatMessages[String(first.params.format)] ?? rule;
  if (first.keyword === 'pattern' && first.params.pattern === timeInputPattern) {
    rule = formatMessages['tandem-time']!;
  }
  if (first.keyword === 'enum' && Array.isArray(first.params.allowedValues)) {
    rule = `must be one of ${(first.params.allowedValues as unknown[]).join(', ')}`;
  }
  return { message: `${context}${path === '' ? '' : `/${path}`} ${rule}`, parameter };
}

interface HttpishError {
  statusCode?: number;
  code?: string;
  message?: string;
  validation?: AjvError[];
  validationContext?: string;
}

/**
 * The message of a 5xx body. A thrown message may hold file paths, endpoints, keys or a driver's
 * words, so none is ever sent: the body says which service failed when the error names it as a
 * plain word (`batch`, `speed`, `redis`, ...), and the error handler logs the whole error under the
 * request id the body carries.
 */
function serverErrorMessage(status: number, service: unknown): string {
  const details = 'the server log has the details under this requestId';
  if (status !== 503) return `internal error; ${details}`;
  const named = typeof service === 'string' && /^[a-z][a-z0-9_-]{0,31}$/.test(service);
  return `${named ? `the ${service} service` : 'a service this request needs'} is unavailable; retry later (${details})`;
}

/** Maps any thrown value to a status and body. 5xx bodies never echo a thrown message. */
export function toHttpError(error: unknown): { status: number; body: ErrorBody; retryAfter?: number } {
  if (isTandemError(error)) {
    const status = statusByCode[error.code] ?? 500;
    const parameter = typeof error.details.parameter === 'string' ? error.details.parameter : undefined;
    const service = error.code === 'TANDEM_ERR_LAKE_IO' ? 'lake' : error.details.service;
    const message = status >= 500 ? serverErrorMessage(status, service) : error.message;
    return {
      status,
      body: { error: { code: error.code, message, ...(parameter === undefined ? {} : { parameter }) } },
    };
  }
  const httpish = (typeof error === 'object' && error !== null ? error : {}) as HttpishError;
  if (Array.isArray(httpish.validation)) {
    const { message, parameter } = describeValidationError(
      httpish.validationContext ?? 'request',
      httpish.validation,
    );
    return { status: 400, body: { error: { code: 'TANDEM_ERR_QUERY_INVALID', message, parameter } } };
  }
  if (httpish.code === RATE_LIMITED_CODE) {
    return {
      status: 429,
      body: { error: { code: RATE_LIMITED_CODE, message: httpish.message ?? 'rate limit exceeded' } },
    };
  }
  const status = httpish.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own client errors: bad JSON body, unsupported media type, body too large, ...
    return {
      status,
      body: { error: { code: 'TANDEM_ERR_QUERY_INVALID', message: httpish.message ?? 'bad request' } },
    };
  }
  return {
    status: 500,
    body: {
      error: { code: 'TANDEM_ERR_INTERNAL' satisfies ErrorCode, message: serverErrorMessage(500, undefined) },
    },
  };
}

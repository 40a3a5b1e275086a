// The one catalog of Tandem's coded errors. Every thrown error carries a code from this list, a
// message that says what was wrong and what to do, and whether retrying can help.

/** Every error code Tandem raises, grouped by area. Add new codes here, never ad hoc. */
export const errorCodes = [
  // configuration
  'TANDEM_ERR_CONFIG_INVALID',
  // events and schemas
  'TANDEM_ERR_EVENT_INVALID_JSON',
  'TANDEM_ERR_EVENT_INVALID_UTF8',
  'TANDEM_ERR_EVENT_TOO_LARGE',
  'TANDEM_ERR_EVENT_INVALID',
  // Confluent-framed messages of registry-backed streams
  'TANDEM_ERR_EVENT_FRAMING',
  'TANDEM_ERR_EVENT_SCHEMA_UNKNOWN',
  'TANDEM_ERR_EVENT_UNDECODABLE',
  'TANDEM_ERR_EVENT_SCHEMA_INCOMPATIBLE',
  // the schema registry answered a request with a refusal (HTTP 4xx other than not found)
  'TANDEM_ERR_REGISTRY_REFUSED',
  // views, measures, compilers
  'TANDEM_ERR_VIEW_INVALID',
  'TANDEM_ERR_VIEW_UNKNOWN',
  'TANDEM_ERR_STREAM_UNKNOWN',
  'TANDEM_ERR_VIEW_FIELD_UNKNOWN',
  'TANDEM_ERR_VIEW_OPERATOR_UNKNOWN',
  'TANDEM_ERR_MEASURE_INVALID',
  'TANDEM_ERR_STATE_VERSION',
  // lake / object store
  'TANDEM_ERR_LAKE_URL',
  'TANDEM_ERR_LAKE_NOT_FOUND',
  'TANDEM_ERR_LAKE_PRECONDITION',
  'TANDEM_ERR_LAKE_IO',
  // batch layer
  'TANDEM_ERR_BATCH_BAD_ROWS',
  'TANDEM_ERR_BATCH_LEASE_LOST',
  'TANDEM_ERR_BATCH_RUN_FAILED',
  // speed layer
  'TANDEM_ERR_SPEED_OFFSET_GAP',
  'TANDEM_ERR_SPEED_APPLY_REFUSED',
  'TANDEM_ERR_SPEED_REDIS_EVICTION',
  'TANDEM_ERR_SPEED_NAMESPACE',
  // archiver
  'TANDEM_ERR_ARCHIVER_UPLOAD',
  // export of sealed views (PostgreSQL)
  'TANDEM_ERR_EXPORT_AUTH',
  'TANDEM_ERR_EXPORT_TABLE_ALTERED',
  'TANDEM_ERR_EXPORT_FAILED',
  // services
  'TANDEM_ERR_SERVICE_UNAVAILABLE',
  'TANDEM_ERR_TIMEOUT',
  // serving / queries
  'TANDEM_ERR_QUERY_INVALID',
  'TANDEM_ERR_QUERY_TOO_LARGE',
  'TANDEM_ERR_AUTH_MISSING',
  'TANDEM_ERR_AUTH_FORBIDDEN',
  'TANDEM_ERR_NOT_FOUND',
  'TANDEM_ERR_RATE_LIMITED',
  'TANDEM_ERR_INTERNAL',
  // cli
  'TANDEM_ERR_USAGE',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

export interface TandemErrorOptions {
  cause?: unknown;
  /** Whether the same call may succeed if repeated later. @defaultValue false */
  retryable?: boolean;
  /** Structured details (field, rule, service, ...) for logs, DLQ envelopes and HTTP bodies. */
  details?: Record<string, unknown>;
}

/** Base class of every error Tandem throws on purpose. */
export class TandemError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: TandemErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TandemError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }
}

export function isTandemError(error: unknown, code?: ErrorCode): error is TandemError {
  return error instanceof TandemError && (code === undefined || error.code === code);
}

/**
 * Retry only when every Tandem error in the cause chain says it is retryable. A foreign error
 * (ECONNREFUSED, a driver error) counts through the Tandem error that wrapped it and judged it;
 * a foreign error at the top was judged by nobody, so it is not retried.
 */
export function isRetryable(error: unknown): boolean {
  if (!(error instanceof TandemError)) return false;
  let current: unknown = error;
  for (let depth = 0; current instanceof TandemError && depth < 16; depth++) {
    if (!current.retryable) return false;
    current = current.cause;
  }
  return true;
}

/** The error a component raises when a service it needs is down: names it and how to start it. */
export function serviceUnavailable(service: string, url: string, cause?: unknown): TandemError {
  return new TandemError(
    'TANDEM_ERR_SERVICE_UNAVAILABLE',
    `${service} is not reachable at ${url}; start the local stack with \`scripts/stack up\` ` +
      `or point the matching environment variable at a running ${service}`,
    { cause, retryable: true, details: { service, url } },
  );
}

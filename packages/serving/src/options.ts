// Options of `buildServer`: ready readers and clients (whoever builds a client closes it),
// security and limits from config, cache sizes and timings, validated once at construction.
import type {
  ApiKeyConfig,
  BatchViewReader,
  Catalog,
  ServedVersionReader,
  VersionStatusSource,
  ServingConfig,
  SpeedViewReader,
  TandemConfig,
} from '@tandem/core';
import { invalidOption } from '@tandem/core';
import type { FastifyBaseLogger } from 'fastify';
import type { Cluster, Redis } from 'ioredis';
import type { QueryLimits } from './routes/query-params.ts';
import type { BatchStatusSource, HealthCheck, ReadinessProbe, RecomputeQueue } from '@tandem/core';

export interface BuildServerOptions {
  /** The batch layer's reader (`BatchViewReader`). Not closed by the server. */
  batch: BatchViewReader;
  /** The speed layer's reader (`SpeedViewReader`). Not closed by the server. */
  speed: SpeedViewReader;
  /**
   * Redis client for the shared rate-limit counters, one node or a cluster (each counter is one
   * key, so its script stays in one slot); null keeps counters in memory. Not closed. The type is
   * @tandem/connections' `RedisClient`, spelled with ioredis's two classes: serving depends on no
   * package of ours but core at runtime.
   */
  redis?: Redis | Cluster | null;
  /** Key prefix for what serving stores in Redis. @defaultValue 'tandem' */
  redisPrefix?: string;
  /**
   * Dependencies `/readyz` checks, by name (`redis`, `kafka`, `lake`). Read at every request, so
   * the owner may add one when a component that needs it starts.
   */
  readinessProbes?: Record<string, ReadinessProbe>;
  /**
   * Components `/healthz` asks whether they can still do their job, by name. Read at every
   * request, like `readinessProbes`. None: `/healthz` answers ok while the process answers.
   */
  healthChecks?: Record<string, HealthCheck>;
  /**
   * The queue behind `POST /v1/ops/recompute` and `/v1/ops/jobs` (the cli wires the batch layer's
   * `RecomputeJobs`). Not closed by the server. Null: those routes answer 503.
   */
  recomputeJobs?: RecomputeQueue | null;
  /**
   * Each view's sealed-through and stale hours as the batch layer last computed them, with when
   * (its status record), for `/v1/status`. Null: asked of `batch` on every call.
   */
  batchStatus?: BatchStatusSource | null;
  /** API keys (SHA-256 digests). None configured: the read API is open. @defaultValue [] */
  apiKeys?: ApiKeyConfig[];
  /** With no keys configured, whether admin routes are open too (local development). @defaultValue false */
  allowAdminWithoutKeys?: boolean;
  /** Origins allowed by CORS; empty disables CORS. @defaultValue [] */
  corsOrigins?: string[];
  /** Requests per window per key (or per IP on an open API); false disables. @defaultValue 600 per 60 s */
  rateLimit?: { max: number; windowMs: number } | false;
  /** Query limits; any left out keep `defaultQueryLimits`. */
  limits?: Partial<Omit<QueryLimits, 'maxRangeMs'>> & { maxRangeMs?: Partial<QueryLimits['maxRangeMs']> };
  /**
   * The streams and views served: every view of the catalog gets its routes. Give the readers the
   * same catalog. @defaultValue core's `builtinCatalog()` (the web stream and its three views)
   */
  catalog?: Catalog;
  /**
   * Which version of a view serves (the batch layer's `ActiveVersions` over its generation
   * registry), read once per query: the whole answer comes from that version and names it. Give the
   * readers a catalog that resolves the refs it returns (batch's `GenerationCatalog`). Null: every
   * view is served at its catalog definition. @defaultValue null
   */
  versions?: ServedVersionReader | null;
  /** Each view's versions for `/v1/status` (the batch layer's `generations.versionStatus`). @defaultValue null */
  versionStatus?: VersionStatusSource | null;
  /** Name of the view behind /v1/trending (absent from the catalog: the route answers 404). @defaultValue 'trending_pages' */
  trendingView?: string;
  /** How long a batch snapshot and freshness figures are reused; keep far below the speed layer's sealed grace. @defaultValue 1000 */
  snapshotTtlMs?: number;
  /** How long one speed read is reused (real-time answers may be this much older); 0 disables. @defaultValue 1000 */
  speedCacheTtlMs?: number;
  /**
   * How long a speed read of closed hours (ended more than the allowed lateness before the speed
   * watermark, so no longer changing there) is reused. @defaultValue 60000
   */
  closedSpeedCacheTtlMs?: number;
  /** The speed layer's allowed lateness. @defaultValue 300000 */
  speedAllowedLatenessMs?: number;
  /** How far behind its watermark the speed layer keeps hours. @defaultValue 3 days */
  speedRetentionMs?: number;
  /** Cells of batch partials cached in memory. @defaultValue 20_000_000 */
  partialCacheCells?: number;
  /** Finished batch-only buckets cached. @defaultValue 200_000 */
  bucketCacheEntries?: number;
  /** Serialized answers of fully sealed queries cached, in 64 KiB units (2,000: up to 125 MiB). @defaultValue 2_000 */
  responseCacheEntries?: number;
  /** Directory served at `/` (the dashboard); null or missing directory: nothing served. */
  dashboardDir?: string | null;
  /** Serve the OpenAPI spec and Swagger UI at /docs. @defaultValue true */
  docs?: boolean;
  /** Process metrics on /metrics besides the request metrics. @defaultValue true */
  defaultMetrics?: boolean;
  /** Log level of the built-in pino logger. @defaultValue 'info' */
  logLevel?: TandemConfig['logLevel'];
  /** A ready pino logger instead of the built-in one. */
  loggerInstance?: FastifyBaseLogger;
  /** Clock, injectable for tests. @defaultValue Date.now */
  now?: () => number;
  /** Longest a readiness probe may take. @defaultValue 2000 */
  probeTimeoutMs?: number;
  /** Largest request body accepted, in bytes. @defaultValue 16384 */
  bodyLimit?: number;
}

export const defaultServerOptions = {
  redisPrefix: 'tandem',
  apiKeys: [] as ApiKeyConfig[],
  allowAdminWithoutKeys: false,
  corsOrigins: [] as string[],
  rateLimit: { max: 600, windowMs: 60_000 },
  trendingView: 'trending_pages',
  snapshotTtlMs: 1000,
  speedCacheTtlMs: 1000,
  closedSpeedCacheTtlMs: 60_000,
  speedAllowedLatenessMs: 300_000,
  speedRetentionMs: 3 * 24 * 3_600_000,
  partialCacheCells: 20_000_000,
  bucketCacheEntries: 200_000,
  responseCacheEntries: 2_000,
  docs: true,
  defaultMetrics: true,
  logLevel: 'info' as TandemConfig['logLevel'],
  probeTimeoutMs: 2000,
  bodyLimit: 16_384,
} as const;

/** The parts of the options that come from configuration (`loadConfig()`). */
export function serverOptionsFromConfig(
  config: Pick<TandemConfig, 'serving' | 'redis' | 'speed' | 'logLevel'>,
): Pick<
  BuildServerOptions,
  | 'apiKeys'
  | 'corsOrigins'
  | 'rateLimit'
  | 'redisPrefix'
  | 'speedRetentionMs'
  | 'speedAllowedLatenessMs'
  | 'logLevel'
  | 'snapshotTtlMs'
> {
  const serving: ServingConfig = config.serving;
  return {
    apiKeys: serving.apiKeys,
    corsOrigins: serving.corsOrigins,
    rateLimit: serving.rateLimit,
    redisPrefix: config.redis.prefix,
    speedRetentionMs: config.speed.bucketTtlSeconds * 1000,
    speedAllowedLatenessMs: config.speed.allowedLatenessMs,
    // Reusing a snapshot is safe only while speed still holds the hours sealed since.
    snapshotTtlMs: Math.min(defaultServerOptions.snapshotTtlMs, Math.floor(config.speed.sealedGraceMs / 10)),
    logLevel: config.logLevel,
  };
}

/** Throws `TANDEM_ERR_CONFIG_INVALID` naming the first bad option. */
export function validateServerOptions(options: BuildServerOptions): void {
  const fail = (name: string, value: unknown, expected: string): never => {
    throw invalidOption('serving', name, value, expected);
  };
  if (options.batch === undefined || typeof options.batch.sealedHours !== 'function') {
    fail('batch', options.batch, 'a BatchViewReader');
  }
  if (options.speed === undefined || typeof options.speed.readPartials !== 'function') {
    fail('speed', options.speed, 'a SpeedViewReader');
  }
  const jobs = options.recomputeJobs;
  if (
    jobs !== undefined &&
    jobs !== null &&
    !['submit', 'get', 'list', 'cancel'].every(
      (name) => typeof jobs[name as keyof typeof jobs] === 'function',
    )
  ) {
    fail('recomputeJobs', jobs, "a RecomputeQueue (batch's createRecomputeJobs) or null");
  }
  if (
    options.catalog !== undefined &&
    (!Array.isArray(options.catalog?.views) ||
      !Array.isArray(options.catalog?.streams) ||
      typeof options.catalog.view !== 'function')
  ) {
    fail('catalog', options.catalog, "a Catalog (core's createCatalog or resolveCatalog)");
  }
  const nonNegative = [
    'snapshotTtlMs',
    'speedCacheTtlMs',
    'closedSpeedCacheTtlMs',
    'speedAllowedLatenessMs',
    'speedRetentionMs',
    'probeTimeoutMs',
  ] as const;
  for (const name of nonNegative) {
    const value = options[name];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) fail(name, value, 'a number >= 0');
  }
  const positive = ['partialCacheCells', 'bucketCacheEntries', 'responseCacheEntries', 'bodyLimit'] as const;
  for (const name of positive) {
    const value = options[name];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) fail(name, value, 'an integer > 0');
  }
  if (options.rateLimit) {
    if (!(Number.isInteger(options.rateLimit.max) && options.rateLimit.max > 0)) {
      fail('rateLimit.max', options.rateLimit.max, 'an integer > 0');
    }
    if (!(Number.isInteger(options.rateLimit.windowMs) && options.rateLimit.windowMs > 0)) {
      fail('rateLimit.windowMs', options.rateLimit.windowMs, 'an integer > 0');
    }
  }
  for (const key of options.apiKeys ?? []) {
    if (!/^[0-9a-f]{64}$/.test(key.sha256))
      fail(`apiKeys[${key.name}].sha256`, '(not shown)', '64 hex digits');
  }
}

// Builds the serving layer's Fastify instance: one plugin per concern (errors and logging, security
// headers, auth, rate limits, metrics, docs, routes, dashboard), all reading through the injected
// readers, with routes generated for every view of the injected catalog.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import cors from '@fastify/cors';
import fastifyStatic from '@fastify/static';
import { builtinCatalog } from '@tandem/core';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { Gauge } from 'prom-client';
import { type BuildServerOptions, defaultServerOptions, validateServerOptions } from './options.ts';
import { authPlugin } from './plugins/auth.ts';
import { docsPlugin } from './plugins/docs.ts';
import { errorHandlerPlugin } from './plugins/error-handler.ts';
import { metricsPlugin } from './plugins/metrics.ts';
import { rateLimitPlugin } from './plugins/rate-limit.ts';
import { securityHeadersPlugin } from './plugins/security-headers.ts';
import { MergeEngine } from './query/merge-engine.ts';
import { buildViewModel } from './query/view-model.ts';
import { operationRoutes } from './routes/operations.ts';
import { defaultQueryLimits } from './routes/query-params.ts';
import { errorBody, parseTimeParameter, timeInputFormat } from './routes/schemas.ts';
import { viewRoutes } from './routes/series.ts';
import { streamRoutes } from './routes/streams.ts';
import { trendingRoutes } from './routes/trending.ts';

/** Where the dashboard's static files live (owned by the dashboard, served here at `/`). */
export const defaultDashboardDir = fileURLToPath(new URL('../dashboard/', import.meta.url));

const requestIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;

/** Header values never written to logs. */
const redactedPaths = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'request.headers.authorization',
  'request.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
];

/**
 * Builds (but does not start) the serving layer. The caller owns the readers and clients it
 * passes in and closes them after `app.close()`; the server closes only what it creates.
 */
export async function buildServer(options: BuildServerOptions): Promise<FastifyInstance> {
  validateServerOptions(options);
  const settings = { ...defaultServerOptions, ...stripUndefined(options) };
  const now = settings.now ?? Date.now;
  const limits = {
    ...defaultQueryLimits,
    ...settings.limits,
    maxRangeMs: { ...defaultQueryLimits.maxRangeMs, ...settings.limits?.maxRangeMs },
  };

  const app = Fastify({
    ...(settings.loggerInstance === undefined
      ? {
          logger: {
            level: settings.logLevel,
            redact: { paths: redactedPaths, censor: '[redacted]' },
          },
        }
      : { loggerInstance: settings.loggerInstance }),
    // One line per request comes from the error-handler plugin (id, route, status, duration).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    requestIdHeader: false,
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && requestIdPattern.test(incoming) ? incoming : randomUUID();
    },
    bodyLimit: settings.bodyLimit,
    routerOptions: { maxParamLength: 256 },
    ajv: {
      customOptions: {
        // Unknown parameters must be rejected with a 400, never silently dropped.
        removeAdditional: false,
        coerceTypes: 'array',
        useDefaults: true,
        allErrors: false,
      },
      plugins: [
        <
          Ajv extends {
            addFormat(name: string, format: { type: 'string'; validate: (text: string) => boolean }): unknown;
          },
        >(
          ajv: Ajv,
        ): Ajv => {
          ajv.addFormat(timeInputFormat, {
            type: 'string' as const,
            validate: (text: string) => parseTimeParameter(text, now()) !== null,
          });
          return ajv;
        },
      ],
    },
  });

  // Views come from the injected catalog, never from a global: a deployment serves its own streams.
  const catalog = settings.catalog ?? builtinCatalog();
  const models = catalog.views.map(buildViewModel);
  const engine = new MergeEngine({
    batch: settings.batch,
    speed: settings.speed,
    now,
    snapshotTtlMs: settings.snapshotTtlMs,
    speedCacheTtlMs: settings.speedCacheTtlMs,
    closedSpeedCacheTtlMs: settings.closedSpeedCacheTtlMs,
    speedAllowedLatenessMs: settings.speedAllowedLatenessMs,
    speedRetentionMs: settings.speedRetentionMs,
    partialCacheCells: settings.partialCacheCells,
    bucketCacheEntries: settings.bucketCacheEntries,
    maxGroups: limits.maxGroups,
    maxValues: limits.maxValues,
  });

  app.addSchema(errorBody);
  await app.register(errorHandlerPlugin);
  await app.register(securityHeadersPlugin);
  await app.register(authPlugin, {
    apiKeys: settings.apiKeys,
    allowAdminWithoutKeys: settings.allowAdminWithoutKeys,
  });
  if (settings.rateLimit !== false) {
    await app.register(rateLimitPlugin, {
      max: settings.rateLimit.max,
      windowMs: settings.rateLimit.windowMs,
      redis: settings.redis ?? null,
      redisPrefix: settings.redisPrefix,
    });
  }
  if (settings.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: settings.corsOrigins,
      methods: ['GET', 'HEAD', 'POST'],
      allowedHeaders: ['x-api-key', 'authorization', 'content-type', 'x-request-id'],
      exposedHeaders: ['retry-after', 'x-request-id', 'x-ratelimit-limit', 'x-ratelimit-remaining'],
      maxAge: 600,
    });
  }
  // Docs first: @fastify/swagger collects routes as they are added.
  if (settings.docs) await app.register(docsPlugin, { secured: settings.apiKeys.length > 0 });
  await app.register(metricsPlugin, { defaultMetrics: settings.defaultMetrics });
  registerEngineMetrics(app, engine);

  await app.register(viewRoutes, {
    models,
    engine,
    limits,
    now,
    responseCacheEntries: settings.responseCacheEntries,
    versions: settings.versions ?? null,
  });
  await app.register(trendingRoutes, {
    model: models.find((model) => model.name === settings.trendingView) ?? null,
    engine,
    now,
  });
  await app.register(streamRoutes, { catalog, models });
  await app.register(operationRoutes, {
    catalog,
    models,
    engine,
    batch: settings.batch,
    speed: settings.speed,
    limits,
    now,
    batchStatus: settings.batchStatus ?? null,
    versionStatus: settings.versionStatus ?? null,
    recomputeJobs: settings.recomputeJobs ?? null,
    healthChecks: settings.healthChecks ?? {},
    readinessProbes: settings.readinessProbes ?? {},
    probeTimeoutMs: settings.probeTimeoutMs,
    statusRunLimit: 5,
  });

  const dashboardDir = settings.dashboardDir === undefined ? defaultDashboardDir : settings.dashboardDir;
  if (dashboardDir !== null && existsSync(dashboardDir)) {
    await app.register(fastifyStatic, { root: dashboardDir, prefix: '/', index: ['index.html'] });
  }

  app.addHook('onClose', async () => {
    engine.partialCache.clear();
    engine.bucketCache.clear();
  });
  return app;
}

function registerEngineMetrics(app: FastifyInstance, engine: MergeEngine): void {
  const caches = { partial: engine.partialCache, bucket: engine.bucketCache };
  new Gauge({
    name: 'tandem_serving_cache_hits',
    help: 'Hits of the immutable batch caches since start',
    labelNames: ['cache'] as const,
    registers: [app.metricsRegistry],
    collect() {
      for (const [name, cache] of Object.entries(caches)) this.set({ cache: name }, cache.hits);
    },
  });
  new Gauge({
    name: 'tandem_serving_cache_misses',
    help: 'Misses of the immutable batch caches since start',
    labelNames: ['cache'] as const,
    registers: [app.metricsRegistry],
    collect() {
      for (const [name, cache] of Object.entries(caches)) this.set({ cache: name }, cache.misses);
    },
  });
  new Gauge({
    name: 'tandem_serving_cache_weight',
    help: 'Current weight (cells or entries) of the immutable batch caches',
    labelNames: ['cache'] as const,
    registers: [app.metricsRegistry],
    collect() {
      for (const [name, cache] of Object.entries(caches)) this.set({ cache: name }, cache.weight);
    },
  });
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, inner]) => inner !== undefined)) as T;
}

// The routes that are not queries: the view list, layer status, the admin recompute jobs and the
// health / readiness probes, one module each (routes/view-list.ts, routes/ops/*.ts), registered here.
import type { BatchViewReader, Catalog, SpeedViewReader } from '@tandem/core';
import type { FastifyPluginAsync } from 'fastify';
import type { MergeEngine } from '../query/merge-engine.ts';
import type { ViewModel } from '../query/view-model.ts';
import type {
  BatchStatusSource,
  HealthCheck,
  ReadinessProbe,
  RecomputeQueue,
  VersionStatusSource,
} from '@tandem/core';
import { probeRoutes } from './ops/probes.ts';
import { recomputeJobRoutes } from './ops/recompute-jobs.ts';
import { statusRoute } from './ops/status.ts';
import type { QueryLimits } from './query-params.ts';
import { viewListRoute } from './view-list.ts';

export interface OperationRoutesOptions {
  /** The deployment's streams and views; `models` are its views. */
  catalog: Catalog;
  models: ViewModel[];
  engine: MergeEngine;
  batch: BatchViewReader;
  speed: SpeedViewReader;
  batchStatus: BatchStatusSource | null;
  versionStatus: VersionStatusSource | null;
  limits: QueryLimits;
  now: () => number;
  recomputeJobs: RecomputeQueue | null;
  healthChecks: Record<string, HealthCheck>;
  readinessProbes: Record<string, ReadinessProbe>;
  /** Longest a readiness probe may take before it counts as down. @defaultValue 2000 */
  probeTimeoutMs: number;
  /** How many recent batch runs /v1/status lists per view. @defaultValue 5 */
  statusRunLimit: number;
}

export const operationRoutes: FastifyPluginAsync<OperationRoutesOptions> = async (app, options) => {
  await app.register(viewListRoute, { models: options.models, engine: options.engine });
  await app.register(statusRoute, {
    catalog: options.catalog,
    models: options.models,
    batch: options.batch,
    speed: options.speed,
    batchStatus: options.batchStatus,
    versionStatus: options.versionStatus,
    now: options.now,
    runLimit: options.statusRunLimit,
  });
  await app.register(recomputeJobRoutes, {
    viewNames: options.models.map((model) => model.name),
    limits: options.limits,
    now: options.now,
    jobs: options.recomputeJobs,
  });
  await app.register(probeRoutes, {
    healthChecks: options.healthChecks,
    readinessProbes: options.readinessProbes,
    probeTimeoutMs: options.probeTimeoutMs,
  });
};

// Public face of @tandem/serving: the server factory, its options and the reader shapes it needs.
export {
  type BuildServerOptions,
  defaultServerOptions,
  serverOptionsFromConfig,
  validateServerOptions,
} from './options.ts';
export type { BatchReader, SealedHour, SpeedReader, SpeedStatus } from './readers.ts';
export type {
  BatchStatusRecord,
  BatchStatusSource,
  ComponentHealth,
  HealthCheck,
  ReadinessProbe,
  RecomputeJobRecord,
  RecomputeJobState,
  RecomputeQueue,
} from './routes/operations.ts';
export { defaultQueryLimits, type QueryLimits } from './routes/query-params.ts';
export { buildServer, defaultDashboardDir } from './server.ts';
// The merge engine, caches and plugins stay internal: the HTTP API is the contract.

// Public face of @tandem/serving: the server factory and its options. The readers it needs are the
// layers' contracts in @tandem/core (`BatchViewReader`, `SpeedViewReader`).
export {
  type BuildServerOptions,
  defaultServerOptions,
  serverOptionsFromConfig,
  validateServerOptions,
} from './options.ts';
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
export { evaluateHealth, evaluateReadiness, type ProbeLog } from './routes/ops/probes.ts';
export { defaultQueryLimits, type QueryLimits } from './routes/query-params.ts';
export { buildServer, defaultDashboardDir } from './server.ts';
// The merge engine, caches and plugins stay internal: the HTTP API is the contract.

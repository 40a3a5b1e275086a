// Public face of @tandem/serving: the server factory and its options. What it is handed — the layers'
// readers, the recompute queue, health checks and readiness probes — are contracts in @tandem/core
// (layer-readers.ts, ops-contracts.ts).
export {
  type BuildServerOptions,
  defaultServerOptions,
  serverOptionsFromConfig,
  validateServerOptions,
} from './options.ts';
export { evaluateHealth, evaluateReadiness, type ProbeLog } from './routes/ops/probes.ts';
export { defaultQueryLimits, type QueryLimits } from './routes/query-params.ts';
export { buildServer, defaultDashboardDir } from './server.ts';
// The merge engine, caches and plugins stay internal: the HTTP API is the contract.

// Public face of @tandem/speed: the worker (one per stream, or a group of them), the reader for the
// serving layer, the janitor's dropHours, the namespaces a replay switches between, the check of
// the Redis it needs, metrics, and the key schema and dead-letter headers other tools may need.
// The Lua wrappers and the fold internals stay private: their contract is the Redis layout.
export { createKafkaClient, createRedisClient } from './clients.ts';
export { deadLetterHeaders, sourceKey } from './dead-letters.ts';
export {
  BUCKET_MARKER_FIELD,
  cellField,
  LEGACY_KEYS_STREAM,
  parseCellField,
  type SpeedKeys,
  speedKeys,
} from './key-schema.ts';
export { createSpeedMetrics, type EventOutcome, type SpeedMetrics } from './metrics.ts';
export {
  activeNamespace,
  dropNamespace,
  isNamespaceOf,
  listNamespaces,
  replayNamespace,
  switchNamespace,
} from './namespaces.ts';
export {
  defaultSpeedWorkerOptions,
  speedGroupId,
  type SpeedTuning,
  type SpeedWorkerOptions,
  tuningFromConfig,
} from './options.ts';
export {
  assertRedisKeepsSpeedKeys,
  REQUIRED_MAXMEMORY_POLICY,
  type RedisPolicyCheck,
} from './redis-requirements.ts';
export type { RedisClient } from './scripts.ts';
export {
  dropHours,
  RedisSpeedViewReader,
  type RedisSpeedViewReaderOptions,
  type SpeedStore,
} from './speed-view-reader.ts';
export { defaultPipelineVersion, SpeedWorker, startSpeedWorker, stopOnSignals } from './speed-worker.ts';
export {
  SpeedWorkerGroup,
  type SpeedWorkersOptions,
  startSpeedWorkers,
} from './speed-workers.ts';
export { contentIdentity, MAX_CONTENT_IDENTITY_CHARS } from './stream-events.ts';

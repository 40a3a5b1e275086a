// Public face of @tandem/batch: the batch layer (ops entry points and scheduler) over a catalog of
// streams and views, the reader the serving layer uses, and the storage formats (layout, pointer,
// run history) ops tools inspect.
export type { TrustOptions } from './archive-trust.ts';
export {
  LEGACY_WEB_FINGERPRINT,
  LEGACY_WEB_VALIDATOR,
  markTrustedFiles,
  validatorMatches,
} from './archive-trust.ts';
export type { BatchOptions } from './batch-options.ts';
export { batchOptionsFromConfig, defaultBatchOptions, resolveBatchOptions } from './batch-options.ts';
export type {
  BatchLayerOptions,
  BatchViewStatus,
  BatchWorkPlan,
  HourWorkOptions,
  RecomputePlanEntry,
  RecomputeResult,
} from './batch-layer.ts';
export { BatchLayer, openBatchLayer } from './batch-layer.ts';
export type {
  BatchRuntime,
  HourOutcome,
  HourStatus,
  QuarantineReport,
  RunHooks,
  RunHoursOptions,
  RunStage,
} from './batch-runner.ts';
export { BatchRunner, planChunks } from './batch-runner.ts';
export type { StatusBackedViewReaderOptions, ViewStatusRecord } from './batch-status.ts';
export {
  BatchStatusStore,
  defaultStatusBackedViewReaderOptions,
  StatusBackedViewReader,
} from './batch-status.ts';
export type { LakeBatchViewReaderDeps } from './batch-view-reader.ts';
export { LakeBatchViewReader, staleAmong } from './batch-view-reader.ts';
export type { CompletenessOptions } from './completeness.ts';
export { completeBefore, isHourComplete, lastCompleteHour, topicPartitionsOf } from './completeness.ts';
export type { DuckDbEngineOptions } from './duckdb-engine.ts';
export { DuckDbEngine } from './duckdb-engine.ts';
export type { BadRowSample, ComputeRequest, ComputeResult, PartitionStats } from './hour-compute.ts';
export { computeHours, eventColumnsUsed, partitionHoursFor } from './hour-compute.ts';
export type {
  InputFormat,
  InputObject,
  ListInputsOptions,
  StagedFile,
  StagedInputs,
} from './input-staging.ts';
export { earliestLogHour, inputFormatOf, listInputs, stageInputs } from './input-staging.ts';
export {
  newRunId,
  parseViewKey,
  pointerKey,
  quarantineKey,
  runParquetKey,
  viewHourPrefix,
  viewVersionPrefix,
} from './layout.ts';
export type { HourPointer, InputFingerprintEntry, PointedRun } from './pointer.ts';
export { parsePointer, readPointer, sameFingerprint } from './pointer.ts';
export type { EncodedPartialRow } from './run-files.ts';
export { readRunParquets, writeRunParquet } from './run-files.ts';
export type { RecomputeJobsOptions } from './recompute-jobs.ts';
export {
  defaultRecomputeJobsOptions,
  isFinalJobState,
  RecomputeJobs,
  resolveRecomputeJobsOptions,
} from './recompute-jobs.ts';
export { RunHistory } from './run-history.ts';
export type { BatchSchedulerOptions, CronScheduleFn, SchedulerHealth } from './scheduler.ts';
export { BatchScheduler, defaultBatchSchedulerOptions, nodeCronSchedule } from './scheduler.ts';
export {
  ActiveVersions,
  GenerationCatalog,
  generationRef,
  maintainServingVersions,
  registerCatalogVersions,
} from './generation-catalog.ts';
export type { GenerationState, ViewGeneration, ViewGenerations } from './view-generations.ts';
export { GenerationRegistry, generationView } from './view-generations.ts';
// Not exported: Lease / LeaseManager (owned by the runner; nobody else may mint fencing tokens).

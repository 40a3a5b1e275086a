// Public face of @tandem/archiver: the Kafka → lake archiver of a stream, its options and metrics.
export type { ArchiverStatus, PartitionStatus } from './archiver.ts';
export { Archiver, createArchiver, createArchivers } from './archiver.ts';
export type { ArchiverMetrics } from './metrics.ts';
export { createArchiverMetrics } from './metrics.ts';
export type {
  ArchiverConsumerOptions,
  ArchiverInit,
  ArchiverOptions,
  KafkaConnectionOptions,
  OffsetCommitted,
  SegmentUploaded,
} from './options.ts';
export {
  ARCHIVER_GROUP_ID,
  archiverGroupId,
  archiverOptionsFromConfig,
  defaultArchiverOptions,
  resolveArchiverOptions,
} from './options.ts';
export type { SealReason } from './segment.ts';
export { HourBuffer, Segment } from './segment.ts';
export type { WatermarkInputs } from './watermark.ts';
export { computeWatermark } from './watermark.ts';

// Public face of @tandem/lake: the object store over file:// and s3://, lake paths, bounded-parallel
// transfers, and the archiver watermark objects the batch scheduler reads.
export type {
  ConditionalWriteMode,
  LakeOptions,
  ObjectInfo,
  ObjectStore,
  PutOptions,
} from './object-store.ts';
export { defaultLakeOptions, openObjectStore } from './object-store.ts';
export type { ArchiveManifest, ArchiveManifestRegistry } from './manifests.ts';
export {
  archiveManifestKey,
  buildArchiveManifest,
  manifestDigest,
  manifestDigestOfFile,
  parseArchiveManifest,
} from './manifests.ts';
export type { DownloadAllOptions } from './parallel.ts';
export { downloadAll, listAll, mapWithConcurrency } from './parallel.ts';
export {
  archiveFileName,
  archiverWatermarkKey,
  archiverWatermarkPrefix,
  assertObjectKey,
  logPartitionPrefix,
  parseArchiveFileName,
  parseLogPartition,
} from './paths.ts';
export type { ArchiverWatermark } from './watermarks.ts';
export {
  archivedThrough,
  listArchiverWatermarks,
  probeConditionalWrites,
  readArchiverWatermark,
  writeArchiverWatermark,
} from './watermarks.ts';
// Not exported: FileObjectStore / S3ObjectStore (open stores through openObjectStore, which picks by URL).

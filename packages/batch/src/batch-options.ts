// The batch layer's one options object: tuning knobs with defaults (most come from `TandemConfig`),
// validated once at construction, plus the injected clock and timers tests drive.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invalidOption, type TandemConfig } from '@tandem/core';
import { validateDuckDbOptions } from './duckdb-engine.ts';

export interface BatchOptions {
  /** DuckDB worker threads. @defaultValue 2 (BATCH_THREADS) */
  threads: number;
  /** DuckDB memory limit; larger hours spill to `tempDirectory`. @defaultValue '1GB' (BATCH_MEMORY_LIMIT) */
  memoryLimit: string;
  /** DuckDB spill files and downloaded S3 inputs. @defaultValue `<os tmp>/tandem-batch` */
  tempDirectory: string;
  /** A run fails when bad lines / lines of any partition it reads exceed this. @defaultValue 0.01 */
  maxBadRowRatio: number;
  /** Runs kept per hour (the current one included); older Parquet files are deleted. @defaultValue 3 */
  keepVersions: number;
  /** Chunks of hours computed at once by catch-up, backfill and recompute. @defaultValue 2 */
  concurrency: number;
  /** Without archiver watermarks, an hour is complete this long after its input ends. @defaultValue 600000 */
  latenessMs: number;
  /** node-cron expression of the hourly run (UTC). @defaultValue '5 * * * *' */
  hourlyCron: string;
  /** node-cron expression of the nightly recompute of the previous day (UTC). @defaultValue '30 2 * * *' */
  nightlyCron: string;
  /** Lease time to live; renewed every third of it while a run works. @defaultValue 60000 */
  leaseTtlMs: number;
  /** Attempts per chunk for retryable failures. @defaultValue 3 */
  maxAttempts: number;
  /** First retry delay; doubles per attempt, with jitter. @defaultValue 1000 */
  retryBaseMs: number;
  /** Run history records kept per view. @defaultValue 500 */
  runHistoryLimit: number;
  /** Most hours computed in one DuckDB query. @defaultValue 24 */
  maxHoursPerChunk: number;
  /**
   * Most input bytes (as stored, compressed) computed in one query of a view that is not
   * sessionized; bounds memory. With `concurrency` chunks in flight, their staged rows should fit in
   * `memoryLimit` together. On the 10M-event bench day, 256 MiB chunks took 37–44 s at 1.8–1.9 GiB
   * peak RSS, 64 MiB chunks 32 s at 1.55 GiB. @defaultValue 64 MiB
   */
  maxChunkInputBytes: number;
  /**
   * Skip line-by-line validation for NDJSON files whose archive manifest proves they are exactly
   * what the archiver validated and wrote (archive-trust.ts); false validates every line of every
   * file. @defaultValue true
   */
  trustArchiveManifests: boolean;
  /** S3 downloads in flight per run. @defaultValue 8 */
  downloadConcurrency: number;
  /** Bad lines kept per partition in the quarantine report. @defaultValue 20 */
  quarantineSampleSize: number;
  /** Characters kept of each sampled bad line. @defaultValue 2048 */
  quarantineSampleChars: number;
  /** An unreferenced run file younger than this may belong to a run in flight; GC leaves it. @defaultValue 3600000 */
  orphanGraceMs: number;
  /**
   * The web stream's Kafka topic when no catalog is given (the built-in catalog is then built on
   * it). With a catalog, each stream's own topic names its archiver watermarks. @defaultValue
   * 'events' (TANDEM_TOPIC)
   */
  topic: string;
  /**
   * Partitions of each stream's topic: one count for all, or a count per topic name. With null (or
   * a topic the record does not name), every watermark object found must have passed the hour (a
   * partition the archiver has never written is then invisible). @defaultValue null
   */
  topicPartitions: number | null | Readonly<Record<string, number>>;
  /** How far back catch-up and backfill look for missing or stale hours. @defaultValue 720 (30 days) */
  catchUpMaxHours: number;
  /** How many recent hours the hourly run checks for completeness. @defaultValue 6 */
  hourlyLookbackHours: number;
  /** While the last hour is not complete yet, the hourly run checks again after this long. @defaultValue 60000 */
  recheckMs: number;
  /** Largest valid event line, bytes (EVENT_MAX_BYTES). @defaultValue 65536 */
  eventMaxBytes: number;
  /** Events further in the future than this are rejected (EVENT_FUTURE_TOLERANCE_MS). @defaultValue 300000 */
  futureToleranceMs: number;
  /** Redis key prefix (REDIS_PREFIX). @defaultValue 'tandem' */
  redisPrefix: string;
  /** How long the reader trusts a listing of pointers. @defaultValue 5000 */
  pointerCacheTtlMs: number;
  /** Encoded state bytes the reader keeps decoded runs for (LRU by run). @defaultValue 512 MiB */
  maxCachedStateBytes: number;
}

export const defaultBatchOptions: BatchOptions = {
  threads: 2,
  memoryLimit: '1GB',
  tempDirectory: join(tmpdir(), 'tandem-batch'),
  maxBadRowRatio: 0.01,
  keepVersions: 3,
  concurrency: 2,
  latenessMs: 10 * 60_000,
  hourlyCron: '5 * * * *',
  nightlyCron: '30 2 * * *',
  leaseTtlMs: 60_000,
  maxAttempts: 3,
  retryBaseMs: 1000,
  runHistoryLimit: 500,
  maxHoursPerChunk: 24,
  maxChunkInputBytes: 64 * 1024 * 1024,
  trustArchiveManifests: true,
  downloadConcurrency: 8,
  quarantineSampleSize: 20,
  quarantineSampleChars: 2048,
  orphanGraceMs: 3_600_000,
  topic: 'events',
  topicPartitions: null,
  catchUpMaxHours: 720,
  hourlyLookbackHours: 6,
  recheckMs: 60_000,
  eventMaxBytes: 65_536,
  futureToleranceMs: 300_000,
  redisPrefix: 'tandem',
  pointerCacheTtlMs: 5000,
  maxCachedStateBytes: 512 * 1024 * 1024,
};

/** The batch options a loaded configuration implies. */
export function batchOptionsFromConfig(config: TandemConfig): Partial<BatchOptions> {
  return {
    threads: config.batch.threads,
    memoryLimit: config.batch.memoryLimit,
    latenessMs: config.batch.latenessMs,
    maxBadRowRatio: config.batch.maxBadRowRatio,
    keepVersions: config.batch.keepVersions,
    concurrency: config.batch.concurrency,
    hourlyCron: config.batch.hourlyCron,
    nightlyCron: config.batch.nightlyCron,
    trustArchiveManifests: config.batch.trustArchiveManifests,
    topic: config.kafka.topic,
    eventMaxBytes: config.events.maxBytes,
    futureToleranceMs: config.events.futureToleranceMs,
    redisPrefix: config.redis.prefix,
  };
}

/** Defaults, then config, then explicit options; validated once. */
export function resolveBatchOptions(...layers: Array<Partial<BatchOptions> | undefined>): BatchOptions {
  const options = { ...defaultBatchOptions };
  for (const layer of layers) {
    if (layer === undefined) continue;
    for (const [key, value] of Object.entries(layer)) {
      if (value !== undefined && key in defaultBatchOptions)
        (options as Record<string, unknown>)[key] = value;
    }
  }
  validateDuckDbOptions(options);
  const positiveIntegers = [
    'keepVersions',
    'concurrency',
    'leaseTtlMs',
    'maxAttempts',
    'runHistoryLimit',
    'maxHoursPerChunk',
    'maxChunkInputBytes',
    'downloadConcurrency',
    'quarantineSampleChars',
    'catchUpMaxHours',
    'hourlyLookbackHours',
    'recheckMs',
    'eventMaxBytes',
    'maxCachedStateBytes',
  ] as const;
  for (const name of positiveIntegers) {
    if (!Number.isSafeInteger(options[name]) || options[name] < 1)
      throw invalidOption('batch', name, options[name], 'an integer ≥ 1');
  }
  const nonNegative = [
    'latenessMs',
    'retryBaseMs',
    'quarantineSampleSize',
    'orphanGraceMs',
    'futureToleranceMs',
    'pointerCacheTtlMs',
  ] as const;
  for (const name of nonNegative) {
    if (!Number.isSafeInteger(options[name]) || options[name] < 0)
      throw invalidOption('batch', name, options[name], 'an integer ≥ 0');
  }
  if (!(options.maxBadRowRatio >= 0 && options.maxBadRowRatio <= 1)) {
    throw invalidOption('batch', 'maxBadRowRatio', options.maxBadRowRatio, 'a number from 0 to 1');
  }
  const partitions = options.topicPartitions;
  const count = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 1;
  if (
    partitions !== null &&
    !count(partitions) &&
    !(typeof partitions === 'object' && !Array.isArray(partitions) && Object.values(partitions).every(count))
  ) {
    throw invalidOption(
      'batch',
      'topicPartitions',
      partitions,
      'null, an integer ≥ 1, or { topic: integer ≥ 1 }',
    );
  }
  if (typeof options.trustArchiveManifests !== 'boolean') {
    throw invalidOption('batch', 'trustArchiveManifests', options.trustArchiveManifests, 'true or false');
  }
  if (typeof options.redisPrefix !== 'string' || options.redisPrefix === '') {
    throw invalidOption('batch', 'redisPrefix', options.redisPrefix, 'a non-empty string');
  }
  return options;
}

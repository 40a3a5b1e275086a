// The archiver's one options object: defaults, validation (once, at construction), and the mapping
// from a loaded TandemConfig.
import { availableParallelism } from 'node:os';
import type { KafkaConnection } from '@tandem/connections';
import type { EventParseOptions, SchemaRegistryConfig, Stream, TandemConfig } from '@tandem/core';
import { invalidOption, webStream, webStreamOn } from '@tandem/core';
import type { ArchiverWatermark, LakeOptions, ObjectStore } from '@tandem/lake';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { SealReason } from './segment.ts';

/** How to reach Kafka when no ready client is passed (a `KafkaConfig` from `loadConfig` fits). */
export type KafkaConnectionOptions = KafkaConnection;

/** What `onAfterUpload` receives: a segment whose files are all durable but not yet committed. */
export interface SegmentUploaded {
  topic: string;
  partition: number;
  startOffset: string;
  /** The offset the commit that follows will store (exclusive end of the segment). */
  endOffset: string;
  reason: SealReason;
  keys: string[];
  events: number;
}

/** What `onCommit` receives after Kafka acknowledged a commit. */
export interface OffsetCommitted {
  topic: string;
  partition: number;
  offset: string;
}

/** Kafka consumer tuning (kafkajs `ConsumerConfig` names). */
export interface ArchiverConsumerOptions {
  /** @defaultValue 30000 */
  sessionTimeout: number;
  /** @defaultValue 60000 */
  rebalanceTimeout: number;
  /** @defaultValue 3000 */
  heartbeatInterval: number;
  /** @defaultValue 4 MiB */
  maxBytesPerPartition: number;
  /** @defaultValue 32 MiB */
  maxBytes: number;
  /** @defaultValue 1 */
  minBytes: number;
  /** @defaultValue 500 */
  maxWaitTimeInMs: number;
}

export interface ArchiverOptions {
  /** A ready kafkajs client (its owner keeps it), or how to build one. */
  kafka: Kafka | KafkaConnectionOptions;
  /** A ready object store (its owner closes it), or the lake to open (closed on stop). */
  lake: ObjectStore | LakeOptions | string;
  /**
   * The stream this archiver archives: its schema validates and normalizes every message, its
   * time field routes events to hours, its `lakePrefix` holds the raw-log partitions, manifests
   * and watermarks, and its `fingerprint` goes into every manifest. @defaultValue core's webStream
   */
  stream: Stream;
  /** The Kafka topic to consume. @defaultValue the stream's topic */
  topic: string;
  /** The consumer group. @defaultValue `archiverGroupId(stream)` (`tandem-archiver` for the web stream on `events`) */
  groupId: string;
  /** Where a new consumer group starts. @defaultValue true (the archive must be complete) */
  fromBeginning: boolean;
  /** A segment closes after this many messages (valid or not). @defaultValue 50000 */
  maxSegmentRecords: number;
  /** A segment closes once its NDJSON reaches this many bytes (all hours together). @defaultValue 16 MiB */
  maxSegmentBytes: number;
  /** A segment closes this long after its first message even if not full. @defaultValue 60000 */
  maxWaitMs: number;
  /**
   * zlib level of the `.json.gz` files. Level 1 compresses event NDJSON within 2% of level 3 (about
   * 8:1) at three quarters of the CPU, and compression is a fifth of the archiver's CPU per event.
   * @defaultValue 1
   */
  gzipLevel: number;
  /**
   * Worker threads that validate and buffer messages, so parsing overlaps with Kafka decoding on
   * the main thread; 0 parses inline. @defaultValue available cores − 1, from 1 to 4
   */
  parseWorkers: number;
  /** Files compressing or uploading at once, over all partitions. @defaultValue 8 */
  uploadConcurrency: number;
  /** Consumption pauses while closed segments holding more NDJSON bytes than this are uploading. @defaultValue 256 MiB */
  maxInflightBytes: number;
  /** Retries of a failed upload (retryable errors only) before the archiver stops with an error. @defaultValue 8 */
  uploadRetries: number;
  /** First retry delay, doubled per attempt, capped at 30 s. @defaultValue 500 */
  retryBackoffMs: number;
  /** Bounded out-of-orderness of event time within a partition (watermark rule). @defaultValue 30000 */
  outOfOrdernessMs: number;
  /** Advance an idle, caught-up partition's watermark with the wall clock. @defaultValue true */
  idleWatermarkAdvance: boolean;
  /** Least time between two writes of one partition's watermark object. @defaultValue 5000 */
  watermarkIntervalMs: number;
  /** Period of the housekeeping tick (maximum wait, watermarks, commit retries). @defaultValue 1000 */
  tickIntervalMs: number;
  /** Period of end-offset queries (lag, idle detection). @defaultValue 5000 */
  offsetsIntervalMs: number;
  /** How long `stop()` may spend flushing before it abandons the rest uncommitted. @defaultValue 30000 */
  stopTimeoutMs: number;
  /** Signals that trigger a graceful `stop()`; `[]` leaves signals to the caller. @defaultValue ['SIGTERM', 'SIGINT'] */
  signals: NodeJS.Signals[];
  consumer: ArchiverConsumerOptions;
  /** Event validation of the stream (max size, future tolerance). @defaultValue core's defaultEventParseOptions */
  events: Partial<EventParseOptions>;
  /** Registry for the metrics; a private one when null. @defaultValue null */
  registry: Registry | null;
  /**
   * The schema registry a registry-backed stream asks for schema ids registered after its config
   * loaded; without one such ids are refused as unknown. @defaultValue null
   */
  schemaRegistry: SchemaRegistryConfig | null;
  /** @defaultValue a pino logger named tandem-archiver at level info */
  logger: Logger | null;
  /** Wall clock (segment age, idle watermark, `updatedAt`). @defaultValue Date.now */
  now: () => number;
  /** Called after every file of a segment is durable and before its offset is committed. */
  onAfterUpload: ((info: SegmentUploaded) => void | Promise<void>) | null;
  /** Called after a commit was acknowledged. */
  onCommit: ((info: OffsetCommitted) => void | Promise<void>) | null;
  /** Called after a watermark object was written. */
  onWatermark: ((watermark: ArchiverWatermark) => void) | null;
}

export type ArchiverInit = Partial<Omit<ArchiverOptions, 'consumer'>> &
  Pick<ArchiverOptions, 'kafka' | 'lake'> & { consumer?: Partial<ArchiverConsumerOptions> };

/** The consumer group every archiver group id starts with. */
export const ARCHIVER_GROUP_ID = 'tandem-archiver';

/**
 * The consumer group of a stream's archiver: one group per stream, so archivers of different
 * streams never share one. The web stream keeps the ids it always had — `tandem-archiver` on the
 * `events` topic, `tandem-archiver.<topic>` on another topic — so a deployment upgrades without
 * re-reading its topic; any other stream gets `tandem-archiver.<stream name>`.
 */
export function archiverGroupId(stream: Stream, base: string = ARCHIVER_GROUP_ID): string {
  if (stream.name !== webStream.name) return `${base}.${stream.name}`;
  return stream.topic === webStream.topic ? base : `${base}.${stream.topic}`;
}

export const defaultArchiverOptions: Omit<ArchiverOptions, 'kafka' | 'lake'> = {
  stream: webStream,
  topic: webStream.topic,
  groupId: ARCHIVER_GROUP_ID,
  fromBeginning: true,
  // Segments small enough that compressing and uploading overlap with consuming, large enough that
  // a busy hour gets a few MiB-sized files per partition rather than thousands of small ones.
  maxSegmentRecords: 50_000,
  maxSegmentBytes: 16 * 1024 * 1024,
  maxWaitMs: 60_000,
  gzipLevel: 1,
  parseWorkers: Math.max(1, Math.min(4, availableParallelism() - 1)),
  uploadConcurrency: 8,
  maxInflightBytes: 256 * 1024 * 1024,
  uploadRetries: 8,
  retryBackoffMs: 500,
  outOfOrdernessMs: 30_000,
  idleWatermarkAdvance: true,
  watermarkIntervalMs: 5_000,
  tickIntervalMs: 1_000,
  offsetsIntervalMs: 5_000,
  stopTimeoutMs: 30_000,
  signals: ['SIGTERM', 'SIGINT'],
  consumer: {
    sessionTimeout: 30_000,
    rebalanceTimeout: 60_000,
    heartbeatInterval: 3_000,
    maxBytesPerPartition: 4 * 1024 * 1024,
    maxBytes: 32 * 1024 * 1024,
    minBytes: 1,
    maxWaitTimeInMs: 500,
  },
  events: {},
  registry: null,
  schemaRegistry: null,
  logger: null,
  now: () => Date.now(),
  onAfterUpload: null,
  onCommit: null,
  onWatermark: null,
};

/** Merges `init` over the defaults and validates every field once. */
export function resolveArchiverOptions(init: ArchiverInit): ArchiverOptions {
  const defined = Object.fromEntries(Object.entries(init).filter(([, value]) => value !== undefined));
  const stream = init.stream ?? defaultArchiverOptions.stream;
  const options: ArchiverOptions = {
    ...defaultArchiverOptions,
    topic: stream.topic,
    groupId: archiverGroupId(stream),
    ...defined,
    kafka: init.kafka,
    lake: init.lake,
    consumer: { ...defaultArchiverOptions.consumer, ...init.consumer },
  } as ArchiverOptions;
  if (
    typeof stream !== 'object' ||
    stream === null ||
    typeof stream.fingerprint !== 'string' ||
    !Array.isArray(stream.fields)
  ) {
    throw invalidOption('archiver', 'stream', stream, "a Stream from core's defineStream");
  }
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(options.topic)) {
    throw invalidOption('archiver', 'topic', options.topic, 'a Kafka topic name ([A-Za-z0-9._-]{1,249})');
  }
  if (typeof options.groupId !== 'string' || options.groupId === '')
    throw invalidOption('archiver', 'groupId', options.groupId, 'a non-empty string');
  const positive: Array<[string, number]> = [
    ['maxSegmentRecords', options.maxSegmentRecords],
    ['maxSegmentBytes', options.maxSegmentBytes],
    ['maxWaitMs', options.maxWaitMs],
    ['uploadConcurrency', options.uploadConcurrency],
    ['maxInflightBytes', options.maxInflightBytes],
    ['retryBackoffMs', options.retryBackoffMs],
    ['watermarkIntervalMs', options.watermarkIntervalMs],
    ['tickIntervalMs', options.tickIntervalMs],
    ['offsetsIntervalMs', options.offsetsIntervalMs],
    ['stopTimeoutMs', options.stopTimeoutMs],
    ...Object.entries(options.consumer).map(([name, value]): [string, number] => [`consumer.${name}`, value]),
  ];
  for (const [name, value] of positive) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw invalidOption('archiver', name, value, 'an integer ≥ 1');
  }
  if (!Number.isSafeInteger(options.parseWorkers) || options.parseWorkers < 0 || options.parseWorkers > 64) {
    throw invalidOption('archiver', 'parseWorkers', options.parseWorkers, 'an integer from 0 to 64');
  }
  if (!Number.isSafeInteger(options.uploadRetries) || options.uploadRetries < 0) {
    throw invalidOption('archiver', 'uploadRetries', options.uploadRetries, 'an integer ≥ 0');
  }
  if (!Number.isSafeInteger(options.outOfOrdernessMs) || options.outOfOrdernessMs < 0) {
    throw invalidOption('archiver', 'outOfOrdernessMs', options.outOfOrdernessMs, 'an integer ≥ 0');
  }
  if (!Number.isInteger(options.gzipLevel) || options.gzipLevel < 0 || options.gzipLevel > 9) {
    throw invalidOption('archiver', 'gzipLevel', options.gzipLevel, 'an integer from 0 to 9');
  }
  if (!Array.isArray(options.signals))
    throw invalidOption('archiver', 'signals', options.signals, 'an array of signal names');
  if (options.kafka === undefined || options.kafka === null)
    throw invalidOption('archiver', 'kafka', options.kafka, 'a kafkajs Kafka client or { brokers }');
  if (options.lake === undefined || options.lake === null)
    throw invalidOption('archiver', 'lake', options.lake, 'an ObjectStore, lake options or a LAKE_URL');
  return options;
}

/**
 * The archiver's options from a loaded configuration for one stream of the catalog (Kafka
 * connection, lake, event limits, the stream, its topic and consumer group). Without a stream,
 * the web stream on `config.kafka`'s topics.
 */
export function archiverOptionsFromConfig(config: TandemConfig, stream?: Stream): ArchiverInit {
  const archived =
    stream ??
    webStreamOn({
      topic: config.kafka.topic,
      dlqTopic: config.kafka.dlqTopic,
      lateTopic: config.kafka.lateTopic,
    });
  return {
    kafka: config.kafka,
    lake: config.lake,
    stream: archived,
    topic: archived.topic,
    groupId: archiverGroupId(archived),
    events: { maxBytes: config.events.maxBytes, futureToleranceMs: config.events.futureToleranceMs },
    schemaRegistry: config.schemaRegistry,
  };
}

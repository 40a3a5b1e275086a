// Options of the speed worker: one object, defaults in `defaultSpeedWorkerOptions`, validated
// once at construction. Clients may be passed ready (the caller closes them) or built from config.
// The stream and its views come by injection, defaulting to the web stream and the built-in views.
import {
  builtinCatalog,
  type Catalog,
  invalidOption,
  type Stream,
  type TandemConfig,
  TandemError,
  type View,
  webStream,
  webStreamOn,
} from '@tandem/core';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { SpeedMetrics } from './metrics.ts';
import type { RedisClient } from './scripts.ts';

/** Tuning of the speed worker; every field has a default. */
export interface SpeedTuning {
  /** Source topic; with `stream` given, the stream's (and nothing else). @defaultValue 'events' */
  topic: string;
  /** Dead-letter topic for messages that fail validation. @defaultValue '<topic>.dlq' */
  dlqTopic: string;
  /** Topic for events later than the allowed lateness. @defaultValue '<topic>.late' */
  lateTopic: string;
  /**
   * The deployment's Kafka consumer group: the web stream `events` consumes in it, any other
   * stream in `<groupId>.<stream>` (see `speedGroupId`). @defaultValue 'tandem-speed'
   */
  groupId: string;
  /** Namespace of every Redis key; each stream has its own keys under it. @defaultValue 'tandem' */
  prefix: string;
  /** Views to maintain, by name; an empty list means every view of the stream in the catalog. @defaultValue [] */
  views: string[];
  /** Bounded out-of-orderness: watermark = max event time − this. @defaultValue 30000 */
  outOfOrdernessMs: number;
  /** How far behind the watermark an event may still be applied. @defaultValue 300000 */
  allowedLatenessMs: number;
  /** Most messages in one micro-batch (one Lua script). @defaultValue 5000 */
  maxBatchSize: number;
  /**
   * Time bound of a micro-batch: the broker answers a fetch within this time, and a batch whose
   * folding takes longer is flushed early. @defaultValue 200
   */
  maxBatchWaitMs: number;
  /**
   * Producer-duplicate window: an event whose identity (the stream's id field, or its whole
   * normalized content) was seen in the previous N offsets of the partition. @defaultValue 100000
   */
  dedupWindow: number;
  /** Lifetime of a real-time bucket after its end. @defaultValue 259200 (3 days) */
  bucketTtlSeconds: number;
  /** Partitions whose batches are folded and applied concurrently. @defaultValue 3 */
  partitionsConsumedConcurrently: number;
  /** Most often the applied offset is also committed to Kafka, per partition. @defaultValue 1000 */
  commitIntervalMs: number;
  /** Kafka group session timeout. @defaultValue 30000 */
  sessionTimeoutMs: number;
  /** Kafka heartbeat interval. @defaultValue 3000 */
  heartbeatIntervalMs: number;
  /** Kafka fetch size per partition; larger fetches fold into larger, better-aggregated batches. @defaultValue 2097152 */
  maxBytesPerPartition: number;
  /** Event size limit (bytes), as in `EVENT_MAX_BYTES`. @defaultValue 65536 */
  maxEventBytes: number;
  /** How far in the future an event time may be, as in `EVENT_FUTURE_TOLERANCE_MS`. @defaultValue 300000 */
  futureToleranceMs: number;
  /** Written into DLQ and late headers. @defaultValue 'tandem-speed/<package version>+lua<script version>' */
  pipelineVersion: string;
  /** Create the DLQ and late topics when missing. @defaultValue true */
  createTopics: boolean;
}

/** Everything the worker needs; `kafka` and `redis` are built from `config` when not given. */
export interface SpeedWorkerOptions extends Partial<SpeedTuning> {
  /**
   * The stream to consume: its topics, validation rules, id and time fields. Its topics replace
   * `topic` / `dlqTopic` / `lateTopic` (which may only repeat them). @defaultValue the web stream
   * on `topic` / `dlqTopic` / `lateTopic`
   */
  stream?: Stream;
  /**
   * Where the stream's views come from (`catalog.viewsOf(stream.name)`, or the `views` named).
   * @defaultValue the built-in catalog (the web stream's three views); required for other streams
   */
  catalog?: Catalog;
  /** Source of clients and defaults when `kafka` / `redis` / tuning fields are absent. */
  config?: TandemConfig;
  /** A ready Kafka client; the worker does not close what it did not create. */
  kafka?: Kafka;
  /** A ready ioredis client (node or cluster); not closed by the worker. */
  redis?: RedisClient;
  /**
   * Start of the oldest hour the batch layer has not sealed (epoch ms), or null when unknown. A
   * partition whose Redis state is missing is rebuilt from Kafka from this time on; the speed layer
   * cannot import batch, so the caller wires it; it is told which stream asks. @defaultValue now − bucketTtlSeconds
   */
  rebuildFrom?: (stream: Stream) => Promise<number | null> | number | null;
  /** Metrics to update (see `createSpeedMetrics`); several workers may share them (label `stream`). */
  metrics?: SpeedMetrics;
  logger?: Logger;
  /** Wall clock, injectable. @defaultValue Date.now */
  now?: () => number;
}

export const defaultSpeedWorkerOptions: SpeedTuning = {
  topic: 'events',
  dlqTopic: 'events.dlq',
  lateTopic: 'events.late',
  groupId: 'tandem-speed',
  prefix: 'tandem',
  views: [],
  outOfOrdernessMs: 30_000,
  allowedLatenessMs: 5 * 60_000,
  maxBatchSize: 5000,
  maxBatchWaitMs: 200,
  dedupWindow: 100_000,
  bucketTtlSeconds: 3 * 24 * 3600,
  partitionsConsumedConcurrently: 3,
  commitIntervalMs: 1000,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3000,
  maxBytesPerPartition: 2_097_152,
  maxEventBytes: 65_536,
  futureToleranceMs: 5 * 60_000,
  pipelineVersion: '',
  createTopics: true,
};

/** Tuning from the validated config: the environment's values win over the built-in defaults. */
export function tuningFromConfig(config: TandemConfig): Partial<SpeedTuning> {
  return {
    topic: config.kafka.topic,
    dlqTopic: config.kafka.dlqTopic,
    lateTopic: config.kafka.lateTopic,
    groupId: config.speed.groupId,
    prefix: config.redis.prefix,
    outOfOrdernessMs: config.speed.outOfOrdernessMs,
    allowedLatenessMs: config.speed.allowedLatenessMs,
    maxBatchSize: config.speed.maxBatchSize,
    maxBatchWaitMs: config.speed.maxBatchWaitMs,
    dedupWindow: config.speed.dedupWindow,
    bucketTtlSeconds: config.speed.bucketTtlSeconds,
    maxEventBytes: config.events.maxBytes,
    futureToleranceMs: config.events.futureToleranceMs,
  };
}

/** Merges defaults, config and explicit options (in that order) and checks every value once. */
export function resolveTuning(options: SpeedWorkerOptions, defaultPipelineVersion: string): SpeedTuning {
  const fromConfig = options.config === undefined ? {} : tuningFromConfig(options.config);
  const explicit = Object.fromEntries(
    Object.entries(options).filter(([key, value]) => key in defaultSpeedWorkerOptions && value !== undefined),
  ) as Partial<SpeedTuning>;
  const stream = options.stream;
  if (stream !== undefined) {
    // the stream names its topics; the environment's TANDEM_TOPIC is the web stream's
    delete fromConfig.topic;
    delete fromConfig.dlqTopic;
    delete fromConfig.lateTopic;
    for (const name of ['topic', 'dlqTopic', 'lateTopic'] as const) {
      if (explicit[name] !== undefined && explicit[name] !== stream[name]) {
        throw invalidOption(
          'speed',
          name,
          explicit[name],
          `the ${name} of stream "${stream.name}" (${stream[name]})`,
        );
      }
    }
  }
  const topic = stream?.topic ?? explicit.topic ?? fromConfig.topic ?? defaultSpeedWorkerOptions.topic;
  const tuning: SpeedTuning = {
    ...defaultSpeedWorkerOptions,
    dlqTopic: `${topic}.dlq`,
    lateTopic: `${topic}.late`,
    pipelineVersion: defaultPipelineVersion,
    ...fromConfig,
    ...explicit,
    ...(stream === undefined
      ? {}
      : { topic: stream.topic, dlqTopic: stream.dlqTopic, lateTopic: stream.lateTopic }),
  };
  const positive: Array<keyof SpeedTuning> = [
    'maxBatchSize',
    'maxBatchWaitMs',
    'bucketTtlSeconds',
    'partitionsConsumedConcurrently',
    'sessionTimeoutMs',
    'heartbeatIntervalMs',
    'maxBytesPerPartition',
    'maxEventBytes',
  ];
  const nonNegative: Array<keyof SpeedTuning> = [
    'outOfOrdernessMs',
    'allowedLatenessMs',
    'dedupWindow',
    'commitIntervalMs',
    'futureToleranceMs',
  ];
  for (const name of positive) requireInteger(name, tuning[name], 1);
  for (const name of nonNegative) requireInteger(name, tuning[name], 0);
  for (const name of ['topic', 'dlqTopic', 'lateTopic', 'groupId', 'prefix'] as const) {
    if (typeof tuning[name] !== 'string' || tuning[name] === '') {
      throw invalidOption('speed', name, tuning[name], 'a non-empty string');
    }
  }
  if (tuning.topic === tuning.dlqTopic || tuning.topic === tuning.lateTopic) {
    throw invalidOption('speed', 'dlqTopic', tuning.dlqTopic, 'a topic other than the source topic');
  }
  if (/[{}]/.test(tuning.prefix)) {
    throw invalidOption(
      'speed',
      'prefix',
      tuning.prefix,
      'a prefix without { or } (keys carry their own hash tags)',
    );
  }
  return tuning;
}

/** The consumer group of `stream` in a deployment whose base group is `groupId`. */
export function speedGroupId(groupId: string, stream: string): string {
  return stream === webStream.name ? groupId : `${groupId}.${stream}`;
}

/** The stream a worker consumes and the views it maintains, resolved and checked once. */
export interface ResolvedStream {
  stream: Stream;
  views: View[];
  /** The consumer group it joins. */
  groupId: string;
}

/** Picks the stream (the web stream by default) and its views from the catalog. */
export function resolveStream(options: SpeedWorkerOptions, tuning: SpeedTuning): ResolvedStream {
  const stream =
    options.stream ??
    webStreamOn({ topic: tuning.topic, dlqTopic: tuning.dlqTopic, lateTopic: tuning.lateTopic });
  let catalog = options.catalog;
  if (catalog === undefined) {
    if (stream.name !== webStream.name) {
      throw new TandemError(
        'TANDEM_ERR_CONFIG_INVALID',
        `speed worker for stream "${stream.name}" needs a \`catalog\` with its views`,
        { details: { option: 'catalog', stream: stream.name } },
      );
    }
    catalog = builtinCatalog();
  }
  const views =
    tuning.views.length === 0 ? catalog.viewsOf(stream.name) : tuning.views.map((name) => catalog.view(name));
  for (const view of views) {
    if (view.stream !== stream.name) {
      throw invalidOption(
        'speed',
        'views',
        tuning.views,
        `views of stream "${stream.name}" (${view.name} reads "${view.stream}")`,
      );
    }
  }
  return { stream, views, groupId: speedGroupId(tuning.groupId, stream.name) };
}

function requireInteger(name: string, value: unknown, min: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalidOption('speed', name, value, `an integer ≥ ${min}`);
  }
}

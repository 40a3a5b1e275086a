// The archiver of one stream: its own Kafka consumer group on the stream's topic, writing every
// valid event as gzipped NDJSON into the lake partition (under the stream's lake prefix) of its
// event hour, committing offsets only once the files are durable, and keeping a per-partition
// watermark object for the batch scheduler. Several streams run as several archivers.
//
// Data flow per Kafka partition: kafkajs batch → SegmentBuilder (a worker thread: validate,
// normalize, buffer per event hour, close segments by count/size — deterministic — or by the
// maximum wait) → closed segment's files gzipped and uploaded in parallel → in offset order, the
// segment's end offset is committed → the watermark advances. See segment.ts for why rewrites after
// a crash land on the same file names, and watermark.ts for the watermark rule.
//
// Stopping (SIGTERM, SIGINT or stop()): consumption pauses, the open segments are closed and
// uploaded, their offsets committed and the watermarks written, then the group is left — so a
// rolling restart re-reads nothing. If the flush does not finish within `stopTimeoutMs`, or the
// archiver stops on an error, whatever is not durable is abandoned uncommitted: the next owner of
// the partition re-reads it from the last commit.
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import {
  defaultEventParseOptions,
  isRetryable,
  type Stream,
  serviceUnavailable,
  TandemError,
  webStream,
} from '@tandem/core';
import {
  type ArchiverWatermark,
  archiveFileName,
  archiveManifestKey,
  buildArchiveManifest,
  logPartitionPrefix,
  type ObjectStore,
  openObjectStore,
  readArchiverWatermark,
  writeArchiverWatermark,
} from '@tandem/lake';
import { type Admin, type Consumer, type EachBatchPayload, Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { type Logger, pino } from 'pino';
import { Registry } from 'prom-client';
import { BuilderPool } from './builder-pool.ts';
import { type ArchiverMetrics, createArchiverMetrics } from './metrics.ts';
import {
  ARCHIVER_GROUP_ID,
  type ArchiverInit,
  type ArchiverOptions,
  archiverGroupId,
  resolveArchiverOptions,
} from './options.ts';
import {
  type BuilderRequest,
  type BuilderResponse,
  packBatch,
  type SealedFile,
  type SealedSegment,
  type SealRequest,
} from './segment-builder.ts';
import { computeWatermark } from './watermark.ts';

const gzip = promisify(gzipCallback);
const MAX_BACKOFF_MS = 30_000;

/** One partition's archiving state, as `status()` reports it. */
export interface PartitionStatus {
  partition: number;
  /** Last offset committed by the archiver (next offset to archive), or null if none yet. */
  committedOffset: string | null;
  /** Offset of the next message to consume (consumed ≠ archived: see committedOffset). */
  position: string | null;
  /** The partition's end offset as last seen. */
  endOffset: string | null;
  /** Messages not yet durably archived, or null while the end offset is unknown. */
  lag: number | null;
  watermark: number | null;
  /** Messages in the open segment, as last reported by its builder. */
  bufferedMessages: number;
  /** Closed segments compressing or uploading. */
  uploadingSegments: number;
}

export interface ArchiverStatus {
  /** The stream archived. */
  stream: string;
  topic: string;
  groupId: string;
  running: boolean;
  partitions: PartitionStatus[];
  eventsArchived: number;
  eventsInvalid: number;
  filesWritten: number;
}

interface InflightSegment {
  segment: SealedSegment;
  done: boolean;
}

interface PartitionState {
  partition: number;
  /** Bumped on every rewind; answers and uploads of an older epoch never commit. */
  epoch: number;
  /** The open segment as its builder last reported it. */
  openRecords: number;
  openMinEventTime: number | null;
  /** Requests sent to the builder and not answered yet. */
  pendingRequests: number;
  /** Closed segments of the current epoch, in offset order. */
  inflight: InflightSegment[];
  /** Offset the next message must have; a smaller one means Kafka rewound (rebalance, seek). */
  nextOffset: bigint | null;
  /** End offset of the last durable segment (what should be committed). */
  durableOffset: bigint | null;
  /** Last offset Kafka acknowledged for the group. */
  committedOffset: bigint | null;
  highWatermark: bigint | null;
  lowWatermark: bigint | null;
  maxEventTime: number | null;
  watermark: number | null;
  watermarkLoaded: boolean;
  writtenWatermark: number | null;
  watermarkWrittenAt: number;
  writingWatermark: boolean;
  committing: boolean;
  commitAgain: boolean;
}

/** A counting semaphore: bounds compressions + uploads in flight over all partitions. */
class Limiter {
  readonly #limit: number;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next === undefined) this.#active--;
      else next();
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Waits for `promise` (never rejecting), at most `ms`; the timer never outlives the wait. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      promise.then(
        () => undefined,
        () => undefined,
      ),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, ms));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function minOrNull(values: Array<number | null>): number | null {
  let min = Number.POSITIVE_INFINITY;
  for (const value of values) if (value !== null && value < min) min = value;
  return Number.isFinite(min) ? min : null;
}

function isKafkaClient(value: ArchiverOptions['kafka']): value is Kafka {
  return typeof (value as Kafka).consumer === 'function' && typeof (value as Kafka).admin === 'function';
}

function isObjectStore(value: ArchiverOptions['lake']): value is ObjectStore {
  return typeof value === 'object' && typeof (value as ObjectStore).put === 'function';
}

/**
 * Archives one stream's Kafka topic into the lake. `start()` joins the consumer group and returns
 * once it runs; `stopped` settles when it has stopped (rejecting with the error that stopped it, if any).
 */
export class Archiver {
  readonly options: ArchiverOptions;
  readonly metrics: ArchiverMetrics;
  readonly registry: Registry;
  /** Settles once the archiver has stopped; rejects with the error that stopped it. */
  readonly stopped: Promise<void>;
  readonly #logger: Logger;
  readonly #kafka: Kafka;
  readonly #brokers: string;
  readonly #store: ObjectStore;
  readonly #ownsStore: boolean;
  readonly #limiter: Limiter;
  readonly #builders: BuilderPool;
  readonly #partitions = new Map<number, PartitionState>();
  /** Builder requests not answered yet, and uploads not finished yet. */
  readonly #requests = new Set<Promise<void>>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #capacityWaiters = new Set<() => void>();
  readonly #signalHandlers: Array<[NodeJS.Signals, () => void]> = [];
  readonly #removeListeners: Array<() => void> = [];
  #consumer: Consumer | null = null;
  #admin: Admin | null = null;
  #resolveStopped!: () => void;
  #rejectStopped!: (error: unknown) => void;
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  #stopPromise: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #inflightBytes = 0;
  #batchInProgress: Promise<void> | null = null;
  #offsetsRefreshedAt = 0;
  #refreshingOffsets = false;
  #sealingExpired = false;
  #eventsArchived = 0;
  #eventsInvalid = 0;
  #filesWritten = 0;

  constructor(init: ArchiverInit) {
    this.options = resolveArchiverOptions(init);
    const { options } = this;
    this.#logger = (options.logger ?? pino({ name: 'tandem-archiver', level: 'info' })).child({
      stream: options.stream.name,
    });
    this.registry = options.registry ?? new Registry();
    this.metrics = createArchiverMetrics(this.registry);
    this.#limiter = new Limiter(options.uploadConcurrency);
    if (isKafkaClient(options.kafka)) {
      this.#kafka = options.kafka;
      this.#brokers = 'the configured Kafka brokers';
    } else {
      const connection = options.kafka;
      this.#brokers = connection.brokers.join(',');
      const kafkaLogger = this.#logger.child({ component: 'kafkajs' });
      this.#kafka = new Kafka({
        clientId: connection.clientId ?? 'tandem-archiver',
        brokers: connection.brokers,
        ssl: connection.ssl ?? false,
        ...(connection.sasl ? { sasl: connection.sasl as SASLOptions } : {}),
        logLevel: logLevel.WARN,
        logCreator:
          () =>
          ({ level, log }) => {
            const { message, ...extra } = log;
            if (level <= logLevel.ERROR) kafkaLogger.error(extra, message);
            else kafkaLogger.warn(extra, message);
          },
      });
    }
    if (isObjectStore(options.lake)) {
      this.#store = options.lake;
      this.#ownsStore = false;
    } else {
      this.#store = openObjectStore(options.lake);
      this.#ownsStore = true;
    }
    this.#builders = new BuilderPool(
      options.parseWorkers,
      {
        stream: options.stream,
        limits: { maxRecords: options.maxSegmentRecords, maxBytes: options.maxSegmentBytes },
        events: Object.keys(options.events).length === 0 ? undefined : options.events,
      },
      (error) => void this.#fail(error),
    );
    this.stopped = new Promise<void>((resolve, reject) => {
      this.#resolveStopped = resolve;
      this.#rejectStopped = reject;
    });
    // The error is logged when it happens; whoever awaits `stopped` still sees it.
    this.stopped.catch(() => undefined);
  }

  /** The lake this archiver writes to. */
  get store(): ObjectStore {
    return this.#store;
  }

  /** Connects, joins the consumer group and starts archiving. */
  async start(): Promise<void> {
    if (this.#state !== 'new') {
      throw new TandemError(
        'TANDEM_ERR_USAGE',
        'an Archiver can be started once; create a new one to restart',
      );
    }
    this.#state = 'running';
    const { options } = this;
    const consumer = this.#kafka.consumer({
      groupId: options.groupId,
      ...options.consumer,
      allowAutoTopicCreation: false,
    });
    const admin = this.#kafka.admin();
    this.#consumer = consumer;
    this.#admin = admin;
    try {
      await admin.connect();
      await consumer.connect();
      await consumer.subscribe({ topics: [options.topic], fromBeginning: options.fromBeginning });
    } catch (error) {
      this.#state = 'stopped';
      await Promise.allSettled([consumer.disconnect(), admin.disconnect(), this.#builders.close()]);
      if (this.#ownsStore) await this.#store.close();
      const failure = this.#wrapKafkaError(error);
      this.#rejectStopped(failure);
      throw failure;
    }
    this.#removeListeners.push(
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        this.#onAssignment(event.payload.memberAssignment[options.topic] ?? []);
      }),
      consumer.on(consumer.events.CRASH, (event) => {
        if (!event.payload.restart) void this.#fail(event.payload.error);
        else this.#logger.warn({ err: event.payload.error }, 'Kafka consumer crashed; kafkajs restarts it');
      }),
    );
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => {
        const running = this.#onBatch(payload);
        this.#batchInProgress = running;
        return running.finally(() => {
          if (this.#batchInProgress === running) this.#batchInProgress = null;
        });
      },
    });
    this.#timer = setInterval(() => this.#tick(), options.tickIntervalMs);
    this.#timer.unref();
    for (const signal of options.signals) {
      const handler = (): void => {
        this.#logger.info({ signal }, 'stopping the archiver');
        void this.stop().catch(() => undefined);
      };
      process.once(signal, handler);
      this.#signalHandlers.push([signal, handler]);
    }
    this.#logger.info(
      {
        topic: options.topic,
        groupId: options.groupId,
        lake: this.#store.url,
        lakePrefix: options.stream.lakePrefix,
      },
      'archiver started',
    );
  }

  /**
   * Stops gracefully: flushes open segments, commits what became durable, writes the watermarks,
   * leaves the group. `flush: false` abandons buffered data uncommitted (the next owner re-reads it).
   */
  stop(options: { flush?: boolean } = {}): Promise<void> {
    if (this.#stopPromise === null) this.#stopPromise = this.#shutdown(options.flush ?? true, null);
    return this.#stopPromise;
  }

  status(): ArchiverStatus {
    const partitions = [...this.#partitions.values()]
      .sort((a, b) => a.partition - b.partition)
      .map((state) => ({
        partition: state.partition,
        committedOffset: state.committedOffset?.toString() ?? null,
        position: state.nextOffset?.toString() ?? state.committedOffset?.toString() ?? null,
        endOffset: state.highWatermark?.toString() ?? null,
        lag: this.#lag(state),
        watermark: state.watermark,
        bufferedMessages: state.openRecords,
        uploadingSegments: state.inflight.length,
      }));
    return {
      stream: this.options.stream.name,
      topic: this.options.topic,
      groupId: this.options.groupId,
      running: this.#state === 'running',
      partitions,
      eventsArchived: this.#eventsArchived,
      eventsInvalid: this.#eventsInvalid,
      filesWritten: this.#filesWritten,
    };
  }

  // ---------------------------------------------------------------- consuming

  async #onBatch({ batch, resolveOffset, heartbeat }: EachBatchPayload): Promise<void> {
    if (batch.topic !== this.options.topic || this.#state !== 'running') return;
    const state = this.#partition(batch.partition);
    if (batch.highWatermark !== undefined && batch.highWatermark !== '-1') {
      state.highWatermark = BigInt(batch.highWatermark);
    }
    const { messages } = batch;
    if (messages.length === 0) return;
    // Offsets only grow within a batch; a batch that starts below the expected offset means Kafka
    // went back to the last commit (rebalance, fetch restart).
    if (state.nextOffset !== null && BigInt(messages[0]!.offset) < state.nextOffset) {
      this.#rewind(state, `offset ${messages[0]!.offset} re-delivered`);
    }
    const lastOffset = messages[messages.length - 1]!.offset;
    state.nextOffset = BigInt(lastOffset) + 1n;
    this.#request(state, packBatch(state.partition, state.epoch, this.options.now(), messages));
    resolveOffset(lastOffset);
    await this.#waitForCapacity(heartbeat);
  }

  /** Sends one partition's request to its builder; answers are applied in the order sent. */
  #request(state: PartitionState, request: BuilderRequest): void {
    state.pendingRequests++;
    const answered = this.#builders
      .send(state.partition, request)
      .then((response) => this.#onResponse(response))
      .catch((error: unknown) => this.#fail(error))
      .finally(() => {
        state.pendingRequests--;
        this.#requests.delete(answered);
        this.#wakeCapacityWaiters();
      });
    this.#requests.add(answered);
  }

  /** Closes open segments in every builder: the expired ones, or those of the listed partitions. */
  async #sealOpen(request: SealRequest): Promise<void> {
    const answered = this.#builders.broadcast(request).then((responses) => {
      for (const response of responses) this.#onResponse(response);
    });
    const tracked: Promise<void> = answered
      .catch(() => undefined)
      .finally(() => this.#requests.delete(tracked));
    this.#requests.add(tracked);
    await answered;
  }

  #onResponse(response: BuilderResponse): void {
    const { topic } = this.options;
    for (const report of response.partitions) {
      const state = this.#partitions.get(report.partition);
      if (state === undefined || report.epoch !== state.epoch) continue;
      state.openRecords = report.openRecords;
      state.openMinEventTime = report.openMinEventTime;
      if (
        report.maxEventTime !== null &&
        (state.maxEventTime === null || report.maxEventTime > state.maxEventTime)
      ) {
        state.maxEventTime = report.maxEventTime;
      }
      if (report.invalid > 0) {
        this.#eventsInvalid += report.invalid;
        this.metrics.events.inc({ topic, outcome: 'invalid' }, report.invalid);
      }
    }
    for (const segment of response.sealed) {
      const state = this.#partitions.get(segment.partition);
      // Cut before a rewind: Kafka re-delivers its messages, and they are rewritten then.
      if (state === undefined || segment.epoch !== state.epoch) continue;
      this.#upload(state, segment);
    }
  }

  #partition(partition: number): PartitionState {
    let state = this.#partitions.get(partition);
    if (state === undefined) {
      state = {
        partition,
        epoch: 0,
        openRecords: 0,
        openMinEventTime: null,
        pendingRequests: 0,
        inflight: [],
        nextOffset: null,
        durableOffset: null,
        committedOffset: null,
        highWatermark: null,
        lowWatermark: null,
        maxEventTime: null,
        watermark: null,
        watermarkLoaded: false,
        writtenWatermark: null,
        watermarkWrittenAt: 0,
        writingWatermark: false,
        committing: false,
        commitAgain: false,
      };
      this.#partitions.set(partition, state);
      void this.#loadWatermark(state);
    }
    return state;
  }

  /**
   * Kafka will deliver from the last commit again (rebalance, restart of the fetch): drop the open
   * segment and orphan the uploading ones (they finish, but never commit). Rereading from the last
   * commit rewrites the same files.
   */
  #rewind(state: PartitionState, why: string): void {
    if (state.openRecords > 0 || state.inflight.length > 0 || state.pendingRequests > 0) {
      this.#logger.info(
        { partition: state.partition, why, buffered: state.openRecords, uploading: state.inflight.length },
        'dropping uncommitted segments; Kafka re-delivers them from the last commit',
      );
    }
    state.epoch++;
    state.openRecords = 0;
    state.openMinEventTime = null;
    state.inflight = [];
    state.nextOffset = null;
    state.durableOffset = state.committedOffset;
    this.#request(state, { kind: 'reset', partition: state.partition, epoch: state.epoch });
  }

  #onAssignment(partitions: number[]): void {
    const assigned = new Set(partitions);
    for (const state of [...this.#partitions.values()]) {
      // kafkajs resumes every assigned partition from its committed offset after a rebalance.
      this.#rewind(state, 'group rebalanced');
      if (!assigned.has(state.partition)) {
        this.#partitions.delete(state.partition);
        const labels = { topic: this.options.topic, partition: String(state.partition) };
        this.metrics.lag.remove(labels);
        this.metrics.watermark.remove(labels);
        this.metrics.committedOffset.remove(labels);
      }
    }
    for (const partition of assigned) this.#partition(partition);
    this.#logger.info({ partitions: [...assigned].sort((a, b) => a - b) }, 'partitions assigned');
    void this.#refreshCommittedOffsets();
    void this.#refreshEndOffsets();
  }

  // ---------------------------------------------------------------- uploading

  #upload(state: PartitionState, segment: SealedSegment): void {
    const { topic } = this.options;
    this.metrics.segments.inc({ topic, reason: segment.reason });
    const entry: InflightSegment = { segment, done: false };
    state.inflight.push(entry);
    const bytes = segment.bytes;
    this.#inflightBytes += bytes;
    this.metrics.inflightBytes.set({ topic }, this.#inflightBytes);
    const task = (async () => {
      try {
        const keys = await Promise.all(
          segment.files.map((file) => this.#limiter.run(() => this.#uploadFile(segment.partition, file))),
        );
        segment.files = [];
        if (this.options.onAfterUpload !== null && segment.epoch === state.epoch) {
          await this.options.onAfterUpload({
            topic,
            partition: segment.partition,
            startOffset: segment.startOffset,
            endOffset: segment.endOffset,
            reason: segment.reason,
            keys,
            events: segment.records - segment.invalid,
          });
        }
        entry.done = true;
        await this.#drainCommits(state);
      } catch (error) {
        // Not awaited: stopping waits for the other uploads, and this task is one of them.
        void this.#fail(error);
      } finally {
        this.#inflightBytes -= bytes;
        this.metrics.inflightBytes.set({ topic }, this.#inflightBytes);
        this.#wakeCapacityWaiters();
      }
    })();
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  async #uploadFile(partition: number, file: SealedFile): Promise<string> {
    const { topic, stream } = this.options;
    const key =
      logPartitionPrefix(file.hour, stream.lakePrefix) + archiveFileName(topic, partition, file.firstOffset);
    const started = performance.now();
    const body = await gzip(file.ndjson, { level: this.options.gzipLevel });
    await this.#putWithRetries(key, body, 'application/gzip');
    // The manifest goes second: a crash between the two leaves a file without one, which the batch
    // layer validates line by line; a rewrite after a crash replaces both under the same names.
    const manifest = buildArchiveManifest(
      key,
      body,
      file.events,
      // Names the stream's rules: a schema change re-validates old files instead of trusting them.
      stream.fingerprint,
      this.options.events.maxBytes ?? defaultEventParseOptions.maxBytes,
    );
    await this.#putWithRetries(
      archiveManifestKey(key, stream.lakePrefix)!,
      JSON.stringify(manifest),
      'application/json',
    );
    this.#filesWritten++;
    this.metrics.files.inc({ topic });
    this.metrics.bytes.inc({ topic, stage: 'ndjson' }, file.ndjson.byteLength);
    this.metrics.bytes.inc({ topic, stage: 'gzip' }, body.byteLength);
    this.metrics.uploadSeconds.observe({ topic }, (performance.now() - started) / 1000);
    return key;
  }

  async #putWithRetries(key: string, body: Uint8Array | string, contentType: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#store.put(key, body, { contentType });
        return;
      } catch (error) {
        if (!isRetryable(error) || attempt >= this.options.uploadRetries || this.#state === 'stopped') {
          throw new TandemError(
            'TANDEM_ERR_ARCHIVER_UPLOAD',
            `could not upload "${key}" to ${this.#store.url} after ${attempt + 1} attempt(s); ` +
              'the archiver stopped without committing it, so it is re-read on restart',
            { cause: error, details: { key, attempts: attempt + 1 } },
          );
        }
        const delay = Math.min(MAX_BACKOFF_MS, this.options.retryBackoffMs * 2 ** attempt);
        this.#logger.warn({ err: error, key, attempt: attempt + 1, delay }, 'upload failed; retrying');
        await sleep(delay);
      }
    }
  }

  #wakeCapacityWaiters(): void {
    for (const wake of this.#capacityWaiters) wake();
    this.#capacityWaiters.clear();
  }

  /** Pauses consumption while too much is being parsed, compressed or uploaded. */
  async #waitForCapacity(heartbeat: () => Promise<void>): Promise<void> {
    while (
      this.#inflightBytes + this.#builders.pendingBytes() > this.options.maxInflightBytes &&
      this.#state === 'running'
    ) {
      await within(
        new Promise<void>((resolve) => this.#capacityWaiters.add(resolve)),
        Math.min(1000, this.options.consumer.heartbeatInterval),
      );
      await heartbeat();
    }
  }

  // ---------------------------------------------------------------- committing

  /** Commits the end of the longest prefix of durable segments; one commit per partition at a time. */
  async #drainCommits(state: PartitionState): Promise<void> {
    if (state.committing) {
      state.commitAgain = true;
      return;
    }
    state.committing = true;
    try {
      do {
        state.commitAgain = false;
        let archived = 0;
        while (state.inflight[0]?.done) {
          const entry = state.inflight.shift()!;
          state.durableOffset = BigInt(entry.segment.endOffset);
          archived += entry.segment.records - entry.segment.invalid;
        }
        if (archived > 0) {
          this.#eventsArchived += archived;
          this.metrics.events.inc({ topic: this.options.topic, outcome: 'archived' }, archived);
        }
        await this.#commitDurable(state);
      } while (state.commitAgain);
    } finally {
      state.committing = false;
    }
    void this.#updateWatermark(state, false);
  }

  async #commitDurable(state: PartitionState): Promise<void> {
    const offset = state.durableOffset;
    if (offset === null || (state.committedOffset !== null && offset <= state.committedOffset)) return;
    if (this.#consumer === null || this.#state === 'stopped') return;
    try {
      await this.#consumer.commitOffsets([
        { topic: this.options.topic, partition: state.partition, offset: offset.toString() },
      ]);
    } catch (error) {
      // A rebalance makes Kafka re-deliver from the last commit anyway; anything else is retried by
      // the tick. The data is durable either way; only the re-read grows.
      this.#logger.warn(
        { err: error, partition: state.partition, offset: offset.toString() },
        'offset commit failed',
      );
      return;
    }
    if (state.committedOffset !== null && offset <= state.committedOffset) return;
    state.committedOffset = offset;
    this.metrics.committedOffset.set(
      { topic: this.options.topic, partition: String(state.partition) },
      Number(offset),
    );
    if (this.options.onCommit !== null) {
      await this.options.onCommit({
        topic: this.options.topic,
        partition: state.partition,
        offset: offset.toString(),
      });
    }
  }

  // ---------------------------------------------------------------- watermarks, lag, housekeeping

  #lag(state: PartitionState): number | null {
    if (state.highWatermark === null) return null;
    const base = state.committedOffset ?? state.lowWatermark;
    if (base === null) return null;
    const lag = state.highWatermark - base;
    return lag > 0n ? Number(lag) : 0;
  }

  #updateWatermark(state: PartitionState, force: boolean): Promise<void> {
    // Messages still at the builder have unknown event times; under the out-of-orderness bound they
    // are no older than maxEventTime − L, like messages not consumed yet. They only forbid the
    // idle advance.
    const minNotDurable = minOrNull([
      state.openMinEventTime,
      ...state.inflight.map((entry) => entry.segment.minEventTime),
    ]);
    const buffered = state.openRecords > 0 || state.inflight.length > 0 || state.pendingRequests > 0;
    const lag = this.#lag(state);
    const now = this.options.now();
    state.watermark = computeWatermark({
      previous: state.watermark,
      maxEventTime: state.maxEventTime,
      minNotDurable,
      caughtUp: !buffered && lag === 0,
      now,
      outOfOrdernessMs: this.options.outOfOrdernessMs,
      idleAdvance: this.options.idleWatermarkAdvance,
    });
    const labels = { topic: this.options.topic, partition: String(state.partition) };
    if (lag !== null) this.metrics.lag.set(labels, lag);
    if (state.watermark === null) return Promise.resolve();
    this.metrics.watermark.set(labels, state.watermark / 1000);
    const due = force || now - state.watermarkWrittenAt >= this.options.watermarkIntervalMs;
    if (
      !due ||
      !state.watermarkLoaded ||
      state.writingWatermark ||
      state.watermark === state.writtenWatermark
    ) {
      return Promise.resolve();
    }
    return this.#writeWatermark(state);
  }

  async #writeWatermark(state: PartitionState): Promise<void> {
    if (state.watermark === null) return;
    const watermark: ArchiverWatermark = {
      topic: this.options.topic,
      partition: state.partition,
      watermark: state.watermark,
      // Everything below this offset is in the lake (its commit may still be in flight).
      offset: (state.durableOffset ?? state.committedOffset ?? state.lowWatermark ?? 0n).toString(),
      updatedAt: this.options.now(),
    };
    state.writingWatermark = true;
    try {
      await writeArchiverWatermark(this.#store, watermark, this.options.stream.lakePrefix);
      state.writtenWatermark = watermark.watermark;
      state.watermarkWrittenAt = watermark.updatedAt;
      this.options.onWatermark?.(watermark);
    } catch (error) {
      this.#logger.warn(
        { err: error, partition: state.partition },
        'could not write the watermark object; retrying',
      );
    } finally {
      state.writingWatermark = false;
    }
  }

  /** Reads the stored watermark once, so the watermark never moves back across restarts. */
  async #loadWatermark(state: PartitionState): Promise<void> {
    try {
      const stored = await readArchiverWatermark(
        this.#store,
        this.options.topic,
        state.partition,
        this.options.stream.lakePrefix,
      );
      if (stored !== null) {
        state.watermark =
          state.watermark === null ? stored.watermark : Math.max(state.watermark, stored.watermark);
        state.writtenWatermark = stored.watermark;
      }
      state.watermarkLoaded = true;
    } catch (error) {
      this.#logger.warn(
        { err: error, partition: state.partition },
        'could not read the watermark object; retrying',
      );
    }
  }

  async #refreshCommittedOffsets(): Promise<void> {
    if (this.#admin === null) return;
    try {
      const [topic] = await this.#admin.fetchOffsets({
        groupId: this.options.groupId,
        topics: [this.options.topic],
      });
      for (const entry of topic?.partitions ?? []) {
        const state = this.#partitions.get(entry.partition);
        if (state === undefined || entry.offset === '-1') continue;
        const offset = BigInt(entry.offset);
        if (state.committedOffset === null || offset > state.committedOffset) state.committedOffset = offset;
        if (state.durableOffset === null || offset > state.durableOffset) state.durableOffset = offset;
      }
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not read the group offsets');
    }
  }

  async #refreshEndOffsets(): Promise<void> {
    if (this.#admin === null || this.#refreshingOffsets) return;
    this.#refreshingOffsets = true;
    this.#offsetsRefreshedAt = this.options.now();
    try {
      for (const entry of await this.#admin.fetchTopicOffsets(this.options.topic)) {
        const state = this.#partitions.get(entry.partition);
        if (state === undefined) continue;
        state.highWatermark = BigInt(entry.high);
        state.lowWatermark = BigInt(entry.low);
      }
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not read the topic end offsets');
    } finally {
      this.#refreshingOffsets = false;
    }
  }

  #tick(): void {
    if (this.#state !== 'running') return;
    const now = this.options.now();
    if (!this.#sealingExpired && [...this.#partitions.values()].some((state) => state.openRecords > 0)) {
      this.#sealingExpired = true;
      this.#sealOpen({
        kind: 'seal',
        partitions: null,
        reason: 'max-wait',
        now,
        maxWaitMs: this.options.maxWaitMs,
      })
        .catch((error: unknown) => this.#fail(error))
        .finally(() => {
          this.#sealingExpired = false;
        });
    }
    for (const state of this.#partitions.values()) {
      if (!state.watermarkLoaded) void this.#loadWatermark(state);
      if (!state.committing) this.#drainCommits(state).catch((error: unknown) => this.#fail(error));
    }
    if (now - this.#offsetsRefreshedAt >= this.options.offsetsIntervalMs) void this.#refreshEndOffsets();
  }

  // ---------------------------------------------------------------- stopping

  #wrapKafkaError(error: unknown): TandemError {
    if (error instanceof TandemError) return error;
    const failure = error as (Error & { type?: string }) | null;
    if (failure?.type === 'UNKNOWN_TOPIC_OR_PARTITION') {
      return new TandemError(
        'TANDEM_ERR_CONFIG_INVALID',
        `Kafka topic "${this.options.topic}" of stream "${this.options.stream.name}" does not exist at ` +
          `${this.#brokers}; create it, or set ${this.options.stream.name === webStream.name ? 'TANDEM_TOPIC' : "the stream's topic in the config"}`,
        { cause: error, details: { topic: this.options.topic } },
      );
    }
    // Connection loss, exhausted retries, broker or coordinator failures: all say Kafka is not
    // usable right now, and a restart of the archiver is the remedy.
    return serviceUnavailable('Kafka', this.#brokers, error);
  }

  async #fail(error: unknown): Promise<void> {
    const failure = error instanceof TandemError ? error : this.#wrapKafkaError(error);
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      this.#logger.error({ err: failure }, 'error while stopping the archiver');
      return;
    }
    this.#logger.error(
      { err: failure },
      'archiver stopped on an error; uncommitted data is re-read on restart',
    );
    this.#stopPromise = this.#shutdown(false, failure);
    await this.#stopPromise.catch(() => undefined);
  }

  async #shutdown(flush: boolean, failure: TandemError | null): Promise<void> {
    if (this.#state === 'new') {
      this.#state = 'stopped';
      await this.#builders.close();
      if (this.#ownsStore) await this.#store.close();
      this.#resolveStopped();
      return;
    }
    this.#state = 'stopping';
    if (this.#timer !== null) clearInterval(this.#timer);
    for (const [signal, handler] of this.#signalHandlers) process.removeListener(signal, handler);
    const errors: unknown[] = [];
    try {
      this.#consumer?.pause([{ topic: this.options.topic }]);
    } catch (error) {
      errors.push(error);
    }
    await this.#batchInProgress?.catch((error: unknown) => errors.push(error));
    if (flush) {
      const deadline = Date.now() + this.options.stopTimeoutMs;
      await within(Promise.allSettled([...this.#requests]), deadline - Date.now());
      await within(
        this.#sealOpen({
          kind: 'seal',
          partitions: [...this.#partitions.keys()],
          reason: 'stop',
          now: this.options.now(),
          maxWaitMs: 0,
        }).catch((error: unknown) => errors.push(error)),
        deadline - Date.now(),
      );
      while (this.#tasks.size > 0 && Date.now() < deadline) {
        await within(Promise.allSettled([...this.#tasks]), deadline - Date.now());
      }
      if (this.#tasks.size > 0) {
        this.#logger.warn({ uploading: this.#tasks.size }, 'stop timed out; abandoning uploads uncommitted');
      }
      for (const state of this.#partitions.values()) {
        await this.#drainCommits(state).catch((error: unknown) => errors.push(error));
        await this.#updateWatermark(state, true).catch((error: unknown) => errors.push(error));
      }
    } else if (failure === null) {
      this.#logger.info('stopping without flushing; buffered data is re-read on restart');
    }
    this.#state = 'stopped';
    for (const remove of this.#removeListeners) remove();
    await this.#consumer?.disconnect().catch((error: unknown) => errors.push(error));
    await this.#admin?.disconnect().catch((error: unknown) => errors.push(error));
    // Orphaned uploads may still run after a failure; let them settle before closing the store.
    await within(Promise.allSettled([...this.#tasks]), 5_000);
    await this.#builders.close().catch((error: unknown) => errors.push(error));
    if (this.#ownsStore) await this.#store.close().catch((error: unknown) => errors.push(error));
    if (failure !== null) {
      this.#rejectStopped(failure);
      throw failure;
    }
    if (errors.length > 0) {
      const aggregate = new AggregateError(errors, `the archiver stopped with ${errors.length} error(s)`);
      this.#logger.error({ err: aggregate }, 'archiver stopped with errors');
      this.#rejectStopped(aggregate);
      throw aggregate;
    }
    this.#logger.info(this.status(), 'archiver stopped');
    this.#resolveStopped();
  }
}

/** Creates an archiver (validating its options); call `start()` to run it. */
export function createArchiver(init: ArchiverInit): Archiver {
  return new Archiver(init);
}

/**
 * One archiver per stream, to run several streams in one process: each consumes its stream's
 * topic in a consumer group of its own, `archiverGroupId(stream, groupId)` (the web stream keeps
 * `tandem-archiver`), and writes under its stream's lake prefix. Everything else in `init` is
 * shared (a ready Kafka client and object store are used by all; a registry gets one set of
 * metrics, labelled by topic). Start and stop each one; `stopped` of each settles on its own.
 */
export function createArchivers(
  init: Omit<ArchiverInit, 'stream' | 'topic'>,
  streams: readonly Stream[],
): Archiver[] {
  for (const [key, what] of [
    ['name', 'name'],
    ['topic', 'topic'],
    ['lakePrefix', 'lake prefix'],
  ] as const) {
    const seen = new Set<string>();
    for (const stream of streams) {
      if (seen.has(stream[key])) {
        throw new TandemError(
          'TANDEM_ERR_CONFIG_INVALID',
          `two archived streams share the ${what} "${stream[key]}"; each stream needs its own`,
          { details: { [key]: stream[key] } },
        );
      }
      seen.add(stream[key]);
    }
  }
  const base = init.groupId ?? ARCHIVER_GROUP_ID;
  return streams.map((stream) =>
    createArchiver({ ...init, stream, topic: stream.topic, groupId: archiverGroupId(stream, base) }),
  );
}

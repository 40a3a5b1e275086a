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
// This file holds the consumer lifecycle (start, batches, rebalances, the tick, stopping); its
// parts live beside it: builder-messaging.ts (worker requests), upload.ts (gzip, limiter, retries),
// backpressure.ts, ordered-commits.ts, partition-watermarks.ts, lag-polling.ts, signals.ts and
// kafka-client.ts.
//
// Stopping (SIGTERM, SIGINT or stop()): consumption pauses, the open segments are closed and
// uploaded, their offsets committed and the watermarks written, then the group is left — so a
// rolling restart re-reads nothing. If the flush does not finish within `stopTimeoutMs`, or the
// archiver stops on an error, whatever is not durable is abandoned uncommitted: the next owner of
// the partition re-reads it from the last commit.
import { type Stream, TandemError } from '@tandem/core';
import { type ObjectStore, openObjectStore } from '@tandem/lake';
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { type Logger, pino } from 'pino';
import { Registry } from 'prom-client';
import type { ArchiverContext, ArchiverCounters } from './archiver-context.ts';
import { Backpressure } from './backpressure.ts';
import { BuilderMessaging } from './builder-messaging.ts';
import { BuilderPool } from './builder-pool.ts';
import { RegistryWriterLookups } from './registry-writers.ts';
import { archiverKafka, kafkaFailure } from './kafka-client.ts';
import { OffsetPoller } from './lag-polling.ts';
import { type ArchiverMetrics, createArchiverMetrics } from './metrics.ts';
import {
  ARCHIVER_GROUP_ID,
  type ArchiverInit,
  type ArchiverOptions,
  archiverGroupId,
  resolveArchiverOptions,
} from './options.ts';
import { drainCommits } from './ordered-commits.ts';
import { type InflightSegment, lagOf, newPartitionState, type PartitionState } from './partition-state.ts';
import { loadWatermark, updateWatermark } from './partition-watermarks.ts';
import { type BuilderResponse, packBatch, type SealedSegment } from './segment-builder.ts';
import { stopOnSignals } from './signals.ts';
import { SegmentUploader } from './upload.ts';
import { within } from './wait-within.ts';

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
  readonly #context: ArchiverContext;
  readonly #counters: ArchiverCounters = { eventsArchived: 0, eventsInvalid: 0, filesWritten: 0 };
  readonly #builders: BuilderPool;
  readonly #messaging: BuilderMessaging;
  readonly #uploader: SegmentUploader;
  readonly #backpressure: Backpressure;
  readonly #offsets: OffsetPoller;
  readonly #partitions = new Map<number, PartitionState>();
  /** Uploads not finished yet. */
  readonly #tasks = new Set<Promise<void>>();
  readonly #removeListeners: Array<() => void> = [];
  #removeSignalHandlers: () => void = () => undefined;
  #consumer: Consumer | null = null;
  #admin: Admin | null = null;
  #resolveStopped!: () => void;
  #rejectStopped!: (error: unknown) => void;
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  #stopPromise: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #batchInProgress: Promise<void> | null = null;
  #sealingExpired = false;
  readonly #writerLookups: RegistryWriterLookups | null;

  constructor(init: ArchiverInit) {
    this.options = resolveArchiverOptions(init);
    const { options } = this;
    this.#logger = (options.logger ?? pino({ name: 'tandem-archiver', level: 'info' })).child({
      stream: options.stream.name,
    });
    this.registry = options.registry ?? new Registry();
    this.metrics = createArchiverMetrics(this.registry);
    ({ kafka: this.#kafka, brokers: this.#brokers } = archiverKafka(options.kafka, this.#logger));
    if (isObjectStore(options.lake)) {
      this.#store = options.lake;
      this.#ownsStore = false;
    } else {
      this.#store = openObjectStore(options.lake);
      this.#ownsStore = true;
    }
    this.#context = {
      options,
      metrics: this.metrics,
      logger: this.#logger,
      store: this.#store,
      counters: this.#counters,
      consumer: () => this.#consumer,
      stopped: () => this.#state === 'stopped',
    };
    this.#builders = new BuilderPool(
      options.parseWorkers,
      {
        stream: options.stream,
        limits: { maxRecords: options.maxSegmentRecords, maxBytes: options.maxSegmentBytes },
        events: Object.keys(options.events).length === 0 ? undefined : options.events,
      },
      (error) => void this.#fail(error),
    );
    this.#backpressure = new Backpressure(this.#context, this.#builders);
    this.#writerLookups = RegistryWriterLookups.of(options.stream, options.schemaRegistry);
    this.#messaging = new BuilderMessaging(this.#builders, {
      onResponse: (response) => this.#onResponse(response),
      onError: (error) => void this.#fail(error),
      onSettled: () => this.#backpressure.wake(),
    });
    this.#uploader = new SegmentUploader(this.#context);
    this.#offsets = new OffsetPoller(this.#context, () => this.#admin, this.#partitions);
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
      // A programming error of the caller, not a command-line mistake (TANDEM_ERR_USAGE is the cli's).
      throw new TandemError(
        'TANDEM_ERR_INTERNAL',
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
      const failure = this.#kafkaFailure(error);
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
    this.#removeSignalHandlers = stopOnSignals(options.signals, this.#logger, () => {
      void this.stop().catch(() => undefined);
    });
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
        lag: lagOf(state),
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
      eventsArchived: this.#counters.eventsArchived,
      eventsInvalid: this.#counters.eventsInvalid,
      filesWritten: this.#counters.filesWritten,
    };
  }

  // ---------------------------------------------------------------- consuming

  async #onBatch({ batch, resolveOffset, heartbeat }: EachBatchPayload): Promise<void> {
    if (batch.topic !== this.options.topic || this.#state !== 'running') return;
    const { messages } = batch;
    // A registry-backed stream: writers of schema ids registered after the config loaded go along
    // with the batch (looked up first, so nothing below runs across the wait).
    const lookups = this.#writerLookups?.forBatch(messages);
    const writers = lookups === undefined ? undefined : await lookups;
    if (this.#state !== 'running') return;
    const state = this.#partition(batch.partition);
    if (batch.highWatermark !== undefined && batch.highWatermark !== '-1') {
      state.highWatermark = BigInt(batch.highWatermark);
    }
    if (messages.length === 0) return;
    // Offsets only grow within a batch; a batch that starts below the expected offset means Kafka
    // went back to the last commit (rebalance, fetch restart).
    if (state.nextOffset !== null && BigInt(messages[0]!.offset) < state.nextOffset) {
      this.#rewind(state, `offset ${messages[0]!.offset} re-delivered`);
    }
    const lastOffset = messages[messages.length - 1]!.offset;
    state.nextOffset = BigInt(lastOffset) + 1n;
    const request = packBatch(state.partition, state.epoch, this.options.now(), messages);
    if (writers !== undefined) request.writers = writers;
    this.#messaging.request(state, request);
    resolveOffset(lastOffset);
    await this.#backpressure.waitForCapacity(heartbeat, () => this.#state === 'running');
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
        this.#counters.eventsInvalid += report.invalid;
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
      state = newPartitionState(partition);
      this.#partitions.set(partition, state);
      void loadWatermark(this.#context, state);
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
    state.awaitingCommit = [];
    state.nextOffset = null;
    state.durableOffset = state.committedOffset;
    // The newest event time seen no longer bounds what comes next: Kafka re-delivers from the last
    // commit, older events included. Keeping it would let the watermark pass events that are about
    // to be re-read, and batch would seal hours missing them. Forgotten, the rule starts over as
    // after a restart, from the re-delivered messages.
    state.maxEventTime = null;
    this.#messaging.request(state, { kind: 'reset', partition: state.partition, epoch: state.epoch });
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
    void this.#offsets.refreshCommittedOffsets();
    void this.#offsets.refreshEndOffsets();
  }

  /** Uploads a closed segment's files, then commits whatever prefix of segments became durable. */
  #upload(state: PartitionState, segment: SealedSegment): void {
    const { topic } = this.options;
    this.metrics.segments.inc({ topic, reason: segment.reason });
    const entry: InflightSegment = { segment, done: false };
    state.inflight.push(entry);
    const bytes = segment.bytes;
    this.#backpressure.addUploading(bytes);
    const task = (async () => {
      try {
        const keys = await this.#uploader.uploadFiles(segment.partition, segment.files);
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
        await drainCommits(this.#context, state);
      } catch (error) {
        // Not awaited: stopping waits for the other uploads, and this task is one of them.
        void this.#fail(error);
      } finally {
        this.#backpressure.addUploading(-bytes);
        this.#backpressure.wake();
      }
    })();
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  #tick(): void {
    if (this.#state !== 'running') return;
    const now = this.options.now();
    if (!this.#sealingExpired && [...this.#partitions.values()].some((state) => state.openRecords > 0)) {
      this.#sealingExpired = true;
      this.#messaging
        .seal({
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
      if (!state.watermarkLoaded) void loadWatermark(this.#context, state);
      if (!state.committing) drainCommits(this.#context, state).catch((error: unknown) => this.#fail(error));
    }
    if (this.#offsets.due(now)) void this.#offsets.refreshEndOffsets();
  }

  // ---------------------------------------------------------------- stopping

  #kafkaFailure(error: unknown): TandemError {
    return kafkaFailure(error, this.options.topic, this.options.stream, this.#brokers);
  }

  async #fail(error: unknown): Promise<void> {
    const failure = error instanceof TandemError ? error : this.#kafkaFailure(error);
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
    this.#removeSignalHandlers();
    const errors: unknown[] = [];
    try {
      this.#consumer?.pause([{ topic: this.options.topic }]);
    } catch (error) {
      errors.push(error);
    }
    await this.#batchInProgress?.catch((error: unknown) => errors.push(error));
    if (flush) await this.#flush(errors);
    else if (failure === null)
      this.#logger.info('stopping without flushing; buffered data is re-read on restart');
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

  /** Closes the open segments, uploads and commits them within `stopTimeoutMs`; collects errors. */
  async #flush(errors: unknown[]): Promise<void> {
    const deadline = Date.now() + this.options.stopTimeoutMs;
    await within(this.#messaging.settled(), deadline - Date.now());
    await within(
      this.#messaging
        .seal({
          kind: 'seal',
          partitions: [...this.#partitions.keys()],
          reason: 'stop',
          now: this.options.now(),
          maxWaitMs: 0,
        })
        .catch((error: unknown) => errors.push(error)),
      deadline - Date.now(),
    );
    while (this.#tasks.size > 0 && Date.now() < deadline) {
      await within(Promise.allSettled([...this.#tasks]), deadline - Date.now());
    }
    if (this.#tasks.size > 0) {
      this.#logger.warn({ uploading: this.#tasks.size }, 'stop timed out; abandoning uploads uncommitted');
    }
    for (const state of this.#partitions.values()) {
      await drainCommits(this.#context, state).catch((error: unknown) => errors.push(error));
      await updateWatermark(this.#context, state, true).catch((error: unknown) => errors.push(error));
    }
  }
}

function isObjectStore(value: ArchiverOptions['lake']): value is ObjectStore {
  return typeof value === 'object' && typeof (value as ObjectStore).put === 'function';
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

// The speed worker: a kafkajs consumer group on one stream's topic that folds each partition's
// micro-batch in memory and applies it to Redis with one fenced, offset-checked Lua script, so
// every event counts exactly once in the real-time views whatever crashes or rebalances happen.
// One worker serves one stream (the web stream by default); several streams run as several workers.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { compileReducer, type Stream, TandemError, type View } from '@tandem/core';
import type {
  Admin,
  Consumer,
  EachBatchPayload,
  Kafka,
  KafkaMessage,
  Message,
  Producer,
  TopicMessages,
} from 'kafkajs';
import { type Logger, pino } from 'pino';
import { BucketDeltaBuilder, type DeltaView } from './bucket-deltas.ts';
import { createTopicsAndWait, retryWhileRetriable } from '@tandem/connections';
import { connectRedis, createKafkaClient } from './clients.ts';
import {
  deadLetterHeaders,
  deadLetterMessage,
  lateEventMessage,
  replayedOriginalOffset,
} from './dead-letters.ts';
import { DedupWindow } from './dedup-window.ts';
import { type SpeedKeys, speedKeys } from './key-schema.ts';
import type { SpeedMetrics } from './metrics.ts';
import { resolveStream, resolveTuning, type SpeedTuning, type SpeedWorkerOptions } from './options.ts';
import { assertRedisKeepsSpeedKeys } from './redis-requirements.ts';
import {
  type ApplyBatchResult,
  applyBatch,
  type BucketDelta,
  claimPartition,
  type RedisClient,
  SCRIPT_VERSION,
} from './scripts.ts';
import { type SessionFold, SessionRuntime } from './sessions.ts';
import { compileStreamEventRules, type StreamEventRules } from './stream-events.ts';

const packageVersion = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Pipeline version written into dead letters unless the options name another. */
export const defaultPipelineVersion = `tandem-speed/${packageVersion}+lua${SCRIPT_VERSION}`;

/** A view the worker maintains, with what the fold and the script need precomputed. */
interface ViewRuntime {
  view: View;
  deltaView: DeltaView;
  /** Position of the view's bucket index among the script's index keys. */
  indexPosition: number;
}

/** How often a worker holding a partition through a Redis outage checks whether Redis is back. */
const REDIS_OUTAGE_POLL_MS = 250;
/**
 * How often a worker checks that Redis still holds the state of the partitions it owns. A Redis
 * restarted without persistence (or flushed) loses it, and without this check an idle partition
 * would only notice at its next message — its real-time views missing until then.
 */
const STATE_CHECK_INTERVAL_MS = 5_000;

/** In-memory state of one partition this worker owns; authoritative only while its epoch holds. */
interface PartitionState {
  partition: number;
  /** Assignment generation (count of group joins) in which the partition was claimed. */
  generation: number;
  epoch: string;
  /** Last offset applied to Redis, null before the first apply of a fresh or rebuilt partition. */
  appliedOffset: string | null;
  /** First offset whose events count (applied + 1, or the rebuild start). */
  resumeOffset: number;
  /** Next offset this worker expects from Kafka: below `resumeOffset` it only warms the dedup window. */
  position: number;
  /** The offset the last seek asked for, so a missing offset does not make the worker seek forever. */
  lastSeek: number | null;
  maxEventTime: number | null;
  dedup: DedupWindow;
  reducers: Array<{ runtime: ViewRuntime; reducer: ReturnType<typeof compileReducer> }>;
  sessions: SessionFold[];
  lastCommitAt: number;
}

/** Counts and routed messages of one micro-batch. */
interface ChunkResult {
  applied: number;
  duplicates: number;
  late: number;
  dlq: number;
  deadLetters: Message[];
  lateEvents: Message[];
  /** The messages folded into the views, kept so a chunk Redis refuses can be dead-lettered. */
  folded: KafkaMessage[];
  firstOffset: string;
  lastOffset: string;
  firstMessageAt: number;
}

/** A chunk drained and ready to send: everything its apply writes, captured when it was folded. */
interface PreparedFlush {
  chunk: ChunkResult;
  maxEventTime: number | null;
  watermark: number | null;
  buckets: BucketDelta[];
  sessionUpserts: Array<[string, string]>;
  sessionDeletions: string[];
}

const EMPTY = Buffer.alloc(0);

/**
 * Consumes one stream's topic into its real-time views. Construct, then `start()`; `stop()` leaves
 * the group, abandoning an in-flight micro-batch before its Redis apply (it is replayed by the next
 * owner), and closes the clients it created.
 */
export class SpeedWorker {
  readonly tuning: SpeedTuning;
  /** The stream this worker consumes. */
  readonly stream: Stream;
  /** The consumer group it joins (`speedGroupId(tuning.groupId, stream.name)`). */
  readonly groupId: string;
  /** The stream's keys under `tuning.prefix`. */
  readonly keys: SpeedKeys;
  /** Registry versions met that break a view, not yet recorded for `/v1/status` (version → sentence). */
  readonly #pendingSchemaWarnings = new Map<number, string>();
  /** Claim token: tells this worker's claims from every other's, across Redis restarts too. */
  readonly owner = randomUUID();
  readonly #options: SpeedWorkerOptions;
  readonly #views: ViewRuntime[];
  readonly #sessionRuntimes: SessionRuntime[];
  readonly #rules: StreamEventRules;
  /** Label values of the metrics: the stream, and per partition. */
  readonly #streamLabel: { stream: string };
  readonly #now: () => number;
  readonly #logger: Logger;
  readonly #metrics: SpeedMetrics | undefined;
  readonly #states = new Map<number, PartitionState>();
  readonly #locks = new Map<number, Promise<void>>();
  readonly #pausedByFence = new Set<number>();
  #generation = 0;
  #kafka: Kafka | null = null;
  #redis: RedisClient | null = null;
  #ownsRedis = false;
  #consumer: Consumer | null = null;
  #producer: Producer | null = null;
  #admin: Admin | null = null;
  #stopping = false;
  #started = false;
  #stateCheck: NodeJS.Timeout | null = null;
  #checkingStates = false;
  /** Why the consumer stopped for good (a crash kafkajs does not restart from), or null. */
  #fatal: string | null = null;
  #topicOffsetsCache: { at: number; value: Promise<Map<number, { low: number; high: number }>> } | null =
    null;

  constructor(options: SpeedWorkerOptions) {
    this.#options = options;
    this.tuning = resolveTuning(options, defaultPipelineVersion);
    if (options.kafka === undefined && options.config === undefined) {
      throw new TandemError(
        'TANDEM_ERR_CONFIG_INVALID',
        'speed worker needs `kafka` or `config` to reach Kafka',
      );
    }
    if (options.redis === undefined && options.config === undefined) {
      throw new TandemError(
        'TANDEM_ERR_CONFIG_INVALID',
        'speed worker needs `redis` or `config` to reach Redis',
      );
    }
    const { stream, views, groupId } = resolveStream(options, this.tuning);
    this.stream = stream;
    this.groupId = groupId;
    this.keys = speedKeys(this.tuning.prefix, stream.name);
    this.#now = options.now ?? Date.now;
    this.#logger = (
      options.logger ?? pino({ name: 'tandem-speed', level: options.config?.logLevel ?? 'info' })
    ).child({ stream: stream.name });
    this.#metrics = options.metrics;
    this.#streamLabel = { stream: stream.name };
    this.#rules = compileStreamEventRules(
      stream,
      {
        maxBytes: this.tuning.maxEventBytes,
        futureToleranceMs: this.tuning.futureToleranceMs,
        now: this.#now,
      },
      options.config?.schemaRegistry,
      this.#logger,
      (warning) => {
        this.#pendingSchemaWarnings.set(warning.version, warning.message);
        void this.#recordSchemaWarnings();
      },
    );
    this.#views = views.map((view, indexPosition) => ({
      view,
      indexPosition,
      deltaView: {
        name: view.name,
        version: view.version,
        bucketMs: view.bucketMs,
        measureOps: new Map(Object.entries(view.measures).map(([name, measure]) => [name, measure.op])),
      },
    }));
    this.#sessionRuntimes = this.#views
      .filter((runtime) => runtime.view.sessionize !== null)
      .map((runtime) => new SessionRuntime(runtime.view, runtime.deltaView, runtime.indexPosition));
  }

  /** Names of the views this worker maintains. */
  get viewNames(): string[] {
    return this.#views.map((runtime) => runtime.view.name);
  }

  /** Connects, creates the side topics when asked, joins the group and starts consuming. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const { config } = this.#options;
    this.#kafka = this.#options.kafka ?? createKafkaClient(config!.kafka, { logger: this.#logger });
    this.#ownsRedis = this.#options.redis === undefined;
    try {
      // a Redis that is not there fails the start at once with a coded error (the shared policy)
      this.#redis = this.#options.redis ?? (await connectRedis(config!.redis, this.#logger));
      await assertRedisKeepsSpeedKeys(this.#redis, this.#logger);
    } catch (error) {
      if (this.#ownsRedis) this.#redis?.disconnect();
      this.#started = false;
      throw error;
    }

    await this.#recordSchemaWarnings();
    this.#admin = this.#kafka.admin();
    await this.#admin.connect();
    if (this.tuning.createTopics) {
      await createTopicsAndWait(this.#admin, [
        { topic: this.tuning.dlqTopic },
        { topic: this.tuning.lateTopic },
      ]);
    }
    this.#producer = this.#kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    // An idempotent producer asks one broker for its id; a broker that just died is still listed.
    const producer = this.#producer;
    await retryWhileRetriable('connecting the dead-letter producer', () => producer.connect(), {
      logger: this.#logger,
    });

    const consumer = this.#kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: this.tuning.sessionTimeoutMs,
      heartbeatInterval: this.tuning.heartbeatIntervalMs,
      maxWaitTimeInMs: this.tuning.maxBatchWaitMs,
      maxBytesPerPartition: this.tuning.maxBytesPerPartition,
      retry: { retries: 8 },
    });
    this.#consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (event) => this.#onGroupJoin(event.payload.memberAssignment));
    consumer.on(consumer.events.CRASH, (event) => {
      this.#logger.error(
        { err: event.payload.error, restart: event.payload.restart },
        'speed consumer crashed',
      );
      if (!event.payload.restart) this.#fatal = event.payload.error.message;
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.tuning.topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.tuning.partitionsConsumedConcurrently,
      eachBatch: (payload) =>
        this.#withPartitionLock(payload.batch.partition, () => this.#guardedBatch(payload)),
    });
    this.#stateCheck = setInterval(() => void this.#checkPartitionStates(), STATE_CHECK_INTERVAL_MS);
    this.#stateCheck.unref();
    this.#logger.info(
      { topic: this.tuning.topic, groupId: this.groupId, views: this.viewNames, owner: this.owner },
      'speed worker started',
    );
  }

  /**
   * Whether this worker can still do its job, for `/healthz`: not once it stopped, nor after its
   * consumer crashed with an error kafkajs does not restart from (a supervisor should restart the
   * process then). A Redis or Kafka outage is not ill health: the worker waits it out and heals.
   */
  health(): { ok: boolean; detail: string } {
    if (this.#fatal !== null) return { ok: false, detail: `consumer crashed for good: ${this.#fatal}` };
    if (this.#stopping) return { ok: false, detail: 'stopped' };
    if (!this.#started) return { ok: false, detail: 'not started' };
    return { ok: true, detail: `consuming (${this.#states.size} partitions claimed)` };
  }

  /**
   * Finds owned partitions whose state Redis no longer holds (their meta hash lost our epoch: Redis
   * restarted without persistence, or was flushed), drops their memory and makes Kafka deliver the
   * last message again, so the partition is re-claimed at once — and rebuilt from Kafka by the
   * claim — instead of at its next new message. Runs under the partition's lock, so it never races
   * an apply; skipped while Redis is unreachable (a batch that fails then waits for it anyway).
   * First it lists the partitions held here in the partition set again, in case that key was lost.
   */
  async #checkPartitionStates(): Promise<void> {
    const redis = this.#redis;
    if (this.#checkingStates || this.#stopping || redis === null || redis.status !== 'ready') return;
    this.#checkingStates = true;
    try {
      // The partition set is one key outside every partition's hash tag: on a Redis Cluster it
      // lives on one master, and when that master restarts empty the partitions kept on the others
      // would drop out of every reader's listing until their next claim (a rebalance that may never
      // come). Listing the partitions held here again (SADD is idempotent) heals it within a check.
      if (this.#states.size > 0) {
        await redis.sadd(this.keys.partitions(), ...[...this.#states.keys()].map(String));
      }
      for (const [partition, known] of [...this.#states]) {
        if (known.appliedOffset === null) continue;
        await this.#withPartitionLock(partition, async () => {
          const state = this.#states.get(partition);
          if (state !== known || this.#stopping) return;
          const stored = await redis.hget(this.keys.meta(partition), 'epoch');
          if (stored === state.epoch) return;
          this.#logger.warn(
            { partition, epoch: state.epoch, storedEpoch: stored },
            "Redis no longer holds the partition's state; re-claiming it",
          );
          this.#states.delete(partition);
          // The claim runs on the next batch: go back one message so that one arrives; the claim
          // then seeks to wherever the rebuild starts.
          this.#consumer?.seek({
            topic: this.tuning.topic,
            partition,
            offset: String(Math.max(0, state.position - 1)),
          });
        });
      }
    } catch (error) {
      this.#logger.debug({ err: error }, 'checking the partitions held in Redis failed; next time');
    } finally {
      this.#checkingStates = false;
    }
  }

  /**
   * Records the registry versions met that break a view where the status readers look (once Redis
   * is connected; a failed write is kept for the next version met or the next start).
   */
  async #recordSchemaWarnings(): Promise<void> {
    const redis = this.#redis;
    if (redis === null || this.#pendingSchemaWarnings.size === 0) return;
    const pending = [...this.#pendingSchemaWarnings];
    try {
      await redis.hset(
        this.keys.schemaWarnings(),
        Object.fromEntries(pending.map(([v, m]) => [String(v), m])),
      );
      for (const [version] of pending) this.#pendingSchemaWarnings.delete(version);
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not record a schema warning for the status; next time');
    }
  }

  /**
   * Leaves the group and closes what this worker created. A micro-batch not yet sent to Redis is
   * abandoned without commit; one already sent completes (the script is atomic either way).
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#stateCheck !== null) clearInterval(this.#stateCheck);
    const errors: unknown[] = [];
    const attempt = async (what: string, close: (() => Promise<unknown>) | undefined) => {
      if (close === undefined) return;
      try {
        await close();
      } catch (error) {
        errors.push(new Error(`speed worker: ${what} failed on stop`, { cause: error }));
      }
    };
    await attempt('consumer disconnect', this.#consumer ? () => this.#consumer!.disconnect() : undefined);
    await attempt('producer disconnect', this.#producer ? () => this.#producer!.disconnect() : undefined);
    await attempt('admin disconnect', this.#admin ? () => this.#admin!.disconnect() : undefined);
    if (this.#ownsRedis && this.#redis !== null) await attempt('redis quit', () => this.#redis!.quit());
    this.#states.clear();
    if (errors.length > 0) throw new AggregateError(errors, 'speed worker did not stop cleanly');
    this.#logger.info({ owner: this.owner }, 'speed worker stopped');
  }

  #onGroupJoin(memberAssignment: Record<string, number[]>): void {
    this.#generation++;
    this.#topicOffsetsCache = null;
    const assigned = new Set(memberAssignment[this.tuning.topic] ?? []);
    for (const partition of this.#states.keys()) {
      if (!assigned.has(partition)) this.#states.delete(partition);
    }
    if (this.#pausedByFence.size > 0 && this.#consumer !== null) {
      this.#consumer.resume([{ topic: this.tuning.topic, partitions: [...this.#pausedByFence] }]);
      this.#pausedByFence.clear();
    }
    this.#logger.info({ generation: this.#generation, partitions: [...assigned] }, 'partitions assigned');
  }

  /** Batches of one partition run one at a time, so a claim never overlaps an apply. */
  async #withPartitionLock(partition: number, run: () => Promise<void>): Promise<void> {
    const previous = this.#locks.get(partition) ?? Promise.resolve();
    const current = previous.then(run, run);
    const settled = current.catch(() => undefined);
    this.#locks.set(partition, settled);
    try {
      await current;
    } finally {
      if (this.#locks.get(partition) === settled) this.#locks.delete(partition);
    }
  }

  /**
   * Whatever way a batch ends (error, fence, stop, rebalance), a partition state that has folded
   * events Redis has not applied must not survive: the next batch would skip them.
   */
  async #guardedBatch(payload: EachBatchPayload): Promise<void> {
    for (;;) {
      try {
        await this.#consumeBatch(payload);
        return;
      } catch (error) {
        if (!(await this.#waitOutRedisOutage(payload, error))) throw error;
      } finally {
        const state = this.#states.get(payload.batch.partition);
        if (state !== undefined && !isConsistentWithRedis(state)) this.#states.delete(state.partition);
      }
    }
  }

  /**
   * A batch failed while Redis is unreachable: hold the partition (heartbeating, so the group keeps
   * it here) until the client is ready again, then the caller retries the batch at once — re-claiming
   * from Redis, which rebuilds from Kafka if Redis came back empty. Rethrowing instead would hand the
   * batch to kafkajs's retries, whose backoff grows to 30 s, so a worker would sit idle for up to a
   * minute after Redis was back. False (rethrow) when Redis is ready (another failure) or when the
   * worker stops, the batch goes stale or Kafka refuses the heartbeat.
   */
  async #waitOutRedisOutage(payload: EachBatchPayload, error: unknown): Promise<boolean> {
    const redis = this.#redis;
    // A function, not a narrowed property: the status changes while this waits.
    const ready = (): boolean => redis === null || redis.status === 'ready';
    if (ready()) return false;
    this.#logger.warn(
      { partition: payload.batch.partition, err: error },
      'Redis is unreachable; holding the partition until it is back',
    );
    while (!this.#stopping && payload.isRunning() && !payload.isStale()) {
      await new Promise((resolve) => setTimeout(resolve, REDIS_OUTAGE_POLL_MS));
      if (ready()) return true;
      try {
        await payload.heartbeat();
      } catch {
        return false;
      }
    }
    return false;
  }

  async #consumeBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const partition = batch.partition;
    if (this.#stopping || !payload.isRunning() || batch.messages.length === 0) return;

    let state = this.#states.get(partition);
    if (state === undefined || state.generation !== this.#generation) {
      state = await this.#claim(partition, state);
      this.#states.set(partition, state);
    }

    const firstOffset = Number(batch.messages[0]!.offset);
    if (firstOffset !== state.position && state.lastSeek !== state.position) {
      // Kafka's position (its committed offset) is not where Redis says to resume: go there first.
      state.lastSeek = state.position;
      this.#consumer!.seek({ topic: batch.topic, partition, offset: String(state.position) });
      return;
    }
    if (firstOffset > state.resumeOffset && firstOffset > state.position) {
      this.#logger.warn(
        { partition, expected: state.position, got: firstOffset, code: 'TANDEM_ERR_SPEED_OFFSET_GAP' },
        'offsets missing from Kafka (retention or compaction); continuing from the first available',
      );
    }

    // A registry-backed stream learns the writer schemas of ids it has not seen before the fold.
    const preparing = this.#rules.prepare?.(batch.messages);
    if (preparing) await preparing;

    // The fold of the next chunk overlaps the Redis apply of the previous one; applies stay in order.
    const messages = batch.messages;
    let pending: { apply: Promise<boolean>; lastOffset: string } | null = null;
    const settle = async (): Promise<boolean> => {
      if (pending === null) return true;
      const { apply, lastOffset } = pending;
      pending = null;
      if (!(await apply)) return false;
      payload.resolveOffset(lastOffset);
      this.#metrics?.lag.set(
        { stream: this.stream.name, partition: String(partition) },
        Math.max(0, Number(batch.highWatermark) - Number(lastOffset) - 1),
      );
      await this.#commitIfDue(state, payload);
      await payload.heartbeat();
      return true;
    };
    let index = 0;
    while (index < messages.length) {
      if (this.#stopping || !payload.isRunning() || payload.isStale()) break;
      const chunk = this.#foldChunk(state, messages, index);
      index = chunk.nextIndex;
      if (chunk.result === null) {
        // only warm-up (or already handled) messages: nothing to apply, move the fetch position on
        if (!(await settle())) return;
        if (chunk.lastOffset !== null) payload.resolveOffset(chunk.lastOffset);
        await payload.heartbeat();
        continue;
      }
      const prepared = this.#prepareFlush(state, chunk.result);
      if (!(await settle())) return;
      if (this.#stopping) {
        // abandon before any side effect; the next owner replays it
        this.#states.delete(partition);
        return;
      }
      pending = { apply: this.#flush(state, prepared, payload), lastOffset: chunk.result.lastOffset };
    }
    await settle();
  }

  /**
   * Folds messages from `start` until the count or time bound into the partition's reducers,
   * session folds, dedup window and watermark. Mutates `state`; a failed flush discards it.
   */
  #foldChunk(
    state: PartitionState,
    messages: KafkaMessage[],
    start: number,
  ): { result: ChunkResult | null; nextIndex: number; lastOffset: string | null } {
    const { outOfOrdernessMs, allowedLatenessMs, maxBatchSize, maxBatchWaitMs, pipelineVersion } =
      this.tuning;
    const topic = this.tuning.topic;
    const rules = this.#rules;
    const timeField = this.stream.timeField;
    const startedAt = performance.now();
    let result: ChunkResult | null = null;
    let lastOffset: string | null = null;
    let counted = 0;
    let index = start;
    for (; index < messages.length && counted < maxBatchSize; index++) {
      const message = messages[index]!;
      const offset = Number(message.offset);
      if (offset < state.position) {
        lastOffset = message.offset; // handled before: only the fetch position moves on
        continue;
      }
      counted++;
      lastOffset = message.offset;
      state.position = offset + 1;
      const parsed = rules.parse(message.value ?? EMPTY);
      if (offset < state.resumeOffset) {
        // warm-up: already applied by an earlier owner; only the dedup window learns from it
        if (parsed.ok) state.dedup.observe(rules.identity(parsed.event), offset);
        continue;
      }
      if (result === null) {
        result = {
          applied: 0,
          duplicates: 0,
          late: 0,
          dlq: 0,
          deadLetters: [],
          lateEvents: [],
          folded: [],
          firstOffset: message.offset,
          lastOffset: message.offset,
          firstMessageAt: startedAt,
        };
      }
      result.lastOffset = message.offset;
      if (!parsed.ok) {
        result.dlq++;
        const source = { topic, partition: state.partition, offset: message.offset };
        result.deadLetters.push(
          deadLetterMessage(source, message, parsed.error, this.#now(), pipelineVersion),
        );
        continue;
      }
      const event = parsed.event;
      const replacedOffset =
        message.headers === undefined ? -1 : replayedOriginalOffset(message.headers, topic, state.partition);
      if (state.dedup.observe(rules.identity(event), offset, replacedOffset)) {
        result.duplicates++;
        continue;
      }
      // the validator guarantees the time field: an integer of epoch ms
      const eventTime = event[timeField] as number;
      if (
        state.maxEventTime !== null &&
        eventTime < state.maxEventTime - outOfOrdernessMs - allowedLatenessMs
      ) {
        result.late++;
        const source = { topic, partition: state.partition, offset: message.offset };
        result.lateEvents.push(
          lateEventMessage(
            source,
            message,
            eventTime,
            state.maxEventTime - outOfOrdernessMs,
            allowedLatenessMs,
            this.#now(),
            pipelineVersion,
          ),
        );
        continue;
      }
      if (state.maxEventTime === null || eventTime > state.maxEventTime) state.maxEventTime = eventTime;
      for (const { reducer } of state.reducers) reducer.add(event);
      for (const session of state.sessions) session.add(event);
      result.folded.push(message);
      result.applied++;
      if ((counted & 255) === 0 && performance.now() - startedAt > maxBatchWaitMs) {
        index++;
        break;
      }
    }
    return { result, nextIndex: index, lastOffset };
  }

  /**
   * Drains what a chunk changed — deltas, session changes, event time — synchronously, so the next
   * chunk may be folded while this one is in flight.
   */
  #prepareFlush(state: PartitionState, chunk: ChunkResult): PreparedFlush {
    const ttlMs = this.tuning.bucketTtlSeconds * 1000;
    const watermark = state.maxEventTime === null ? null : state.maxEventTime - this.tuning.outOfOrdernessMs;
    const deltas = new BucketDeltaBuilder(this.keys, state.partition, ttlMs);
    for (const { runtime, reducer } of state.reducers) {
      deltas.addReducer(runtime.deltaView, runtime.indexPosition, reducer);
      reducer.clear();
    }
    const sessionUpserts: Array<[string, string]> = [];
    const sessionDeletions: string[] = [];
    for (const session of state.sessions) {
      const closed = session.advance(watermark);
      deltas.addRows(session.runtime.deltaView, session.runtime.indexPosition, closed.rows);
      for (const entry of closed.upserts) sessionUpserts.push(entry);
      for (const user of closed.deletions) sessionDeletions.push(user);
    }
    return {
      chunk,
      maxEventTime: state.maxEventTime,
      watermark,
      buckets: deltas.build(),
      sessionUpserts,
      sessionDeletions,
    };
  }

  /** Routes side messages, then applies the chunk with one script; false when the batch must stop. */
  async #flush(state: PartitionState, prepared: PreparedFlush, payload: EachBatchPayload): Promise<boolean> {
    const { chunk, watermark } = prepared;
    const partition = state.partition;
    const nowMs = this.#now();
    const ttlMs = this.tuning.bucketTtlSeconds * 1000;
    try {
      // Side topics first: a crash after this and before Redis re-sends identical keys on replay.
      const topicMessages: TopicMessages[] = [];
      if (chunk.deadLetters.length > 0) {
        topicMessages.push({ topic: this.tuning.dlqTopic, messages: chunk.deadLetters });
      }
      if (chunk.lateEvents.length > 0) {
        topicMessages.push({ topic: this.tuning.lateTopic, messages: chunk.lateEvents });
      }
      if (topicMessages.length > 0) await this.#producer!.sendBatch({ topicMessages, acks: -1 });
      if (this.#stopping) {
        this.#states.delete(partition);
        return false;
      }
      const reply = await applyBatch(this.#redis!, {
        metaKey: this.keys.meta(partition),
        sessionsKey: this.keys.sessions(partition),
        epoch: state.epoch,
        owner: this.owner,
        prevOffset: state.appliedOffset,
        nextOffset: chunk.lastOffset,
        maxEventTime: prepared.maxEventTime,
        watermark,
        nowMs,
        counters: { applied: chunk.applied, dlq: chunk.dlq, late: chunk.late, duplicates: chunk.duplicates },
        indexes: this.#views.map((runtime) => ({
          key: this.keys.bucketIndex(partition, runtime.view.name, runtime.view.version),
          trimBelowMs: nowMs - ttlMs - runtime.view.bucketMs,
          ttlMs: ttlMs + runtime.view.bucketMs,
        })),
        sessionUpserts: prepared.sessionUpserts,
        sessionDeletions: prepared.sessionDeletions,
        buckets: prepared.buckets,
      });
      if (reply.status === 'INVALID') return await this.#deadLetterRefused(state, prepared, reply, payload);
      if (reply.status !== 'OK') return this.#rejected(state, reply, payload);
    } catch (error) {
      // The in-memory state ran ahead of Redis: drop it, the next batch re-claims and replays.
      this.#states.delete(partition);
      throw error;
    }

    state.appliedOffset = chunk.lastOffset;
    const metrics = this.#metrics;
    if (metrics !== undefined) {
      const stream = this.stream.name;
      metrics.flushSeconds.observe(this.#streamLabel, (performance.now() - chunk.firstMessageAt) / 1000);
      if (chunk.applied > 0) metrics.events.inc({ stream, outcome: 'applied' }, chunk.applied);
      if (chunk.duplicates > 0) metrics.events.inc({ stream, outcome: 'duplicate' }, chunk.duplicates);
      if (chunk.late > 0) metrics.events.inc({ stream, outcome: 'late' }, chunk.late);
      if (chunk.dlq > 0) {
        metrics.events.inc({ stream, outcome: 'dlq' }, chunk.dlq);
        for (const letter of chunk.deadLetters) {
          metrics.deadLetters.inc({ stream, code: String(letter.headers?.[deadLetterHeaders.errorCode]) });
        }
      }
      if (watermark !== null)
        metrics.watermark.set({ stream, partition: String(partition) }, watermark / 1000);
    }
    return true;
  }

  /** A FENCED or OFFSET reply: nothing was written; the partition is re-claimed, or paused for its new owner. */
  #rejected(
    state: PartitionState,
    reply: Exclude<ApplyBatchResult, { status: 'OK' | 'INVALID' }>,
    payload: EachBatchPayload,
  ): false {
    const partition = state.partition;
    this.#states.delete(partition);
    this.#metrics?.rejectedBatches.inc({
      stream: this.stream.name,
      reason: reply.status === 'FENCED' ? 'fenced' : 'offset',
    });
    if (
      reply.status === 'FENCED' &&
      reply.storedOwner !== null &&
      reply.storedOwner !== this.owner &&
      // Epochs only grow by claims, so a newer claim always stores a higher epoch than ours. A lower
      // one means Redis went back in time (restarted from an RDB snapshot or an AOF that missed its
      // last second) to before our claim: the owner it names is stale, and re-claiming is right.
      (reply.storedEpoch === null || Number(reply.storedEpoch) > Number(state.epoch))
    ) {
      // Another worker owns it now; stop fetching it until the group tells us our assignment.
      this.#pausedByFence.add(partition);
      payload.pause();
      this.#logger.warn({ partition, by: reply.storedOwner }, 'partition claimed by another worker');
    } else {
      this.#logger.warn({ partition, reply }, 'partition state in Redis moved; re-claiming');
    }
    return false;
  }

  /**
   * Redis (or applyBatch before sending) refused the chunk's deltas: the same chunk would be refused
   * on every attempt, and retrying it would hold the partition forever. So its folded events go to
   * the DLQ with the reason, then a batch without deltas moves the applied offset past them
   * (counted as dead letters), and the partition's memory — which has folded them — is dropped: the
   * next batch re-claims from Redis and carries on after the chunk. When the refused bucket is a
   * sessionized view's, the sessions that closed in this chunk are deleted too (their rows may be
   * what was refused, and they would close again with every later chunk); their events are missing
   * from the real-time view until the batch layer seals those hours.
   */
  async #deadLetterRefused(
    state: PartitionState,
    prepared: PreparedFlush,
    refusal: { key: string; reason: string },
    payload: EachBatchPayload,
  ): Promise<false> {
    const { chunk } = prepared;
    const partition = state.partition;
    const topic = this.tuning.topic;
    this.#states.delete(partition);
    const refusedIndex = prepared.buckets.find((bucket) => bucket.key === refusal.key)?.index;
    const refusedView = this.#views.find((runtime) => runtime.indexPosition === refusedIndex)?.view;
    const dropSessions = refusedView !== undefined && refusedView.sessionize !== null;
    const message =
      `Redis refused the micro-batch of ${topic} partition ${partition}, offsets ${chunk.firstOffset}-${chunk.lastOffset}: ` +
      `${refusal.reason} (bucket ${refusal.key}). The same batch would be refused again, so its ` +
      `${chunk.folded.length} events were dead-lettered and the partition moved on; after fixing the cause, ` +
      're-inject them with `tandem dlq replay --code SPEED_APPLY_REFUSED`';
    const rejection = { code: 'TANDEM_ERR_SPEED_APPLY_REFUSED', message, field: null, rule: 'apply' };
    const nowMs = this.#now();
    if (chunk.folded.length > 0) {
      await this.#producer!.sendBatch({
        acks: -1,
        topicMessages: [
          {
            topic: this.tuning.dlqTopic,
            messages: chunk.folded.map((original) =>
              deadLetterMessage(
                { topic, partition, offset: original.offset },
                original,
                rejection,
                nowMs,
                this.tuning.pipelineVersion,
              ),
            ),
          },
        ],
      });
    }
    if (this.#stopping) return false;
    const dlq = chunk.dlq + chunk.folded.length;
    const reply = await applyBatch(this.#redis!, {
      metaKey: this.keys.meta(partition),
      sessionsKey: this.keys.sessions(partition),
      epoch: state.epoch,
      owner: this.owner,
      prevOffset: state.appliedOffset,
      nextOffset: chunk.lastOffset,
      // the stored event time stays: the refused events never reached the views
      maxEventTime: null,
      watermark: null,
      nowMs,
      counters: { applied: 0, dlq, late: chunk.late, duplicates: chunk.duplicates },
      indexes: [],
      sessionUpserts: [],
      sessionDeletions: dropSessions ? prepared.sessionDeletions : [],
      buckets: [],
    });
    if (reply.status === 'INVALID') {
      throw new TandemError(
        'TANDEM_ERR_INTERNAL',
        `apply-batch refused a batch without deltas: ${reply.reason}`,
      );
    }
    if (reply.status !== 'OK') return this.#rejected(state, reply, payload);
    this.#metrics?.rejectedBatches.inc({ stream: this.stream.name, reason: 'refused' });
    const stream = this.stream.name;
    if (dlq > 0) this.#metrics?.events.inc({ stream, outcome: 'dlq' }, dlq);
    if (chunk.late > 0) this.#metrics?.events.inc({ stream, outcome: 'late' }, chunk.late);
    if (chunk.duplicates > 0) this.#metrics?.events.inc({ stream, outcome: 'duplicate' }, chunk.duplicates);
    this.#logger.error(
      {
        code: 'TANDEM_ERR_SPEED_APPLY_REFUSED',
        partition,
        firstOffset: chunk.firstOffset,
        lastOffset: chunk.lastOffset,
        deadLettered: chunk.folded.length,
        bucket: refusal.key,
        reason: refusal.reason,
        droppedSessions: dropSessions ? prepared.sessionDeletions.length : 0,
      },
      message,
    );
    return false;
  }

  /** Kafka commits follow Redis, at most every `commitIntervalMs`: a hint for tools, Redis holds the truth. */
  async #commitIfDue(state: PartitionState, payload: EachBatchPayload): Promise<void> {
    const nowMs = this.#now();
    if (state.appliedOffset === null || nowMs - state.lastCommitAt < this.tuning.commitIntervalMs) return;
    state.lastCommitAt = nowMs;
    await payload.commitOffsetsIfNecessary({
      topics: [
        {
          topic: this.tuning.topic,
          partitions: [{ partition: state.partition, offset: String(Number(state.appliedOffset) + 1) }],
        },
      ],
    });
  }

  /** Takes the partition in Redis (new epoch) and decides where to resume. */
  async #claim(partition: number, previous: PartitionState | undefined): Promise<PartitionState> {
    const redis = this.#redis!;
    const claim = await claimPartition(redis, this.keys.meta(partition), this.owner, this.#now());
    await redis.sadd(this.keys.partitions(), String(partition));
    if (
      previous !== undefined &&
      isConsistentWithRedis(previous) &&
      claim.previousOwner === this.owner &&
      Number(claim.epoch) === Number(previous.epoch) + 1 &&
      claim.appliedOffset === previous.appliedOffset
    ) {
      // Nobody else touched the partition since our last claim: our memory is still exact.
      previous.epoch = claim.epoch;
      previous.generation = this.#generation;
      previous.lastSeek = null;
      return previous;
    }

    let resumeOffset: number;
    const offsets = await this.#topicOffsets();
    const bounds = offsets.get(partition) ?? { low: 0, high: 0 };
    if (claim.appliedOffset !== null) {
      resumeOffset = Number(claim.appliedOffset) + 1;
    } else {
      resumeOffset = await this.#rebuildOffset(partition);
    }
    const state: PartitionState = {
      partition,
      generation: this.#generation,
      epoch: claim.epoch,
      appliedOffset: claim.appliedOffset,
      resumeOffset,
      position: Math.max(bounds.low, resumeOffset - this.tuning.dedupWindow),
      lastSeek: null,
      maxEventTime: claim.maxEventTime,
      dedup: new DedupWindow(this.tuning.dedupWindow),
      reducers: this.#views
        .filter((runtime) => runtime.view.sessionize === null)
        .map((runtime) => ({ runtime, reducer: compileReducer(runtime.view) })),
      sessions: [],
      lastCommitAt: 0,
    };
    if (this.#sessionRuntimes.length > 0) {
      const stored = await redis.hgetall(this.keys.sessions(partition));
      state.sessions = this.#sessionRuntimes.map((runtime) =>
        runtime.restore(stored, this.tuning.allowedLatenessMs),
      );
    }
    this.#logger.info(
      {
        partition,
        epoch: claim.epoch,
        appliedOffset: claim.appliedOffset,
        resumeOffset,
        warmupFrom: state.position,
        previousOwner: claim.previousOwner,
      },
      'partition claimed',
    );
    return state;
  }

  /** Redis has no applied offset: start at the oldest unsealed hour (a fresh start or a rebuild). */
  async #rebuildOffset(partition: number): Promise<number> {
    const sealedThrough = await this.#options.rebuildFrom?.(this.stream);
    const fromMs = sealedThrough ?? this.#now() - this.tuning.bucketTtlSeconds * 1000;
    const admin = this.#admin!;
    const [byTime, committed] = await Promise.all([
      admin.fetchTopicOffsetsByTimestamp(this.tuning.topic, fromMs),
      admin.fetchOffsets({ groupId: this.groupId, topics: [this.tuning.topic] }),
    ]);
    const offset = Number(byTime.find((entry) => entry.partition === partition)?.offset ?? 0);
    const committedOffset = committed
      .find((entry) => entry.topic === this.tuning.topic)
      ?.partitions.find((entry) => entry.partition === partition)?.offset;
    if (committedOffset !== undefined && Number(committedOffset) >= 0) {
      this.#metrics?.rebuilds.inc(this.#streamLabel);
      this.#logger.warn(
        { partition, fromMs, offset, committedOffset },
        'Redis lost the partition state; rebuilding the unsealed hours from Kafka',
      );
    }
    return offset;
  }

  /** Low and high offsets per partition, cached briefly so a burst of claims asks Kafka once. */
  #topicOffsets(): Promise<Map<number, { low: number; high: number }>> {
    const now = this.#now();
    if (this.#topicOffsetsCache === null || now - this.#topicOffsetsCache.at > 5000) {
      const value = this.#admin!.fetchTopicOffsets(this.tuning.topic).then(
        (entries) =>
          new Map(
            entries.map((entry) => [entry.partition, { low: Number(entry.low), high: Number(entry.high) }]),
          ),
      );
      value.catch(() => {
        if (this.#topicOffsetsCache?.value === value) this.#topicOffsetsCache = null;
      });
      this.#topicOffsetsCache = { at: now, value };
    }
    return this.#topicOffsetsCache.value;
  }
}

/** True when the state has folded nothing beyond what Redis has applied (warm-up may lag behind). */
function isConsistentWithRedis(state: PartitionState): boolean {
  const applied = state.appliedOffset === null ? state.resumeOffset - 1 : Number(state.appliedOffset);
  return state.position <= applied + 1;
}

/** Creates and starts a speed worker. */
export async function startSpeedWorker(options: SpeedWorkerOptions): Promise<SpeedWorker> {
  const worker = new SpeedWorker(options);
  await worker.start();
  return worker;
}

/**
 * Stops `worker` (a `SpeedWorker` or a `SpeedWorkerGroup`) on the first of `signals` (SIGTERM by
 * default); for processes that run only it.
 */
export function stopOnSignals(
  worker: { stop(): Promise<void> },
  signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
  onStopped: (error?: unknown) => void = (error) => process.exit(error === undefined ? 0 : 1),
): void {
  const handler = () => {
    for (const signal of signals) process.off(signal, handler);
    worker.stop().then(
      () => onStopped(),
      (error: unknown) => {
        console.error(error);
        onStopped(error);
      },
    );
  };
  for (const signal of signals) process.on(signal, handler);
}

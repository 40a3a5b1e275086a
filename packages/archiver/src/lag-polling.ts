// Polling Kafka for what the consumer does not report: the group's committed offsets (after an
// assignment) and the partitions' end offsets (every `offsetsIntervalMs`), from which lag and the
// idle watermark advance follow.
import type { Admin } from 'kafkajs';
import type { ArchiverContext } from './archiver-context.ts';
import { releaseCommitted } from './ordered-commits.ts';
import type { PartitionState } from './partition-state.ts';

export class OffsetPoller {
  readonly #context: ArchiverContext;
  readonly #admin: () => Admin | null;
  readonly #partitions: ReadonlyMap<number, PartitionState>;
  #refreshedAt = 0;
  #refreshing = false;

  constructor(
    context: ArchiverContext,
    admin: () => Admin | null,
    partitions: ReadonlyMap<number, PartitionState>,
  ) {
    this.#context = context;
    this.#admin = admin;
    this.#partitions = partitions;
  }

  /** Whether the end offsets are older than `offsetsIntervalMs` at `now`. */
  due(now: number): boolean {
    return now - this.#refreshedAt >= this.#context.options.offsetsIntervalMs;
  }

  /** Raises each assigned partition's committed and durable offsets to the group's. */
  async refreshCommittedOffsets(): Promise<void> {
    const admin = this.#admin();
    if (admin === null) return;
    const { options, logger } = this.#context;
    try {
      const [topic] = await admin.fetchOffsets({ groupId: options.groupId, topics: [options.topic] });
      for (const entry of topic?.partitions ?? []) {
        const state = this.#partitions.get(entry.partition);
        if (state === undefined || entry.offset === '-1') continue;
        const offset = BigInt(entry.offset);
        if (state.committedOffset === null || offset > state.committedOffset) {
          state.committedOffset = offset;
          releaseCommitted(state);
        }
        if (state.durableOffset === null || offset > state.durableOffset) state.durableOffset = offset;
      }
    } catch (error) {
      logger.warn({ err: error }, 'could not read the group offsets');
    }
  }

  /** Reads the topic's low and high offsets; one read at a time. */
  async refreshEndOffsets(): Promise<void> {
    const admin = this.#admin();
    if (admin === null || this.#refreshing) return;
    const { options, logger } = this.#context;
    this.#refreshing = true;
    this.#refreshedAt = options.now();
    try {
      for (const entry of await admin.fetchTopicOffsets(options.topic)) {
        const state = this.#partitions.get(entry.partition);
        if (state === undefined) continue;
        state.highWatermark = BigInt(entry.high);
        state.lowWatermark = BigInt(entry.low);
      }
    } catch (error) {
      logger.warn({ err: error }, 'could not read the topic end offsets');
    } finally {
      this.#refreshing = false;
    }
  }
}

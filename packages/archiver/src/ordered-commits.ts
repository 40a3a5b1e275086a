// Committing in offset order: a partition's offset advances only to the end of the longest prefix
// of its closed segments whose files are all durable, one commit per partition at a time.
import type { ArchiverContext } from './archiver-context.ts';
import type { PartitionState } from './partition-state.ts';
import { updateWatermark } from './partition-watermarks.ts';

/** Commits the end of the longest prefix of durable segments; one commit per partition at a time. */
export async function drainCommits(context: ArchiverContext, state: PartitionState): Promise<void> {
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
        state.awaitingCommit.push({
          endOffset: state.durableOffset,
          minEventTime: entry.segment.minEventTime,
        });
        archived += entry.segment.records - entry.segment.invalid;
      }
      if (archived > 0) {
        context.counters.eventsArchived += archived;
        context.metrics.events.inc({ topic: context.options.topic, outcome: 'archived' }, archived);
      }
      await commitDurable(context, state);
    } while (state.commitAgain);
  } finally {
    state.committing = false;
  }
  void updateWatermark(context, state, false);
}

/** Drops the durable segments that the committed offset now covers: they are never re-read. */
export function releaseCommitted(state: PartitionState): void {
  const committed = state.committedOffset;
  if (committed === null) return;
  while (state.awaitingCommit.length > 0 && state.awaitingCommit[0]!.endOffset <= committed) {
    state.awaitingCommit.shift();
  }
}

async function commitDurable(context: ArchiverContext, state: PartitionState): Promise<void> {
  const { options } = context;
  const offset = state.durableOffset;
  if (offset === null || (state.committedOffset !== null && offset <= state.committedOffset)) return;
  const consumer = context.consumer();
  if (consumer === null || context.stopped()) return;
  try {
    await consumer.commitOffsets([
      { topic: options.topic, partition: state.partition, offset: offset.toString() },
    ]);
  } catch (error) {
    // A rebalance makes Kafka re-deliver from the last commit anyway; anything else is retried by
    // the tick. The data is durable either way; only the re-read grows.
    context.logger.warn(
      { err: error, partition: state.partition, offset: offset.toString() },
      'offset commit failed',
    );
    return;
  }
  if (state.committedOffset !== null && offset <= state.committedOffset) return;
  state.committedOffset = offset;
  releaseCommitted(state);
  context.metrics.committedOffset.set(
    { topic: options.topic, partition: String(state.partition) },
    Number(offset),
  );
  if (options.onCommit !== null) {
    await options.onCommit({ topic: options.topic, partition: state.partition, offset: offset.toString() });
  }
}

// Keeping each partition's watermark: computed after every commit and tick (watermark.ts has the
// rule), written to the lake at most every `watermarkIntervalMs`, and read back once on
// assignment so it never moves back across restarts.
import { type ArchiverWatermark, readArchiverWatermark, writeArchiverWatermark } from '@tandem/lake';
import type { ArchiverContext } from './archiver-context.ts';
import { lagOf, type PartitionState } from './partition-state.ts';
import { computeWatermark } from './watermark.ts';

function minOrNull(values: Array<number | null>): number | null {
  let min = Number.POSITIVE_INFINITY;
  for (const value of values) if (value !== null && value < min) min = value;
  return Number.isFinite(min) ? min : null;
}

/** Advances the partition's watermark and lag metrics; writes the watermark when due (or `force`). */
export function updateWatermark(
  context: ArchiverContext,
  state: PartitionState,
  force: boolean,
): Promise<void> {
  const { options, metrics } = context;
  // Messages still at the builder have unknown event times; under the out-of-orderness bound they
  // are no older than maxEventTime − L, like messages not consumed yet. They only forbid the
  // idle advance.
  // Durable but uncommitted segments count as not durable: a rebalance now would re-deliver them
  // from the last commit, and their rewrite would change an hour that batch may already have sealed.
  const minNotDurable = minOrNull([
    state.openMinEventTime,
    ...state.inflight.map((entry) => entry.segment.minEventTime),
    ...state.awaitingCommit.map((entry) => entry.minEventTime),
  ]);
  const buffered = state.openRecords > 0 || state.inflight.length > 0 || state.pendingRequests > 0;
  const lag = lagOf(state);
  const now = options.now();
  state.watermark = computeWatermark({
    previous: state.watermark,
    maxEventTime: state.maxEventTime,
    minNotDurable,
    caughtUp: !buffered && lag === 0,
    now,
    outOfOrdernessMs: options.outOfOrdernessMs,
    idleAdvance: options.idleWatermarkAdvance,
  });
  const labels = { topic: options.topic, partition: String(state.partition) };
  if (lag !== null) metrics.lag.set(labels, lag);
  if (state.watermark === null) return Promise.resolve();
  metrics.watermark.set(labels, state.watermark / 1000);
  const due = force || now - state.watermarkWrittenAt >= options.watermarkIntervalMs;
  if (
    !due ||
    !state.watermarkLoaded ||
    state.writingWatermark ||
    state.watermark === state.writtenWatermark
  ) {
    return Promise.resolve();
  }
  return writeWatermark(context, state);
}

async function writeWatermark(context: ArchiverContext, state: PartitionState): Promise<void> {
  if (state.watermark === null) return;
  const { options } = context;
  const watermark: ArchiverWatermark = {
    topic: options.topic,
    partition: state.partition,
    watermark: state.watermark,
    // Everything below this offset is in the lake (its commit may still be in flight).
    offset: (state.durableOffset ?? state.committedOffset ?? state.lowWatermark ?? 0n).toString(),
    updatedAt: options.now(),
  };
  state.writingWatermark = true;
  try {
    await writeArchiverWatermark(context.store, watermark, options.stream.lakePrefix);
    state.writtenWatermark = watermark.watermark;
    state.watermarkWrittenAt = watermark.updatedAt;
    options.onWatermark?.(watermark);
  } catch (error) {
    context.logger.warn(
      { err: error, partition: state.partition },
      'could not write the watermark object; retrying',
    );
  } finally {
    state.writingWatermark = false;
  }
}

/** Reads the stored watermark once, so the watermark never moves back across restarts. */
export async function loadWatermark(context: ArchiverContext, state: PartitionState): Promise<void> {
  const { options } = context;
  try {
    const stored = await readArchiverWatermark(
      context.store,
      options.topic,
      state.partition,
      options.stream.lakePrefix,
    );
    if (stored !== null) {
      state.watermark =
        state.watermark === null ? stored.watermark : Math.max(state.watermark, stored.watermark);
      state.writtenWatermark = stored.watermark;
    }
    state.watermarkLoaded = true;
  } catch (error) {
    context.logger.warn(
      { err: error, partition: state.partition },
      'could not read the watermark object; retrying',
    );
  }
}

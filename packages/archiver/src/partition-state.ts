// One Kafka partition's archiving state: the open segment as its builder reports it, the closed
// segments in flight, the offsets (consumed, durable, committed, end) and the watermark.
import type { SealedSegment } from './segment-builder.ts';

export interface InflightSegment {
  segment: SealedSegment;
  done: boolean;
}

export interface PartitionState {
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
  /**
   * Durable segments whose end offset is not committed yet, in offset order: a rebalance would
   * re-deliver (and rewrite) them, so their events still hold the watermark back.
   */
  awaitingCommit: Array<{ endOffset: bigint; minEventTime: number | null }>;
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

/** The state of a partition just assigned: nothing consumed, nothing known. */
export function newPartitionState(partition: number): PartitionState {
  return {
    partition,
    epoch: 0,
    openRecords: 0,
    openMinEventTime: null,
    pendingRequests: 0,
    inflight: [],
    awaitingCommit: [],
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
}

/** Messages not yet durably archived, or null while the end offset is unknown. */
export function lagOf(state: PartitionState): number | null {
  if (state.highWatermark === null) return null;
  const base = state.committedOffset ?? state.lowWatermark;
  if (base === null) return null;
  const lag = state.highWatermark - base;
  return lag > 0n ? Number(lag) : 0;
}

// The archiver's per-partition event-time watermark: the time through which every event of the
// partition is durably in the lake. The batch scheduler treats an hour as complete when every
// partition's watermark has passed its end.
//
// Rule (all times epoch ms, L = outOfOrdernessMs; bounded out-of-orderness means a message is at
// most L older than the newest message before it in the partition, t ≥ maxEventTime − L):
//
//   candidate = maxEventTimeSeen − L − 1                  (every message still to come is newer)
//   candidate = min(candidate, minNotDurable − 1)         (events consumed but not yet uploaded and
//                                                           committed hold it back: an uploaded
//                                                           segment whose offset is not committed
//                                                           is re-read, and rewritten, after a
//                                                           rebalance)
//   if caught up (nothing buffered or uploading, committed offset = the partition's end offset):
//       candidate = max(candidate, now − L − 1)           (an idle partition still advances, assuming
//                                                           producers stamp event time near wall time)
//   watermark = max(previous watermark, candidate)        (never moves back, also across restarts:
//                                                           the previous value is read from the lake)
//
// maxEventTimeSeen counts only messages consumed since the last rewind: when Kafka re-delivers from
// the last commit (a rebalance), the re-delivered events are older than it, so it starts over.
//
// An event that breaks the out-of-orderness bound is still archived into its own hour; the batch
// layer sees that hour's input fingerprint change and recomputes it (stale hour). The watermark is
// a completeness signal, never a filter.

export interface WatermarkInputs {
  previous: number | null;
  maxEventTime: number | null;
  /** Smallest event time among events consumed but not yet durable, or null if none. */
  minNotDurable: number | null;
  caughtUp: boolean;
  now: number;
  outOfOrdernessMs: number;
  idleAdvance: boolean;
}

/** Applies the rule above; null while nothing is known (no event seen, not caught up, no previous). */
export function computeWatermark(inputs: WatermarkInputs): number | null {
  let candidate: number | null =
    inputs.maxEventTime === null ? null : inputs.maxEventTime - inputs.outOfOrdernessMs - 1;
  if (candidate !== null && inputs.minNotDurable !== null) {
    candidate = Math.min(candidate, inputs.minNotDurable - 1);
  }
  if (inputs.caughtUp && inputs.minNotDurable === null && inputs.idleAdvance) {
    const idle = inputs.now - inputs.outOfOrdernessMs - 1;
    candidate = candidate === null ? idle : Math.max(candidate, idle);
  }
  if (inputs.previous === null) return candidate;
  return candidate === null ? inputs.previous : Math.max(inputs.previous, candidate);
}

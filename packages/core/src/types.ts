// The shapes every layer shares: a validated event, a measure's partial state as numeric cells,
// and a partial row (one bucket x one dimension tuple). Both engines produce exactly these.

/** A field value of a normalized event; null when the field is absent (and has no default). */
export type StreamValue = string | number | boolean | null;

/**
 * A validated, normalized event of any stream: every field of the stream's schema, in declaration
 * order, with the event-time field as epoch milliseconds UTC.
 */
export type StreamEvent = Readonly<Record<string, StreamValue>>;

/**
 * A normalized event of the built-in web stream. `timestamp` is epoch milliseconds UTC; absent
 * optionals are null. (A type, not an interface, so it is a `StreamEvent` too.)
 */
export type TandemEvent = {
  event_id: string;
  timestamp: number;
  endpoint: string;
  method: string;
  status_code: number;
  response_time_ms: number;
  bytes_sent: number | null;
  user_id: string | null;
  session_id: string | null;
  page_id: string | null;
};

/** Fields a view may group by, filter on or measure. */
export type EventField = keyof TandemEvent;

/** Bucket sizes a view may declare. */
export type BucketSize = '1m' | '5m' | '15m' | '30m' | '1h';

/** How every cell of one measure's partial state merges with the same cell of another. */
export type MergeOp = 'add' | 'min' | 'max';

/**
 * A measure's partial state, flattened to named numeric cells that all merge with the measure's
 * one `MergeOp`. This single shape is what Redis hashes (`HINCRBYFLOAT` / Lua min / max), Parquet
 * files and HTTP responses store, so no layer needs to know a measure's internals to merge it.
 * Examples: count `{n: 5}`; avg `{s: 12.5, n: 3}`; min `{v: 1}` (empty state `{}`);
 * HyperLogLog `{"<register>": rank}` (max); DDSketch `{"<bin>": count, "z": zeroCount}` (add);
 * topK `{"<key>": count}` (add).
 */
export type Cells = Record<string, number>;

/** A dimension value: the event field's value, or null when the field was absent. */
export type DimensionValue = string | number | null;

/** One bucket of one view for one tuple of dimension values, with every measure's partial state. */
export interface PartialRow {
  /** Bucket start, epoch ms UTC. */
  bucket: number;
  /** Dimension values in the order of the view's `dimensions`. */
  dims: DimensionValue[];
  /** Partial state per measure name. */
  states: Record<string, Cells>;
}

/** Half-open interval [from, to) of epoch ms UTC. */
export interface TimeRange {
  from: number;
  to: number;
}

/** Equality filter on dimensions, as queries send it (`endpoint=/api/x`). */
export type DimensionFilter = Record<string, string>;

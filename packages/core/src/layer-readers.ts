// The contracts between the layers, written once: what the serving layer (and the cli, and the
// exporter) read from the batch layer and from the speed layer (docs/contracts.md). Batch implements
// `BatchViewReader` over the lake (`LakeBatchViewReader`), speed implements `SpeedViewReader` over
// Redis (`RedisSpeedViewReader`); serving depends on these interfaces only, so it needs neither
// layer at run time and its tests can hand it small doubles. The exporter reads sealed runs as text
// through `SealedRunTextReader` (also implemented by batch's reader). Views are named, never passed: each
// reader resolves a name in its own catalog (view names are unique in a deployment).
import type { DimensionFilter, PartialRow, TimeRange } from './types.ts';
import type { View } from './view.ts';

/** A sealed hour as a pointer named it when listed. */
export interface SealedHour {
  /** Start of the hour, epoch ms. */
  hour: number;
  runId: string;
  /** The pointer object's etag: changes with every publish of the hour. */
  pointerVersion: string;
}

/** How a batch run ended. */
export type RunStatus = 'published' | 'failed' | 'skipped';

/** What started a batch run. */
export type RunTrigger = 'hourly' | 'nightly' | 'catch-up' | 'manual' | 'recompute' | 'backfill';

/** One finished attempt of a batch run, as the run history keeps it (newest first per view). */
export interface RunRecord {
  runId: string;
  view: string;
  viewVersion: number;
  /** Start of the hour, epoch ms. */
  hour: number;
  status: RunStatus;
  trigger: RunTrigger;
  /** 1 for the first attempt; retries of retryable failures count up. */
  attempt: number;
  startedAt: number;
  finishedAt: number;
  durationMs: number;
  rowsIn: number;
  rowsOut: number;
  badRows: number;
  duplicateRows: number;
  fencingToken: number | null;
  owner: string;
  /** Why a run was skipped or failed (`up-to-date`, `leased-elsewhere`, an error code). */
  reason: string | null;
  /** The bad-row report of the run, if it found bad lines. */
  quarantineKey: string | null;
  error: { code: string; message: string } | null;
}

/** What the serving layer reads from the batch layer. */
export interface BatchViewReader {
  sealedHours(view: string, range: TimeRange): Promise<SealedHour[]>;
  /** Every hour before it is sealed; null while the view has no sealed hour. */
  sealedThrough(view: string): Promise<number | null>;
  /**
   * Partial rows of exactly these runs, filtered by dimension equality: reading the given pointer
   * versions means a publish in between changes nothing.
   */
  readPartials(view: string, hours: SealedHour[], filter: DimensionFilter): Promise<PartialRow[]>;
  staleHours(view: string): Promise<number[]>;
  runHistory(view: string, limit: number): Promise<RunRecord[]>;
}

/** How `SealedRunTextReader.readRunText` spells a run. */
export interface RunTextOptions {
  /** Values every line carries after the finalized measures (the exporter's run id, token, pointer
   *  version), as text; the reader escapes them. */
  trailer: readonly string[];
  /** Lines per chunk: bounds the size of one piece handed to a writer. */
  chunkRows: number;
}

/** One piece of a run as text: `rows` lines, in file order. */
export interface RunTextChunk {
  rows: number;
  /**
   * `rows` lines of PostgreSQL COPY text (tab between fields, `\N` for null, backslash escapes),
   * each ending in `\n`: the bucket start (ISO 8601, UTC), the dimensions in view order, the values
   * of `RunText.finalized` in order, then the trailer. Text values are not checked for NUL, which
   * COPY can not carry: the writer refuses them.
   */
  text: string;
  /** Per measure of `RunText.deferred`, per line: its stored cells as JSON, or null when absent. */
  cells: Array<Array<string | null>>;
}

/** A sealed run read once for export (see `SealedRunTextReader`). */
export interface RunText {
  rows: number;
  /**
   * The finished values in each line after the dimensions, by output name (`measure.outputs`): the
   * scalar measures (count, sum, min, max, avg), in view order, each exactly core's `finalize` of
   * the decoded states as `String(value)` would print it (a float may be spelled differently, e.g.
   * `123.0`, `1.5e-07`, but reads as the same double).
   */
  finalized: string[];
  /** Measures the reader leaves to the caller (the sketches: distinct, quantiles, topK), in view
   *  order; finish each line's with core's `measure.finalize` of `adoptCells(JSON.parse(cells))`. */
  deferred: string[];
  chunks: RunTextChunk[];
}

/**
 * What the exporter reads from the batch layer: one sealed run, read once (no cache) and finished
 * into text as it is loaded into a database, without building a `PartialRow` per row. Every row's
 * states are checked as `decodeStates` checks them (encoding, view and measure versions: a
 * mismatch is `TANDEM_ERR_STATE_VERSION`); its values equal `finalizeStates` of the row that
 * `BatchViewReader.readPartials` returns for the same run.
 */
export interface SealedRunTextReader {
  readRunText(view: string, run: SealedHour, options: RunTextOptions): Promise<RunText>;
}

/** One Kafka partition of a stream as the speed layer has applied it. */
export interface SpeedPartitionStatus {
  partition: number;
  appliedOffset: string | null;
  /** Null without a Kafka admin, or while the topic does not exist. */
  lag: number | null;
  watermark: number | null;
  updatedAt: number | null;
}

/** The speed layer's freshness and counters of one stream, plus what else Redis knows. */
export interface SpeedStatus {
  /** The stream these figures are of. */
  stream: string;
  /** Global watermark: the minimum over partitions that have seen events. */
  watermark: number | null;
  maxEventTime: number | null;
  partitions: SpeedPartitionStatus[];
  dlqCount: number;
  lateCount: number;
  eventsApplied: number;
  duplicateCount: number;
  /** Buckets ending at or before this time can no longer change (watermark − allowed lateness). */
  closedThrough: number | null;
  /**
   * Schema registry versions the speed layer met that break a view over the stream, oldest first,
   * each as one sentence: their messages go to the dead-letter topic instead of being counted.
   */
  schemaWarnings: string[];
}

/** What the serving layer reads from the speed layer. */
export interface SpeedViewReader {
  readPartials(view: string, range: TimeRange, filter: DimensionFilter): Promise<PartialRow[]>;
  /**
   * Freshness and counters of one stream (each has its own topic, watermark and counters); without
   * an argument, the web stream `events` when the catalog has it, else its first.
   */
  status(stream?: string): Promise<SpeedStatus>;
}

/**
 * The version of a view that serves now, as the batch layer's generation registry says: every
 * response is built from this one version and names it.
 */
export interface ServedVersion {
  /** The storage number; responses name it `v<n>`. */
  n: number;
  /** Its derived version (the view's fingerprint). */
  fingerprint: string;
  /**
   * The name the layer readers resolve this version by: the view's own name while it is the
   * catalog's definition at that number, else `<view>@v<n>`.
   */
  ref: string;
  /** The version compiled (its `version` is `n`). */
  view: View;
}

/** Reads which version of a view serves (once per request). */
export interface ServedVersionReader {
  /** The active version, or null while the view has no registry (serve the catalog's definition). */
  active(view: string): Promise<ServedVersion | null>;
}

/** Where a view's versions stand (`/v1/status`, `tandem status`). */
export interface ViewVersionStatus {
  /** The version serving reads, `n` and fingerprint. */
  active: { n: number; fingerprint: string };
  /** The version being built beside it, or null. */
  building: { n: number; fingerprint: string; since: number } | null;
  /** Complete hours of the building version's history published so far, and needed (0/0 when none builds). */
  hoursDone: number;
  hoursNeeded: number;
  /** When the last speed worker began writing the building version (null: none has yet). */
  speedSince: number | null;
  /** Whether batch has sealed the hour speed began in (null: no speed worker has started it). */
  speedCaughtUp: boolean | null;
  /** Time left at the build's rate so far, ms; null before its first hour or when none builds. */
  etaMs: number | null;
}

/** A view's version status, or null while the view has no registry. */
export type VersionStatusSource = (view: string) => Promise<ViewVersionStatus | null>;

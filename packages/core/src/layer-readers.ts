// The contracts between the layers, written once: what the serving layer (and the cli, and the
// exporter) read from the batch layer and from the speed layer (docs/contracts.md). Batch implements
// `BatchViewReader` over the lake (`LakeBatchViewReader`), speed implements `SpeedViewReader` over
// Redis (`RedisSpeedViewReader`); serving depends on these interfaces only, so it needs neither
// layer at run time and its tests can hand it small doubles. Views are named, never passed: each
// reader resolves a name in its own catalog (view names are unique in a deployment).
import type { DimensionFilter, PartialRow, TimeRange } from './types.ts';

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

// The two readers serving reads through, as structural copies of docs/contracts.md, so the real
// `BatchViewReader` / `SpeedViewReader` and small in-test doubles satisfy them alike. Views are
// named, never passed: each reader resolves a name in its own catalog (view names are unique in a
// deployment), and serving asks the speed layer about each stream by the stream's name.
import type { DimensionFilter, PartialRow, TimeRange } from '@tandem/core';

/** One published batch hour: the run that produced it and the pointer version that names it. */
export interface SealedHour {
  hour: number;
  runId: string;
  pointerVersion: string;
}

/** What serving needs from the batch layer (`BatchViewReader` in @tandem/batch). */
export interface BatchReader {
  sealedHours(view: string, range: TimeRange): Promise<SealedHour[]>;
  sealedThrough(view: string): Promise<number | null>;
  /** Reads exactly the given pointer versions, so a publish in between changes nothing. */
  readPartials(view: string, hours: SealedHour[], filter: DimensionFilter): Promise<PartialRow[]>;
  staleHours(view: string): Promise<number[]>;
  runHistory(view: string, limit: number): Promise<object[]>;
}

/** The speed layer's status as `SpeedViewReader.status()` reports it. */
export interface SpeedStatus {
  watermark: number | null;
  maxEventTime: number | null;
  partitions: Array<{ partition: number; appliedOffset: string | null; lag: number | null }>;
  dlqCount: number;
  lateCount: number;
  eventsApplied: number;
}

/** What serving needs from the speed layer (`SpeedViewReader` in @tandem/speed). */
export interface SpeedReader {
  readPartials(view: string, range: TimeRange, filter: DimensionFilter): Promise<PartialRow[]>;
  /**
   * The status of one stream's speed layer: its topic's partitions, watermark and counters (each
   * stream has its own). A reader of a single stream may ignore the argument.
   */
  status(stream: string): Promise<SpeedStatus>;
}

// What the archiver's parts share: its options, metrics, logger, lake, counters and the state of
// its consumer. The Archiver builds one and hands it to uploads, commits and watermarks.
import type { ObjectStore } from '@tandem/lake';
import type { Consumer } from 'kafkajs';
import type { Logger } from 'pino';
import type { ArchiverMetrics } from './metrics.ts';
import type { ArchiverOptions } from './options.ts';

/** Running totals reported by `status()`. */
export interface ArchiverCounters {
  eventsArchived: number;
  eventsInvalid: number;
  filesWritten: number;
}

export interface ArchiverContext {
  readonly options: ArchiverOptions;
  readonly metrics: ArchiverMetrics;
  readonly logger: Logger;
  readonly store: ObjectStore;
  readonly counters: ArchiverCounters;
  /** The group consumer once started, else null. */
  consumer(): Consumer | null;
  /** Whether the archiver has stopped (no more retries, no more commits). */
  stopped(): boolean;
}

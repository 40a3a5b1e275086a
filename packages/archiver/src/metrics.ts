// The archiver's Prometheus metrics, registered on the registry the caller passes (the cli's
// /metrics endpoint) or on a private one. Rates (events/s) come from the counters via rate().
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ArchiverMetrics {
  events: Counter<'topic' | 'outcome'>;
  files: Counter<'topic'>;
  bytes: Counter<'topic' | 'stage'>;
  segments: Counter<'topic' | 'reason'>;
  uploadSeconds: Histogram<'topic'>;
  lag: Gauge<'topic' | 'partition'>;
  watermark: Gauge<'topic' | 'partition'>;
  committedOffset: Gauge<'topic' | 'partition'>;
  inflightBytes: Gauge<'topic'>;
}

/**
 * Creates the metrics on `registry`, or reuses them when another archiver (another topic) already
 * registered them there: prom-client refuses a second metric of the same name on one registry.
 */
export function createArchiverMetrics(registry: Registry): ArchiverMetrics {
  const reuse = <T>(name: string, create: () => T): T =>
    (registry.getSingleMetric(name) as T | undefined) ?? create();
  const registers = [registry];
  return {
    events: reuse(
      'tandem_archiver_events_total',
      () =>
        new Counter({
          name: 'tandem_archiver_events_total',
          help: 'Kafka messages consumed by the archiver: outcome="archived" (durably in the lake) or "invalid" (skipped; the speed layer dead-letters them)',
          labelNames: ['topic', 'outcome'],
          registers,
        }),
    ),
    files: reuse(
      'tandem_archiver_files_total',
      () =>
        new Counter({
          name: 'tandem_archiver_files_total',
          help: 'Archive files uploaded to the lake',
          labelNames: ['topic'],
          registers,
        }),
    ),
    bytes: reuse(
      'tandem_archiver_bytes_total',
      () =>
        new Counter({
          name: 'tandem_archiver_bytes_total',
          help: 'Bytes archived: stage="ndjson" before compression, "gzip" as uploaded',
          labelNames: ['topic', 'stage'],
          registers,
        }),
    ),
    segments: reuse(
      'tandem_archiver_segments_total',
      () =>
        new Counter({
          name: 'tandem_archiver_segments_total',
          help: 'Segments closed, by reason (records, bytes, max-wait, stop)',
          labelNames: ['topic', 'reason'],
          registers,
        }),
    ),
    uploadSeconds: reuse(
      'tandem_archiver_upload_seconds',
      () =>
        new Histogram({
          name: 'tandem_archiver_upload_seconds',
          help: 'Time to compress and upload one archive file',
          labelNames: ['topic'],
          buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
          registers,
        }),
    ),
    lag: reuse(
      'tandem_archiver_lag_messages',
      () =>
        new Gauge({
          name: 'tandem_archiver_lag_messages',
          help: 'Messages in the partition not yet durably archived (end offset − committed offset)',
          labelNames: ['topic', 'partition'],
          registers,
        }),
    ),
    watermark: reuse(
      'tandem_archiver_watermark_seconds',
      () =>
        new Gauge({
          name: 'tandem_archiver_watermark_seconds',
          help: 'Event time (epoch seconds) through which every event of the partition is archived',
          labelNames: ['topic', 'partition'],
          registers,
        }),
    ),
    committedOffset: reuse(
      'tandem_archiver_committed_offset',
      () =>
        new Gauge({
          name: 'tandem_archiver_committed_offset',
          help: 'Last offset committed by the archiver (next offset to archive)',
          labelNames: ['topic', 'partition'],
          registers,
        }),
    ),
    inflightBytes: reuse(
      'tandem_archiver_inflight_bytes',
      () =>
        new Gauge({
          name: 'tandem_archiver_inflight_bytes',
          help: 'NDJSON bytes of closed segments still compressing or uploading',
          labelNames: ['topic'],
          registers,
        }),
    ),
  };
}

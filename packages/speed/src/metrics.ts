// Prometheus metrics of the speed worker, registered on a registry the caller owns (the cli
// exposes it; tests pass a fresh one). Rates (events/s) come from the counters via rate(). Every
// series carries the stream's name, so the workers of several streams in one process share them.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What happened to each consumed message. */
export type EventOutcome = 'applied' | 'duplicate' | 'late' | 'dlq';

export interface SpeedMetrics {
  /** Messages by outcome; `rate(tandem_speed_events_total{outcome="applied"}[1m])` is events/s. */
  events: Counter<'stream' | 'outcome'>;
  /** Messages between the applied offset and the partition's high watermark. */
  lag: Gauge<'stream' | 'partition'>;
  /** Per-partition watermark (event time − out-of-orderness), epoch seconds. */
  watermark: Gauge<'stream' | 'partition'>;
  /** Time from the first message of a micro-batch to its Redis apply (fold + script), seconds. */
  flushSeconds: Histogram<'stream'>;
  /**
   * Micro-batches rejected by the fence or the offset check (another owner, or a replay), or
   * refused as unappliable and dead-lettered (`refused`).
   */
  rejectedBatches: Counter<'stream' | 'reason'>;
  /** Partitions rebuilt from Kafka because Redis had lost their state. */
  rebuilds: Counter<'stream'>;
  /**
   * Dead letters by error code: `TANDEM_ERR_EVENT_SCHEMA_INCOMPATIBLE` counts the messages of a
   * registry writer version that drops a field a view reads, `_SCHEMA_UNKNOWN` / `_FRAMING` /
   * `_UNDECODABLE` bad framing, the others events that break the stream's schema.
   */
  deadLetters: Counter<'stream' | 'code'>;
}

/** Creates the speed metrics on `registry`. Call once per registry; share the result between workers. */
export function createSpeedMetrics(registry: Registry): SpeedMetrics {
  const registers = [registry];
  return {
    events: new Counter({
      name: 'tandem_speed_events_total',
      help: 'Messages consumed by the speed layer, by outcome (applied, duplicate, late, dlq)',
      labelNames: ['stream', 'outcome'],
      registers,
    }),
    lag: new Gauge({
      name: 'tandem_speed_lag_messages',
      help: 'Messages not yet applied to the real-time views, per stream and Kafka partition',
      labelNames: ['stream', 'partition'],
      registers,
    }),
    watermark: new Gauge({
      name: 'tandem_speed_watermark_seconds',
      help: 'Event-time watermark per stream and Kafka partition (max event time minus out-of-orderness)',
      labelNames: ['stream', 'partition'],
      registers,
    }),
    flushSeconds: new Histogram({
      name: 'tandem_speed_flush_seconds',
      help: 'Latency of one micro-batch from its first message to the applied Redis script',
      labelNames: ['stream'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    rejectedBatches: new Counter({
      name: 'tandem_speed_rejected_batches_total',
      help: 'Micro-batches the Redis script refused: fenced (partition lost), offset (replay) or refused (unappliable deltas, dead-lettered)',
      labelNames: ['stream', 'reason'],
      registers,
    }),
    rebuilds: new Counter({
      name: 'tandem_speed_rebuilds_total',
      help: 'Partitions rebuilt from Kafka after Redis lost their applied offset',
      labelNames: ['stream'],
      registers,
    }),
    deadLetters: new Counter({
      name: 'tandem_speed_dead_letters_total',
      help: 'Messages sent to the dead-letter topic, by error code (TANDEM_ERR_EVENT_SCHEMA_INCOMPATIBLE: a registry schema version that drops a field a view reads)',
      labelNames: ['stream', 'code'],
      registers,
    }),
  };
}

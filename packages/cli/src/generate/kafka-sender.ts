// Sends generated traffic to Kafka: paced by each record's send time (records already due go out
// at once, so a stream that starts in the past catches up in a burst, then runs live), in batches,
// one request at a time so per-key order (an event, then its late or poison sibling) is kept.
import type { Producer } from 'kafkajs';
import type { TrafficRecord } from './traffic.ts';

/** What the sender reads of a record: web traffic and schema-driven records both fit. */
export interface SendableRecord {
  sendAt: number;
  key: string;
  value: Uint8Array;
}

export interface KafkaSendOptions<R extends SendableRecord = TrafficRecord> {
  topic: string;
  /** Ignore send times and go as fast as the broker takes it. @defaultValue false */
  burst?: boolean;
  /** Messages per produce request at most. @defaultValue 1000 */
  batchSize?: number;
  signal?: AbortSignal;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called after each produce request with the records it carried. */
  onSent?: (records: R[]) => void;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Produces every record (until the signal aborts) and resolves with how many were sent. On abort it
 * sends what was already due and stops; the truth of a partial run is the records passed to onSent.
 */
export async function sendTrafficToKafka<R extends SendableRecord = TrafficRecord>(
  producer: Producer,
  records: Iterable<R>,
  options: KafkaSendOptions<R>,
): Promise<number> {
  const batchSize = options.batchSize ?? 1000;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  let pending: R[] = [];
  let sent = 0;
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    await producer.send({
      topic: options.topic,
      acks: -1,
      messages: batch.map((record) => ({
        key: record.key,
        value: Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength),
      })),
    });
    sent += batch.length;
    options.onSent?.(batch);
  };
  for (const record of records) {
    if (options.signal?.aborted) break;
    if (!options.burst) {
      const wait = record.sendAt - now();
      if (wait > 20) {
        await flush();
        await sleep(wait, options.signal);
        if (options.signal?.aborted) break;
      }
    }
    pending.push(record);
    if (pending.length >= batchSize) await flush();
  }
  await flush();
  return sent;
}

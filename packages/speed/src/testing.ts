// The speed layer's public entry for tests and benchmarks (`@tandem/speed/testing`): put known
// events into Redis exactly as a worker would — claim the partition, fold the events with the
// views' compiled reducers, and apply the deltas and the offset with the worker's own Lua script —
// without running Kafka. Other packages seed real-time views through this, never through speed's
// private modules, so the key layout and the script stay speed's own business.
import { compileReducer, TandemError, type TandemEvent, type View } from '@tandem/core';
import { BucketDeltaBuilder, type DeltaView } from './bucket-deltas.ts';
import { speedKeys } from './key-schema.ts';
import { applyBatch, claimPartition, type RedisClient } from './scripts.ts';

// The apply-level pieces, for benchmarks that measure them one by one (scripts/bench/speed-apply).
export { BucketDeltaBuilder, type DeltaView } from './bucket-deltas.ts';
export { applyBatch, claimPartition } from './scripts.ts';

export interface SeedOptions {
  /** `REDIS_PREFIX` of the keys (`speedKeys(prefix, stream)`). */
  prefix: string;
  /** The stream whose keys to write. @defaultValue 'events' (the web stream) */
  stream?: string;
  /** The Kafka partition the events came from. */
  partition: number;
  /** The views to fold the events into (none sessionized). */
  views: readonly View[];
  /** The partition's events, in offset order (offsets 0 … n-1 of a fresh partition). */
  events: readonly TandemEvent[];
  /** Who claims the partition. @defaultValue 'test' */
  owner?: string;
  /** The bucket indexes' TTL. @defaultValue 2 days */
  ttlMs?: number;
}

/**
 * Writes `events` of one fresh partition into the views as the speed worker would, in one applied
 * micro-batch (offsets 0 … n-1, watermark 30 s behind the newest event). Throws unless Redis
 * applied it.
 */
export async function seedSpeedViews(redis: RedisClient, options: SeedOptions): Promise<void> {
  const { partition, views, events } = options;
  if (events.length === 0) return;
  if (views.some((view) => view.sessionize !== null)) {
    throw new TandemError(
      'TANDEM_ERR_VIEW_INVALID',
      'seedSpeedViews folds plain views only; sessionized views need the worker',
    );
  }
  const owner = options.owner ?? 'test';
  const ttlMs = options.ttlMs ?? 2 * 86_400_000;
  const keys = speedKeys(options.prefix, options.stream);
  const claim = await claimPartition(redis, keys.meta(partition), owner, Date.now());
  await redis.sadd(keys.partitions(), String(partition));
  const deltas = new BucketDeltaBuilder(keys, partition, ttlMs / 2);
  views.forEach((view, index) => {
    const reducer = compileReducer(view);
    for (const event of events) reducer.add(event);
    const measureOps = new Map(Object.entries(view.measures).map(([name, spec]) => [name, spec.op]));
    const deltaView: DeltaView = {
      name: view.name,
      version: view.version,
      bucketMs: view.bucketMs,
      measureOps,
    };
    deltas.addRows(deltaView, index, reducer.rows());
  });
  const maxEventTime = Math.max(...events.map((event) => event.timestamp));
  const result = await applyBatch(redis, {
    metaKey: keys.meta(partition),
    sessionsKey: keys.sessions(partition),
    epoch: claim.epoch,
    owner,
    prevOffset: claim.appliedOffset,
    nextOffset: String(events.length - 1),
    maxEventTime,
    watermark: maxEventTime - 30_000,
    nowMs: Date.now(),
    counters: { applied: events.length, dlq: 0, late: 0, duplicates: 0 },
    indexes: views.map((view) => ({
      key: keys.bucketIndex(partition, view.name, view.version),
      trimBelowMs: 0,
      ttlMs,
    })),
    sessionUpserts: [],
    sessionDeletions: [],
    buckets: deltas.build(),
  });
  if (result.status !== 'OK') {
    throw new TandemError(
      'TANDEM_ERR_INTERNAL',
      `seedSpeedViews: Redis did not apply the batch (${JSON.stringify(result)})`,
    );
  }
}

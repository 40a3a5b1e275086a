// The reader on a real Redis: partial rows written per partition by the apply script come back
// merged with each measure's own merge, filtered by dimension, and dropHours removes sealed hours.
import {
  compileReducer,
  getView,
  HOUR_MS,
  MINUTE_MS,
  mergePartialRows,
  type TandemEvent,
} from '@tandem/core';
import { afterAll, describe, expect, it } from 'vitest';
import { BucketDeltaBuilder } from '../src/bucket-deltas.ts';
import { speedKeys } from '../src/key-schema.ts';
import { applyBatch, claimPartition } from '../src/scripts.ts';
import { RedisSpeedViewReader } from '../src/speed-view-reader.ts';
import { deletePrefix } from '@tandem/test-support/redis.ts';
import { connectRedis, uniqueName } from '@tandem/test-support/stack.ts';
import { canonicalRows } from './support/truth.ts';

const redis = connectRedis();
const prefix = uniqueName('reader');
const keys = speedKeys(prefix);
const base = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 2 * HOUR_MS;

afterAll(async () => {
  await deletePrefix(redis, prefix);
  await redis.quit();
});

function event(i: number, partition: number): TandemEvent {
  return {
    event_id: `e${partition}-${i}`,
    timestamp: base + ((i * 7 * MINUTE_MS) % (2 * HOUR_MS)),
    endpoint: `/e${i % 3}`,
    method: 'GET',
    status_code: i % 5 === 0 ? 500 : 200,
    response_time_ms: (i % 40) / 4 + partition,
    bytes_sent: i * 10,
    user_id: `u${i % 11}`,
    session_id: null,
    page_id: i % 2 === 0 ? `/p${i % 7}` : null,
  };
}

/** Writes `events` of one partition through the real script, as the worker does. */
async function writePartition(partition: number, views: string[], events: TandemEvent[]): Promise<void> {
  const claim = await claimPartition(redis, keys.meta(partition), 'owner', Date.now());
  await redis.sadd(keys.partitions(), String(partition));
  const deltas = new BucketDeltaBuilder(keys, partition, 86_400_000);
  views.forEach((name, index) => {
    const view = getView(name);
    const reducer = compileReducer(view);
    for (const e of events) reducer.add(e);
    const ops = new Map(Object.entries(view.measures).map(([m, measure]) => [m, measure.op]));
    deltas.addRows(
      { name, version: view.version, bucketMs: view.bucketMs, measureOps: ops },
      index,
      reducer.rows(),
    );
  });
  const now = Date.now();
  await applyBatch(redis, {
    metaKey: keys.meta(partition),
    sessionsKey: keys.sessions(partition),
    epoch: claim.epoch,
    owner: 'owner',
    prevOffset: claim.appliedOffset,
    nextOffset: String(Number(claim.appliedOffset ?? -1) + events.length),
    maxEventTime: Math.max(...events.map((e) => e.timestamp)),
    watermark: Math.max(...events.map((e) => e.timestamp)) - 30_000,
    nowMs: now,
    counters: { applied: events.length, dlq: 0, late: 0, duplicates: 0 },
    indexes: views.map((name) => {
      const view = getView(name);
      return { key: keys.bucketIndex(partition, name, view.version), trimBelowMs: 0, ttlMs: 90_000_000 };
    }),
    sessionUpserts: [],
    sessionDeletions: [],
    buckets: deltas.build(),
  });
}

describe('RedisSpeedViewReader', () => {
  it('merges partitions with each measure’s merge, filters dimensions, and drops sealed hours', async () => {
    const views = ['endpoint_hourly', 'trending_pages'];
    const byPartition = [0, 1, 2].map((p) => Array.from({ length: 120 }, (_, i) => event(i, p)));
    for (const [partition, events] of byPartition.entries()) await writePartition(partition, views, events);
    const all = byPartition.flat();
    const reader = new RedisSpeedViewReader({ redis, prefix });
    const range = { from: base, to: base + 2 * HOUR_MS };

    for (const name of views) {
      const view = getView(name);
      const reducer = compileReducer(view);
      for (const e of all) reducer.add(e);
      const expected = mergePartialRows(view, reducer.rows());
      expect(canonicalRows(await reader.readPartials(name, range, {}))).toEqual(canonicalRows(expected));
    }

    const filtered = await reader.readPartials('endpoint_hourly', range, { endpoint: '/e1' });
    expect(filtered.length).toBe(2);
    expect(filtered.every((row) => row.dims[0] === '/e1')).toBe(true);
    await expect(reader.readPartials('endpoint_hourly', range, { nope: 'x' })).rejects.toThrow(
      /no dimension/,
    );

    const status = await reader.status();
    expect(status.eventsApplied).toBe(360);
    expect(status.partitions.map((p) => p.appliedOffset)).toEqual(['119', '119', '119']);
    expect(status.partitions.every((p) => p.lag === null)).toBe(true);

    const dropped = await reader.dropHours('trending_pages', [base]);
    expect(dropped).toBeGreaterThan(0);
    const left = await reader.readPartials('trending_pages', range, {});
    expect(left.length).toBeGreaterThan(0);
    expect(left.every((row) => row.bucket >= base + HOUR_MS)).toBe(true);
    expect(await reader.readPartials('endpoint_hourly', { from: base, to: base + HOUR_MS }, {})).not.toEqual(
      [],
    );
  });
});

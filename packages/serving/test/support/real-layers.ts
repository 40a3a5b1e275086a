// The real batch and speed layers under a serving test: events archived as the archiver writes them
// (gzipped NDJSON per hour in a file:// lake), published by the real batch layer (DuckDB → Parquet →
// pointers), and written into the shared Redis through the speed layer's own apply script, all under
// a prefix of the test's own. The real LakeBatchViewReader and RedisSpeedViewReader then feed a server.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type BatchLayer, openBatchLayer } from '@tandem/batch';
import { type Catalog, getView, HOUR_MS, type TandemEvent } from '@tandem/core';
import { logPartitionPrefix, type ObjectStore } from '@tandem/lake';
import { RedisSpeedViewReader } from '@tandem/speed';
// Seeded as a worker would write them (claim, fold, the worker's apply script), through the speed
// layer's public test entry: a Kafka round trip adds nothing here.
import { seedSpeedViews } from '@tandem/speed/testing';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { createTestLake, type TestLake } from '@tandem/test-support/lake.ts';
import { deleteKeys } from '@tandem/test-support/redis.ts';
import { connectRedis, uniqueName } from '@tandem/test-support/stack.ts';

/** Views the speed layer holds in these tests (the web stream's). */
export const SPEED_VIEWS = ['endpoint_hourly', 'trending_pages'];

export interface RealLayers {
  redis: Redis;
  store: ObjectStore;
  lake: TestLake;
  batch: BatchLayer;
  speed: RedisSpeedViewReader;
  /** Redis prefix of this test's speed keys, run history and rate-limit counters. */
  prefix: string;
  /** Removes what the test wrote (Redis keys, lake, temp files) and closes every client. */
  teardown(): Promise<void>;
}

/**
 * Opens the layers over a fresh file lake holding `events` as archived hourly log files; both
 * readers and the batch layer resolve views in `catalog` (the built-in one by default).
 */
export async function openRealLayers(events: readonly TandemEvent[], catalog?: Catalog): Promise<RealLayers> {
  const redis = connectRedis(undefined, { maxRetriesPerRequest: 2 });
  const lake = await createTestLake('file');
  const tempDirectory = await mkdtemp(join(tmpdir(), 'tandem-serving-tmp-'));
  const prefix = uniqueName();
  await writeLogs(lake.store, events);
  const batch = await openBatchLayer({
    store: lake.store,
    redis,
    redisPrefix: prefix,
    tempDirectory,
    threads: 1,
    memoryLimit: '512MB',
    logger: pino({ level: 'silent' }),
    pointerCacheTtlMs: 0,
    ...(catalog === undefined ? {} : { catalog }),
  });
  return {
    redis,
    store: lake.store,
    lake,
    batch,
    speed: new RedisSpeedViewReader({ redis, prefix, ...(catalog === undefined ? {} : { catalog }) }),
    prefix,
    async teardown() {
      const errors: unknown[] = [];
      await batch.close().catch((error) => errors.push(error));
      await deleteKeys(redis, `${prefix}*`).catch((error) => errors.push(error));
      await redis.quit().catch((error) => errors.push(error));
      await lake.teardown().catch((error) => errors.push(error));
      await rm(tempDirectory, { recursive: true, force: true });
      if (errors.length > 0) throw new AggregateError(errors, 'teardown failed');
    },
  };
}

/** One archived log file per hour that has events, as the archiver names them. */
async function writeLogs(store: ObjectStore, events: readonly TandemEvent[]): Promise<void> {
  const byHour = new Map<number, string[]>();
  for (const event of events) {
    const hour = Math.floor(event.timestamp / HOUR_MS) * HOUR_MS;
    const lines = byHour.get(hour) ?? [];
    lines.push(JSON.stringify({ ...event, timestamp: new Date(event.timestamp).toISOString() }));
    byHour.set(hour, lines);
  }
  let offset = 0;
  for (const [hour, lines] of [...byHour].sort(([a], [b]) => a - b)) {
    await store.put(
      `${logPartitionPrefix(hour)}events+0+${offset}.json.gz`,
      gzipSync(`${lines.join('\n')}\n`),
    );
    offset += lines.length;
  }
}

/** Writes events of one Kafka partition through the speed layer's apply script. */
export async function writeSpeed(
  layers: Pick<RealLayers, 'redis' | 'prefix'>,
  partition: number,
  partitionEvents: readonly TandemEvent[],
): Promise<void> {
  await seedSpeedViews(layers.redis, {
    prefix: layers.prefix,
    partition,
    views: SPEED_VIEWS.map((name) => getView(name)),
    events: partitionEvents,
    owner: 'serving-test',
  });
}

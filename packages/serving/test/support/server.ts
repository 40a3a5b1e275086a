// Builds a server over in-memory readers seeded with events: batch seals some hours, speed holds
// every hour (as it does until the grace period ends), so both sources overlap on purpose.
import { createHash } from 'node:crypto';
import {
  finalizeStates,
  getView,
  HOUR_MS,
  type StreamEvent,
  type TandemEvent,
  type View,
} from '@tandem/core';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/index.ts';
import type { BuildServerOptions } from '../../src/options.ts';
import {
  generateEvents,
  type MemoryBatchReader,
  type MemorySpeedReader,
  seedReaders,
  truthSeries,
  type Granularity,
} from './fixtures.ts';

export const T0 = Date.UTC(2026, 0, 10, 0, 0, 0);

export interface Seeded {
  app: FastifyInstance;
  batch: MemoryBatchReader;
  speed: MemorySpeedReader;
  events: TandemEvent[];
  sealedHours: number;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Events over `hours` hours from T0; the first `sealedHours` are published by batch. */
export async function seededServer(
  options: Partial<BuildServerOptions> & { hours?: number; sealedHours?: number; eventCount?: number } = {},
): Promise<Seeded> {
  const hours = options.hours ?? 48;
  const sealedHours = options.sealedHours ?? 40;
  const events = generateEvents({
    seed: 7,
    from: T0,
    to: T0 + hours * HOUR_MS,
    count: options.eventCount ?? 6000,
  });
  const { batch, speed } = seedReaders(events, T0, sealedHours);
  speed.watermark = T0 + hours * HOUR_MS - 1;
  const app = await buildServer({
    batch,
    speed,
    logLevel: 'silent',
    now: () => T0 + hours * HOUR_MS + 10 * 60_000,
    rateLimit: false,
    dashboardDir: null,
    speedCacheTtlMs: 0,
    closedSpeedCacheTtlMs: 0,
    snapshotTtlMs: 0,
    ...options,
  });
  return { app, batch, speed, events, sealedHours };
}

/**
 * Finished truth values keyed like the API's series: JSON of dims in groupBy order → bucket → values.
 * A view name means a built-in view.
 */
export function truthValues(
  viewOrName: View | string,
  events: readonly StreamEvent[],
  query: {
    range: { from: number; to: number };
    granularity: Granularity;
    filter: Record<string, string>;
    groupBy: string[];
  },
): Map<string, Map<number, Record<string, unknown>>> {
  const view: View = typeof viewOrName === 'string' ? getView(viewOrName) : viewOrName;
  const states = truthSeries(view, events, query);
  const out = new Map<string, Map<number, Record<string, unknown>>>();
  for (const [key, buckets] of states) {
    const finished = new Map<number, Record<string, unknown>>();
    for (const [bucket, bucketStates] of buckets) finished.set(bucket, finalizeStates(view, bucketStates));
    out.set(key, finished);
  }
  return out;
}

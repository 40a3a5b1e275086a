// The batch status record and the scheduler's loop on the real stack: the scheduler keeps each
// view's sealed-through and stale hours in Redis, and status readers answer from it without listing
// the lake; a publish refreshes it; without a record a reader computes it once for everyone. A stop
// during a catch-up returns within seconds, between hours: the hours published are complete and
// exact, the others untouched. `health()` says when the loop is stopped or wedged.
import { builtinViews, HOUR_MS, type TandemEvent } from '@tandem/core';
import type { ObjectInfo, ObjectStore } from '@tandem/lake';
import { logPartitionPrefix } from '@tandem/lake';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { viewHourPrefix } from '../src/index.ts';
import { expectEndpointTruth } from './support/assertions.ts';
import {
  createTestEnv,
  encodeNdjson,
  endpointTruth,
  generateHour,
  type TestEnv,
  writeHour,
} from './support/fixtures.ts';

const BASE = Date.UTC(2024, 2, 1);
const H = HOUR_MS;
const endpointHourly = builtinViews.endpoint_hourly;
const manual = { schedule: () => ({ stop: () => {} }), catchUpOnStart: false };

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv('file');
});
afterEach(async () => {
  await env.teardown();
});

/** The real store, counting the listings made through it. */
function countingStore(store: ObjectStore): { store: ObjectStore; lists: () => number; reset: () => void } {
  let lists = 0;
  const counted = new Proxy(store, {
    get(target, property) {
      if (property === 'list') {
        return (prefix: string): AsyncIterable<ObjectInfo> => {
          lists++;
          return target.list(prefix);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    store: counted,
    lists: () => lists,
    reset: () => {
      lists = 0;
    },
  };
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function writeHours(count: number, seed: number): Promise<TandemEvent[]> {
  const events: TandemEvent[] = [];
  for (let h = 0; h < count; h++) {
    const data = generateHour(BASE + h * H, { seed: seed + h, events: 40, badLines: 0 });
    events.push(...data.events);
    await writeHour(env.lake.store, data);
  }
  return events;
}

describe('batch status record', () => {
  it('is kept by the scheduler and after publishes; readers answer from it without listing the lake', async () => {
    await writeHours(3, 10);
    const options = { now: () => BASE + 3 * H, latenessMs: 0, catchUpMaxHours: 48 };
    const layer = await env.open(options);
    await layer.backfill('endpoint_hourly');
    // A late file makes hour 0 stale.
    const late = generateHour(BASE, { seed: 99, events: 10, badLines: 0, files: 1 });
    await env.lake.store.put(
      `${logPartitionPrefix(BASE)}late.json`,
      encodeNdjson([...late.files.values()][0]!),
    );

    const scheduler = layer.createScheduler({ ...manual, views: ['endpoint_hourly'], statusRefreshMs: 50 });
    scheduler.start();
    const record = await until('the scheduler to store a fresh record', async () => {
      const stored = await layer.statusStore.read('endpoint_hourly', endpointHourly.version);
      return stored !== null && stored.staleHours.length === 1 ? stored : undefined;
    });
    expect(record).toMatchObject({
      view: 'endpoint_hourly',
      stream: 'events',
      sealedThrough: BASE + 3 * H,
      staleHours: [BASE],
      computedAt: BASE + 3 * H,
      computedBy: layer.runner.owner,
    });
    expect(scheduler.health()).toMatchObject({ ok: true, working: null });
    await scheduler.stop();
    expect(scheduler.health()).toMatchObject({ ok: false, detail: 'stopped' });

    // Another process (its own layer, counting its listings) reads the record: no listing at all.
    const counting = countingStore(env.lake.store);
    const serving = await env.open({ ...options, store: counting.store });
    const reader = serving.statusReader({ cacheTtlMs: 0 });
    counting.reset();
    for (let i = 0; i < 20; i++) {
      expect(await reader.sealedThrough('endpoint_hourly')).toBe(BASE + 3 * H);
      expect(await reader.staleHours('endpoint_hourly')).toEqual([BASE]);
    }
    expect(counting.lists()).toBe(0);

    // A publish (no scheduler running) refreshes the record: hour 0 is no longer stale.
    await layer.backfill('endpoint_hourly');
    expect(await reader.staleHours('endpoint_hourly')).toEqual([]);
    expect(counting.lists()).toBe(0);

    // Without a record, the first reader computes it (listing once) and stores it for everyone.
    await env.redis.del(layer.statusStore.key('endpoint_hourly', endpointHourly.version));
    expect(await reader.sealedThrough('endpoint_hourly')).toBe(BASE + 3 * H);
    expect(counting.lists()).toBeGreaterThan(0);
    counting.reset();
    const other = (await env.open({ ...options, store: counting.store })).statusReader({ cacheTtlMs: 0 });
    expect(await other.staleHours('endpoint_hourly')).toEqual([]);
    expect(counting.lists()).toBe(0);
  });
});

describe('batch scheduler loop', () => {
  it('stops a catch-up between hours within seconds: published hours exact, the rest untouched', async () => {
    const HOURS = 8;
    const events = await writeHours(HOURS, 50);
    let stopping: Promise<void> | null = null;
    let stoppedAfterMs = 0;
    const layer = await env.open({
      now: () => BASE + HOURS * H,
      latenessMs: 0,
      catchUpMaxHours: 48,
      maxHoursPerChunk: 2,
      concurrency: 1,
      hooks: {
        onStage: (stage, context) => {
          // Stop as the second hour is published; the stop must not wait on this very hook.
          if (stage === 'published' && context.hours[0] === BASE + H && stopping === null) {
            const started = Date.now();
            stopping = scheduler.stop().then(() => {
              stoppedAfterMs = Date.now() - started;
            });
          }
        },
      },
    });
    const scheduler = layer.createScheduler({ ...manual, views: ['endpoint_hourly'], statusRefreshMs: 0 });
    scheduler.start();
    const outcomes = await scheduler.catchUp().catch(() => []);
    await until('the stop', async () => (stopping === null ? undefined : true));
    await stopping;
    expect(stoppedAfterMs).toBeLessThan(5_000);
    expect(outcomes.map((outcome) => [outcome.hour, outcome.status])).toEqual([
      [BASE, 'published'],
      [BASE + H, 'published'],
    ]);
    layer.reader.invalidate();
    const sealed = await layer.reader.sealedHours('endpoint_hourly', { from: BASE, to: BASE + HOURS * H });
    expect(sealed.map((hour) => hour.hour)).toEqual([BASE, BASE + H]);
    expectEndpointTruth(
      endpointHourly,
      await layer.reader.readPartials('endpoint_hourly', sealed, {}),
      endpointTruth(events.filter((event) => event.timestamp < BASE + 2 * H)),
    );
    for (let h = 2; h < HOURS; h++) {
      const keys: string[] = [];
      for await (const info of env.lake.store.list(
        viewHourPrefix('endpoint_hourly', endpointHourly.version, BASE + h * H),
      ))
        keys.push(info.key);
      expect(keys, `hour ${h}`).toEqual([]);
    }
    // Work queued after the stop never starts.
    await expect(scheduler.catchUp()).rejects.toThrow('the batch scheduler is stopping');
  });

  it('reports itself wedged when its work publishes nothing for too long', async () => {
    await writeHours(1, 70);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reached = false;
    let now = BASE + 2 * H;
    const layer = await env.open({
      now: () => now,
      latenessMs: 0,
      catchUpMaxHours: 48,
      hooks: {
        onStage: async (stage) => {
          if (stage !== 'staged') return;
          reached = true;
          await held;
        },
      },
    });
    const scheduler = layer.createScheduler({
      ...manual,
      views: ['endpoint_hourly'],
      statusRefreshMs: 0,
      wedgedAfterMs: 100,
    });
    scheduler.start();
    const catchUp = scheduler.catchUp();
    await until('the catch-up to hang', async () => (reached ? true : undefined));
    expect(scheduler.health()).toMatchObject({ ok: true, working: 'catch-up' });
    now += 200;
    const wedged = scheduler.health();
    expect(wedged.ok).toBe(false);
    expect(wedged.detail).toMatch(/^catch-up work has finished no hour for \d+ s \(wedged after 0\.1 s\)$/);
    release();
    await catchUp;
    expect(scheduler.health()).toMatchObject({ ok: true, working: null });
    await scheduler.stop();
  });
});

// SIGTERM (what a supervisor sends) during `tandem backfill` and during `tandem batch schedule`'s
// catch-up, through the built command in a child process, on a lake the command itself filled:
// each exits within seconds, every hour it published is complete and equal to the truth, and every
// hour it did not reach is untouched (no pointer, no run file).
import { type BatchLayer, openBatchLayer, viewHourPrefix } from '@tandem/batch';
import type { TrafficOptions } from '@tandem/cli';
import { getView, HOUR_MS, hourStart } from '@tandem/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, World } from './cli/harness.ts';
import { differences, eventsFor, expectedRows, finalized, regenerate } from './cli/truth.ts';

const views = ['endpoint_hourly', 'sessions_hourly', 'trending_pages'] as const;
const HOURS = 8;

describe('SIGTERM stops batch work between hours', () => {
  // No lateness: every generated hour is complete. One chunk at a time, so the work takes a while.
  const world = new World({ BATCH_LATENESS_MS: '0', BATCH_CONCURRENCY: '1' });
  const first = hourStart(Date.now()) - HOURS * HOUR_MS;
  const hours = Array.from({ length: HOURS }, (_, i) => first + i * HOUR_MS);
  let layer: BatchLayer;
  let streams: ReturnType<typeof regenerate>[];

  /** Every view's pointer run id per hour, as in the lake now. */
  async function runIds(): Promise<Map<string, string | null>> {
    layer.reader.invalidate();
    const ids = new Map<string, string | null>();
    for (const view of views) {
      for (const hour of hours)
        ids.set(`${view} ${hour}`, (await layer.reader.pointer(view, hour))?.runId ?? null);
    }
    return ids;
  }

  /** Published hours equal the truth; the others hold no object at all. */
  async function expectCompleteOrUntouched(ids: Map<string, string | null>): Promise<void> {
    const events = eventsFor(streams, 'batch');
    for (const view of views) {
      for (const hour of hours) {
        const label = `${view} ${new Date(hour).toISOString()}`;
        if (ids.get(`${view} ${hour}`) === null) {
          const keys: string[] = [];
          for await (const info of layer.store.list(viewHourPrefix(view, getView(view).version, hour)))
            keys.push(info.key);
          expect(keys, label).toEqual([]);
          continue;
        }
        const sealed = await layer.reader.sealedHours(view, { from: hour, to: hour + HOUR_MS });
        const rows = await layer.reader.readPartials(view, sealed, {});
        // Sessions close by inactivity across hours, so only the hourly counts are compared exactly.
        if (view === 'sessions_hourly') continue;
        expect(
          differences(finalized(view, rows), finalized(view, expectedRows(view, events, hour))),
          label,
        ).toEqual([]);
      }
    }
  }

  /** Starts `args`, sends SIGTERM once some hour not published before is, and times the exit. */
  async function terminateWhilePublishing(
    args: string[],
  ): Promise<{ code: number | null; elapsedMs: number; output: string; before: Map<string, string | null> }> {
    const before = await runIds();
    const child = world.start(args);
    await eventually(
      'a newly published hour',
      async () => {
        const now = await runIds();
        return [...now].some(([key, id]) => id !== null && before.get(key) === null) ? true : undefined;
      },
      120_000,
      20,
    );
    child.signal('SIGTERM');
    const sent = Date.now();
    const code = await child.stop();
    return { code, elapsedMs: Date.now() - sent, output: child.output(), before };
  }

  beforeAll(async () => {
    const generated = await world.json<{ options: TrafficOptions }>([
      'generate',
      '--to',
      'lake',
      '--start',
      String(first),
      '--duration',
      `${HOURS}h`,
      '--rate',
      '2',
      '--late',
      '1%',
      '--duplicates',
      '2%',
      '--seed',
      '303',
    ]);
    streams = [regenerate(generated.options)];
    layer = await openBatchLayer({ config: world.config });
  }, 180_000);

  afterAll(async () => {
    await layer?.close();
    await world.cleanup();
  });

  it('tandem backfill exits 143 within seconds; published hours are exact, the rest untouched', async () => {
    const { code, elapsedMs, output } = await terminateWhilePublishing(['backfill', '--json']);
    expect(code).toBe(143);
    expect(elapsedMs).toBeLessThan(10_000);
    expect(output).toMatch(/"interrupted": true/);
    const ids = await runIds();
    const published = [...ids.values()].filter((id) => id !== null).length;
    expect(published).toBeGreaterThan(0);
    expect(published).toBeLessThan(views.length * HOURS);
    await expectCompleteOrUntouched(ids);
  });

  it('tandem batch schedule stops its catch-up within seconds, cleanly; published hours are exact, the rest untouched', async () => {
    const { code, elapsedMs, output, before } = await terminateWhilePublishing(['batch', 'schedule']);
    expect(code, output).toBe(0);
    expect(elapsedMs).toBeLessThan(10_000);
    expect(output).toContain('stopped cleanly');
    const ids = await runIds();
    // Hours published by the backfill before are still the same runs: a catch-up only fills gaps.
    for (const [key, id] of before) if (id !== null) expect(ids.get(key), key).toBe(id);
    expect([...ids.values()].filter((id) => id !== null).length).toBeLessThan(views.length * HOURS);
    await expectCompleteOrUntouched(ids);
  });
});

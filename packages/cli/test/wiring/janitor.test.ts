// The janitor drops an hour's real-time data only after the grace has passed since it first saw the
// hour sealed, exactly once per namespace, and only in the active namespace; what it remembers to do
// so is bounded.
import { type BatchViewReader, listViews, resolveCatalog, webStreamSpec, webViewSpecs } from '@tandem/core';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { SealedHourJanitor } from '../../src/wiring/janitor.ts';
import type { NamespacedSpeedReader } from '../../src/wiring/speed-runtime.ts';
import { iotStreamSpec, iotViewSpec } from '../support/run-cli.ts';

const HOUR = 3_600_000;

describe('SealedHourJanitor', () => {
  it('drops sealed hours after the grace, once, in the active namespace', async () => {
    let now = 100 * HOUR;
    let namespace = 'tandem';
    const sealed = [97 * HOUR, 98 * HOUR];
    const drops: string[] = [];
    const batch = {
      sealedHours: async () => sealed.map((hour) => ({ hour, runId: 'r', pointerVersion: 'v' })),
    } as unknown as BatchViewReader;
    const speed = {
      namespace: async () => namespace,
      readerFor: (ns: string) => ({
        dropHours: async (view: string, hours: number[]) => {
          drops.push(`${ns} ${view} ${hours.join(',')}`);
          return 1;
        },
      }),
    } as unknown as NamespacedSpeedReader;
    const janitor = new SealedHourJanitor({
      batch,
      speed,
      graceMs: 10 * 60_000,
      retentionMs: 72 * HOUR,
      logger: pino({ level: 'silent' }),
      now: () => now,
    });
    expect(await janitor.sweep()).toEqual([]);
    now += 5 * 60_000;
    expect(await janitor.sweep()).toEqual([]);
    now += 5 * 60_000;
    const dropped = await janitor.sweep();
    expect(dropped).toHaveLength(listViews().length * 2);
    expect(await janitor.sweep()).toEqual([]);
    namespace = 'tandem~rabc';
    now += 10 * 60_000;
    expect(await janitor.sweep()).toEqual([]);
    now += 10 * 60_000;
    expect(await janitor.sweep()).toHaveLength(listViews().length * 2);
    expect(drops.filter((d) => d.startsWith('tandem~rabc '))).toHaveLength(listViews().length * 2);
  });

  it("sweeps every view of every stream, each in its own stream's active namespace", async () => {
    const catalog = resolveCatalog({
      streams: [webStreamSpec, iotStreamSpec],
      views: [...webViewSpecs, iotViewSpec],
    });
    let now = 100 * HOUR;
    const batch = {
      sealedHours: async (view: string) =>
        view === 'site_minutely' ? [{ hour: 98 * HOUR, runId: 'r', pointerVersion: 'v' }] : [],
    } as unknown as BatchViewReader;
    const drops: string[] = [];
    const speed = {
      namespace: async (stream: string) => (stream === 'iot' ? 'tandem~riot' : 'tandem'),
      readerFor: (ns: string) => ({
        dropHours: async (view: string, hours: number[]) => {
          drops.push(`${ns} ${view} ${hours.join(',')}`);
          return 1;
        },
      }),
    } as unknown as NamespacedSpeedReader;
    const janitor = new SealedHourJanitor({
      catalog,
      batch,
      speed,
      graceMs: 0,
      retentionMs: 72 * HOUR,
      logger: pino({ level: 'silent' }),
      now: () => now,
    });
    expect(await janitor.sweep()).toEqual([{ view: 'site_minutely', hour: 98 * HOUR, keys: 1 }]);
    now += HOUR;
    expect(await janitor.sweep()).toEqual([]);
    expect(drops).toEqual([`tandem~riot site_minutely ${98 * HOUR}`]);
  });

  it('remembers only retained hours of namespaces in use, and at most maxTracked of them', async () => {
    let now = 100 * HOUR;
    let namespace = 'tandem';
    // every hour of the last 72 is sealed, as the batch reader would say
    const batch = {
      sealedHours: async (_view: string, range: { from: number; to: number }) => {
        const hours = [];
        for (let hour = Math.ceil(range.from / HOUR) * HOUR; hour < range.to; hour += HOUR) {
          hours.push({ hour, runId: 'r', pointerVersion: 'v' });
        }
        return hours;
      },
    } as unknown as BatchViewReader;
    const drops: string[] = [];
    const speed = {
      namespace: async () => namespace,
      readerFor: (ns: string) => ({
        dropHours: async (view: string, hours: number[]) => {
          drops.push(`${ns} ${view} ${hours.join(',')}`);
          return 1;
        },
      }),
    } as unknown as NamespacedSpeedReader;
    const views = listViews().length;
    const options = {
      batch,
      speed,
      graceMs: 0,
      retentionMs: 72 * HOUR,
      logger: pino({ level: 'silent' }),
      now: () => now,
    };
    const janitor = new SealedHourJanitor(options);
    expect(await janitor.sweep()).toHaveLength(views * 72);
    expect(janitor.tracked).toBe(views * 72);
    // a day later: the hours that left the retention are forgotten, the new ones tracked
    now += 24 * HOUR;
    expect(await janitor.sweep()).toHaveLength(views * 24);
    expect(janitor.tracked).toBe(views * 72);
    // a replay switched the namespace: the old one's hours are forgotten
    namespace = 'tandem~rnew';
    await janitor.sweep();
    expect(janitor.tracked).toBe(views * 72);
    expect(drops.filter((d) => d.startsWith('tandem~rnew '))).toHaveLength(views * 72);

    // at the bound: hours past their grace are dropped, each in turn, none before its grace
    drops.length = 0;
    now = 100 * HOUR;
    namespace = 'tandem';
    // (a retention of 72.5 hours keeps the same 72 sealed hours, 28h … 99h, in all three sweeps)
    const bounded = new SealedHourJanitor({
      ...options,
      retentionMs: 72.5 * HOUR,
      graceMs: 10 * 60_000,
      maxTracked: 10,
    });
    expect(await bounded.sweep()).toEqual([]);
    expect(bounded.tracked).toBe(10);
    const firstView = listViews()[0]!.name;
    now += 10 * 60_000;
    // the ten tracked first are due; the dropped ones then make room for ten more, in their grace
    expect(await bounded.sweep()).toEqual(
      [...Array(10).keys()].map((i) => ({ view: firstView, hour: (28 + i) * HOUR, keys: 1 })),
    );
    expect(bounded.tracked).toBe(10);
    now += 10 * 60_000;
    expect((await bounded.sweep()).map((d) => d.hour)).toEqual(
      [...Array(10).keys()].map((i) => (38 + i) * HOUR),
    );
    expect(drops).toHaveLength(20);
  });
});

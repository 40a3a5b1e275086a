// The janitor drops an hour's real-time data only after the grace has passed since it first saw the
// hour sealed, exactly once per namespace, and only in the active namespace.
import { listViews, resolveCatalog, webStreamSpec, webViewSpecs } from '@tandem/core';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { BatchReaderLike } from '../../src/wiring/batch.ts';
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
    } as unknown as BatchReaderLike;
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
    } as unknown as BatchReaderLike;
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
});

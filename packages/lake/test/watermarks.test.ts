// Archiver watermark objects: written and listed per topic, their minimum is the topic's
// completeness, and a damaged object is reported with what to do.
import { describe, expect, it } from 'vitest';
import {
  archivedThrough,
  archiverWatermarkKey,
  listArchiverWatermarks,
  readArchiverWatermark,
  writeArchiverWatermark,
} from '../src/index.ts';
import { createTestLake } from '@tandem/test-support/lake.ts';

describe('archiver watermarks', () => {
  it('round-trips per partition and lists one topic only', async ({ onTestFinished }) => {
    const lake = await createTestLake('file');
    onTestFinished(() => lake.teardown());
    const { store } = lake;
    expect(await readArchiverWatermark(store, 'events', 0)).toBeNull();
    for (const [partition, watermark] of [
      [1, 2_000],
      [0, 1_000],
      [2, 3_000],
    ] as const) {
      await writeArchiverWatermark(store, {
        topic: 'events',
        partition,
        watermark,
        offset: '10',
        updatedAt: 5,
      });
    }
    await writeArchiverWatermark(store, {
      topic: 'events2',
      partition: 0,
      watermark: 1,
      offset: '1',
      updatedAt: 5,
    });
    expect(await readArchiverWatermark(store, 'events', 1)).toEqual({
      topic: 'events',
      partition: 1,
      watermark: 2_000,
      offset: '10',
      updatedAt: 5,
    });
    const listed = await listArchiverWatermarks(store, 'events');
    expect(listed.map((entry) => [entry.partition, entry.watermark])).toEqual([
      [0, 1_000],
      [1, 2_000],
      [2, 3_000],
    ]);
    expect(await listArchiverWatermarks(store)).toHaveLength(4);
    expect(archivedThrough(listed, 3)).toBe(1_000);
    expect(archivedThrough(listed, 4)).toBeNull(); // partition 3 has not reported
    expect(archivedThrough([], 0)).toBeNull();
  });

  it('names a damaged watermark object and the remedy', async ({ onTestFinished }) => {
    const lake = await createTestLake('file');
    onTestFinished(() => lake.teardown());
    await lake.store.put(archiverWatermarkKey('events', 0), '{"topic":"events"');
    await expect(readArchiverWatermark(lake.store, 'events', 0)).rejects.toThrow(
      /watermark object "logs\/_watermarks\/events\+0.json" is not JSON; delete it/,
    );
    await lake.store.put(archiverWatermarkKey('events', 0), '{"topic":"events"}');
    await expect(listArchiverWatermarks(lake.store, 'events')).rejects.toThrow(
      /lacks topic, partition, watermark/,
    );
  });
});

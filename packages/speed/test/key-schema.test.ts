// The Redis layout per stream: the web stream keeps the first build's key names exactly (existing
// data keeps working, the active-namespace pointer included), every other stream has its own, with
// one hash tag per (stream, partition).
import { describe, expect, it } from 'vitest';
import { speedKeys } from '../src/key-schema.ts';

describe('speedKeys', () => {
  it("keeps the web stream's names of the first build", () => {
    for (const keys of [speedKeys('tandem'), speedKeys('tandem', 'events')]) {
      expect(keys.partitions()).toBe('tandem:speed:partitions');
      expect(keys.meta(3)).toBe('tandem:{p3}:meta');
      expect(keys.sessions(3)).toBe('tandem:{p3}:sessions');
      expect(keys.bucketIndex(3, 'endpoint_hourly', 1)).toBe('tandem:{p3}:b:endpoint_hourly:1');
      expect(keys.bucket(3, 'endpoint_hourly', 1, 3_600_000)).toBe('tandem:{p3}:v:endpoint_hourly:1:3600000');
      expect(keys.partitionPattern(3)).toBe('tandem:{p3}:*');
      expect(keys.activeNamespace()).toBe('tandem:speed:active');
    }
  });

  it('names every other stream in its hash tag and partition set', () => {
    const keys = speedKeys('tandem~r1', 'iot');
    expect(keys.stream).toBe('iot');
    expect(keys.partitions()).toBe('tandem~r1:speed:iot:partitions');
    expect(keys.meta(0)).toBe('tandem~r1:{iot:p0}:meta');
    expect(keys.sessions(0)).toBe('tandem~r1:{iot:p0}:sessions');
    expect(keys.bucketIndex(0, 'site_minutely', 2)).toBe('tandem~r1:{iot:p0}:b:site_minutely:2');
    expect(keys.bucket(0, 'site_minutely', 2, 60_000)).toBe('tandem~r1:{iot:p0}:v:site_minutely:2:60000');
    expect(keys.partitionPattern(0)).toBe('tandem~r1:{iot:p0}:*');
    expect(speedKeys('tandem', 'iot').activeNamespace()).toBe('tandem:speed:iot:active');
    // a web partition's pattern never matches another stream's keys, nor the reverse
    const web = speedKeys('tandem~r1');
    const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[{}]/g, '\\$&').replace('*', '.*')}$`);
    expect(glob(web.partitionPattern(0)).test(keys.meta(0))).toBe(false);
    expect(glob(keys.partitionPattern(0)).test(web.meta(0))).toBe(false);
    expect(glob(keys.partitionPattern(1)).test(keys.meta(10))).toBe(false);
  });
});

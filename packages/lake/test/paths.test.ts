// Lake paths: partition prefixes, archive file names and watermark keys round-trip exactly.
import { HOUR_MS } from '@tandem/core';
import { describe, expect, it } from 'vitest';
import {
  archiveFileName,
  archiverWatermarkKey,
  assertObjectKey,
  logPartitionPrefix,
  parseArchiveFileName,
  parseLogPartition,
} from '../src/index.ts';

describe('lake paths', () => {
  it('names the Hive-style partition of an hour in UTC', () => {
    expect(logPartitionPrefix(Date.UTC(2024, 2, 5, 7))).toBe('logs/dt=2024-03-05/hour=07/');
    expect(logPartitionPrefix(0)).toBe('logs/dt=1970-01-01/hour=00/');
    expect(() => logPartitionPrefix(Date.UTC(2024, 2, 5, 7, 30))).toThrow(/start of an hour/);
  });

  it('parses a partition key back to its hour, with or without a lake prefix', () => {
    const hour = Date.UTC(2023, 11, 31, 23);
    expect(parseLogPartition(`${logPartitionPrefix(hour)}events+0+12.json.gz`)).toBe(hour);
    expect(parseLogPartition(`some/prefix/${logPartitionPrefix(hour)}x.json`)).toBe(hour);
    expect(parseLogPartition('logs/dt=2024-02-31/hour=01/x.json')).toBeNull();
    expect(parseLogPartition('logs/dt=2024-02-01/hour=24/x.json')).toBeNull();
    expect(parseLogPartition('logs/_watermarks/events+0.json')).toBeNull();
    expect(parseLogPartition('views/endpoint_hourly/x')).toBeNull();
    // Every hour of a leap year round-trips.
    for (let ts = Date.UTC(2024, 0, 1); ts < Date.UTC(2025, 0, 1); ts += HOUR_MS) {
      expect(parseLogPartition(logPartitionPrefix(ts))).toBe(ts);
    }
  });

  it('names archive files and watermark objects as the contract says', () => {
    expect(archiveFileName('events', 3, '1200')).toBe('events+3+1200.json.gz');
    expect(archiveFileName('events', 0, 9007199254740993n)).toBe('events+0+9007199254740993.json.gz');
    expect(parseArchiveFileName('logs/dt=2024-01-01/hour=00/test-a.b_c+11+42.json.gz')).toEqual({
      topic: 'test-a.b_c',
      partition: 11,
      firstOffset: '42',
    });
    expect(parseArchiveFileName('logs/dt=2024-01-01/hour=00/other.json.gz')).toBeNull();
    expect(archiverWatermarkKey('events', 2)).toBe('logs/_watermarks/events+2.json');
    expect(() => archiveFileName('bad topic', 0, '1')).toThrow(/not a valid topic name/);
    expect(() => archiveFileName('events', -1, '1')).toThrow(/partition/);
    expect(() => archiveFileName('events', 0, '-1')).toThrow(/offset/);
  });

  it('rejects keys that are not relative and normalized', () => {
    for (const key of ['', '/abs', 'a//b', '../x', 'a/./b', 'a/../b', 'a\\b', 'a/.tandem-tmp-1', 'a/']) {
      expect(() => assertObjectKey(key), key).toThrow(/is not valid/);
    }
    expect(() => assertObjectKey('logs/dt=2024-01-01/hour=00/events+0+1.json.gz')).not.toThrow();
  });
});

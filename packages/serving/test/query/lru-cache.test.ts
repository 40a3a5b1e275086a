// The caches under the merge engine: weighted LRU eviction, and the TTL loader's sharing,
// expiry, stale-while-revalidate and refusal to cache failures.
import { describe, expect, test } from 'vitest';
import { LruCache, TtlLoader } from '../../src/query/lru-cache.ts';

describe('LruCache', () => {
  test('evicts the least recently used entries by weight and skips entries heavier than the budget', () => {
    const cache = new LruCache<string>(10);
    cache.set('a', 'A', 4);
    cache.set('b', 'B', 4);
    expect(cache.get('a')).toBe('A'); // a is now the most recent
    cache.set('c', 'C', 4); // 12 > 10: b goes
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe('A');
    expect(cache.get('c')).toBe('C');
    expect(cache.weight).toBe(8);
    cache.set('huge', 'H', 11);
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.hits).toBe(3);
    expect(cache.misses).toBe(2);
  });
});

describe('TtlLoader', () => {
  test('shares one load within the TTL, reloads after it, never caches a failure', async () => {
    let now = 0;
    let loads = 0;
    const loader = new TtlLoader<number>(100, () => now);
    const load = () => loader.load('k', async () => ++loads);
    expect(await Promise.all([load(), load(), load()])).toEqual([1, 1, 1]);
    now = 150;
    expect(await load()).toBe(2);
    const failing = new TtlLoader<number>(100, () => now);
    await expect(failing.load('k', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await failing.load('k', async () => 7)).toBe(7);
  });

  test('serves the stale value while one refresh runs, then the fresh one', async () => {
    let now = 0;
    let loads = 0;
    let release: (() => void) | undefined;
    const loader = new TtlLoader<number>(100, () => now, { staleMs: 100 });
    const slow = () =>
      new Promise<number>((resolve) => {
        loads++;
        const value = loads;
        release = () => resolve(value);
      });
    const first = loader.load('k', slow);
    release!();
    expect(await first).toBe(1);
    now = 150; // stale: served at once, one refresh starts
    expect(await loader.load('k', slow)).toBe(1);
    expect(await loader.load('k', slow)).toBe(1);
    expect(loads).toBe(2);
    release!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(await loader.load('k', slow)).toBe(2);
    now = 1000; // too old to serve stale: waits for a fresh load
    const late = loader.load('k', slow);
    release!();
    expect(await late).toBe(3);
  });
});

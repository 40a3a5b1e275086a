// Caches for immutable query inputs and results (batch partials of a pointer version never change,
// so entries need no invalidation, only eviction), and a TTL loader for the values that do change.
import { LRUCache } from 'lru-cache';

/**
 * Least-recently-used map bounded by the summed weight of its entries: the `lru-cache` package
 * (also what bounds the batch reader's caches), plus the hit and miss counts /metrics reports.
 */
export class LruCache<V extends NonNullable<unknown>> {
  readonly #entries: LRUCache<string, V>;
  hits = 0;
  misses = 0;

  /** @param maxWeight - total weight kept; an entry heavier than this is never stored. */
  constructor(maxWeight: number) {
    this.#entries = new LRUCache<string, V>({ maxSize: maxWeight });
  }

  get size(): number {
    return this.#entries.size;
  }

  get weight(): number {
    return this.#entries.calculatedSize;
  }

  get(key: string): V | undefined {
    const value = this.#entries.get(key);
    if (value === undefined) this.misses++;
    else this.hits++;
    return value;
  }

  /** @param weight - a positive integer (cells, entries or 64 KiB units). */
  set(key: string, value: V, weight = 1): void {
    // lru-cache skips an entry above its maxSize too, but also drops the key's older value.
    if (weight > this.#entries.maxSize) return;
    this.#entries.set(key, value, { size: weight });
  }

  clear(): void {
    this.#entries.clear();
  }
}

/**
 * Caches a value for `ttlMs` and lets concurrent callers share one pending load, so a burst of
 * identical requests costs one round trip to Redis or the lake. Past `ttlMs` and within
 * `ttlMs + staleMs`, callers get the previous value while one refresh runs in the background
 * (stale-while-revalidate), so no request waits on a periodic reload.
 */
export class TtlLoader<V> {
  readonly #entries = new Map<string, { at: number; value: Promise<V>; refreshing: boolean }>();
  readonly #ttlMs: number;
  readonly #staleMs: number;
  readonly #now: () => number;
  readonly #maxEntries: number;

  constructor(ttlMs: number, now: () => number, options: { maxEntries?: number; staleMs?: number } = {}) {
    this.#ttlMs = ttlMs;
    this.#now = now;
    this.#maxEntries = options.maxEntries ?? 1000;
    this.#staleMs = options.staleMs ?? 0;
  }

  load(key: string, loader: () => Promise<V>): Promise<V> {
    const now = this.#now();
    const cached = this.#entries.get(key);
    if (cached !== undefined) {
      const age = now - cached.at;
      if (age < this.#ttlMs) return cached.value;
      if (age < this.#ttlMs + this.#staleMs) {
        if (!cached.refreshing) {
          cached.refreshing = true;
          const fresh = loader();
          fresh.then(
            () => {
              if (this.#entries.get(key) === cached)
                this.#entries.set(key, { at: now, value: fresh, refreshing: false });
            },
            () => {
              cached.refreshing = false;
            },
          );
        }
        return cached.value;
      }
    }
    const value = loader();
    if (this.#ttlMs > 0) {
      if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
      const entry = { at: now, value, refreshing: false };
      this.#entries.set(key, entry);
      // A failed load must not be served from the cache.
      value.catch(() => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
      });
    }
    return value;
  }
}

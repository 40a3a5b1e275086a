// A small weighted LRU for immutable query inputs and results (batch partials of a pointer
// version never change, so entries need no invalidation, only eviction).

/** Least-recently-used map bounded by the summed weight of its entries. */
export class LruCache<V> {
  readonly #entries = new Map<string, { value: V; weight: number }>();
  readonly #maxWeight: number;
  #weight = 0;
  hits = 0;
  misses = 0;

  /** @param maxWeight - total weight kept; an entry heavier than this is never stored. */
  constructor(maxWeight: number) {
    this.#maxWeight = maxWeight;
  }

  get size(): number {
    return this.#entries.size;
  }

  get weight(): number {
    return this.#weight;
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Re-insert so Map iteration order stays least-recent first.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, weight = 1): void {
    if (weight > this.#maxWeight) return;
    const previous = this.#entries.get(key);
    if (previous !== undefined) {
      this.#weight -= previous.weight;
      this.#entries.delete(key);
    }
    this.#entries.set(key, { value, weight });
    this.#weight += weight;
    for (const [oldest, entry] of this.#entries) {
      if (this.#weight <= this.#maxWeight) break;
      this.#entries.delete(oldest);
      this.#weight -= entry.weight;
    }
  }

  clear(): void {
    this.#entries.clear();
    this.#weight = 0;
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

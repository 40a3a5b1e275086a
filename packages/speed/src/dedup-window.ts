// Drops producer duplicates: an event whose `event_id` already appeared among the previous
// `size` offsets of the same partition. The window is defined on offsets, not on time or on what
// happened to be in memory, so a worker that restarts and replays the `size` offsets before its
// resume point rebuilds exactly the same window: the verdicts depend on the log alone.
//
// Memory is bounded and small: a ring of the ids in offset order plus an open-addressing index of
// ring slots (linear probing, backward-shift deletion) in typed arrays, instead of a Map whose
// entries cost several times more per id. Lookups compare the ids themselves, so a hash
// collision never turns a new event into a duplicate.

const EMPTY = -1;

/** Bounded memory: at most `size` remembered ids per partition. */
export class DedupWindow {
  readonly size: number;
  /** Ring of ids in offset order; `undefined` in free slots. */
  #ids: Array<string | undefined>;
  #offsets: Float64Array;
  #hashes: Int32Array;
  #head = 0;
  #length = 0;
  /** Open-addressing index: ring slot per bucket, or EMPTY. Power-of-two capacity, load ≤ 1/2. */
  #index: Int32Array;
  #mask: number;

  /** @param size - how many preceding offsets an id is remembered for; 0 disables deduplication. */
  constructor(size: number) {
    this.size = size;
    this.#ids = new Array<string | undefined>(size);
    this.#offsets = new Float64Array(size);
    this.#hashes = new Int32Array(size);
    let capacity = 8;
    while (capacity < size * 2) capacity *= 2;
    this.#index = new Int32Array(capacity).fill(EMPTY);
    this.#mask = capacity - 1;
  }

  /**
   * Records `id` at `offset` (offsets must grow) and says whether it already occurred within the
   * window. Duplicates are recorded too, so a third copy is caught after the first one leaves.
   * An occurrence at `exemptOffset` does not count: a message re-injected from the dead-letter
   * queue is no duplicate of the original it replaces (that one was rejected, never applied; a
   * worker that restarted under relaxed rules may have warmed its window with it all the same).
   */
  observe(id: string, offset: number, exemptOffset = -1): boolean {
    if (this.size === 0) return false;
    const lowestKept = offset - this.size;
    while (this.#length > 0 && this.#offsets[this.#head]! < lowestKept) this.#evictOldest();
    const hash = hashId(id);
    const duplicate = this.#find(id, hash, exemptOffset) !== EMPTY;
    if (this.#length === this.size) this.#evictOldest();
    const slot = (this.#head + this.#length) % this.size;
    this.#ids[slot] = id;
    this.#offsets[slot] = offset;
    this.#hashes[slot] = hash;
    this.#length++;
    this.#insert(slot, hash);
    return duplicate;
  }

  /** Number of ids currently remembered. */
  get length(): number {
    return this.#length;
  }

  /** A bucket holding a ring slot with this id at an offset other than `exemptOffset`, or EMPTY. */
  #find(id: string, hash: number, exemptOffset: number): number {
    for (let bucket = hash & this.#mask; ; bucket = (bucket + 1) & this.#mask) {
      const slot = this.#index[bucket]!;
      if (slot === EMPTY) return EMPTY;
      if (this.#hashes[slot] === hash && this.#ids[slot] === id && this.#offsets[slot] !== exemptOffset)
        return bucket;
    }
  }

  #insert(slot: number, hash: number): void {
    let bucket = hash & this.#mask;
    while (this.#index[bucket] !== EMPTY) bucket = (bucket + 1) & this.#mask;
    this.#index[bucket] = slot;
  }

  #evictOldest(): void {
    const slot = this.#head;
    // the index bucket that points at exactly this ring slot
    let bucket = this.#hashes[slot]! & this.#mask;
    while (this.#index[bucket] !== slot) bucket = (bucket + 1) & this.#mask;
    this.#removeBucket(bucket);
    this.#ids[slot] = undefined;
    this.#head = (this.#head + 1) % this.size;
    this.#length--;
  }

  /** Linear-probing deletion by backward shift: later entries of the cluster move up, no tombstones. */
  #removeBucket(bucket: number): void {
    let hole = bucket;
    for (let next = (hole + 1) & this.#mask; ; next = (next + 1) & this.#mask) {
      const slot = this.#index[next]!;
      if (slot === EMPTY) break;
      const home = this.#hashes[slot]! & this.#mask;
      // move `next` into the hole unless its home lies cyclically in (hole, next]
      const inRange = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (!inRange) {
        this.#index[hole] = slot;
        hole = next;
      }
    }
    this.#index[hole] = EMPTY;
  }
}

/** FNV-1a over UTF-16 code units: cheap, and good enough to spread ids over the index. */
function hashId(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}

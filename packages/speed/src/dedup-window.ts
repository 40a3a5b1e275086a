// Drops producer duplicates: an event whose `event_id` already appeared among the previous
// `size` offsets of the same partition. The window is defined on offsets, not on time or on what
// happened to be in memory, so a worker that restarts and replays the `size` offsets before its
// resume point rebuilds exactly the same window: the verdicts depend on the log alone.

/** Bounded memory: at most `size` remembered ids per partition. */
export class DedupWindow {
  readonly size: number;
  #ids: Array<string | undefined>;
  #offsets: Float64Array;
  #head = 0;
  #length = 0;
  #counts = new Map<string, number>();

  /** @param size - how many preceding offsets an id is remembered for; 0 disables deduplication. */
  constructor(size: number) {
    this.size = size;
    this.#ids = new Array<string | undefined>(size);
    this.#offsets = new Float64Array(size);
  }

  /**
   * Records `id` at `offset` (offsets must grow) and says whether it already occurred within the
   * window. Duplicates are recorded too, so a third copy is caught after the first one leaves.
   */
  observe(id: string, offset: number): boolean {
    if (this.size === 0) return false;
    this.#evictBefore(offset - this.size);
    const duplicate = this.#counts.has(id);
    if (this.#length === this.size) this.#evictOldest();
    const slot = (this.#head + this.#length) % this.size;
    this.#ids[slot] = id;
    this.#offsets[slot] = offset;
    this.#length++;
    this.#counts.set(id, (this.#counts.get(id) ?? 0) + 1);
    return duplicate;
  }

  /** Number of ids currently remembered. */
  get length(): number {
    return this.#length;
  }

  clear(): void {
    this.#ids = new Array<string | undefined>(this.size);
    this.#head = 0;
    this.#length = 0;
    this.#counts.clear();
  }

  #evictBefore(lowestKept: number): void {
    while (this.#length > 0 && this.#offsets[this.#head]! < lowestKept) this.#evictOldest();
  }

  #evictOldest(): void {
    const id = this.#ids[this.#head]!;
    this.#ids[this.#head] = undefined;
    const count = this.#counts.get(id)!;
    if (count <= 1) this.#counts.delete(id);
    else this.#counts.set(id, count - 1);
    this.#head = (this.#head + 1) % this.size;
    this.#length--;
  }
}

// Ranks candidates by a score with a bounded heap of the best k seen so far, so /top over a
// high-cardinality dimension keeps k candidates and costs O(n log k), instead of a sorted list of
// every value. Hand-written (forty lines) rather than a dependency, like the cli's agenda heaps.

export interface RankedCandidate<T> {
  /** Higher ranks first; null (no value) ranks last. */
  score: number | null;
  /** Breaks ties in `localeCompare` order. */
  label: string;
  item: T;
}

/** Whether `a` ranks before `b`: higher score first, nulls last, then label order. */
export function ranksBefore<T>(a: RankedCandidate<T>, b: RankedCandidate<T>): boolean {
  if (a.score !== b.score) {
    if (a.score === null) return false;
    if (b.score === null) return true;
    return a.score > b.score;
  }
  return a.label.localeCompare(b.label) < 0;
}

/** The best `k` candidates offered, in a heap whose root is the worst one kept. */
export class TopK<T> {
  readonly #k: number;
  readonly #heap: Array<RankedCandidate<T>> = [];

  constructor(k: number) {
    this.#k = k;
  }

  offer(candidate: RankedCandidate<T>): void {
    const heap = this.#heap;
    if (heap.length < this.#k) {
      heap.push(candidate);
      this.#siftUp(heap.length - 1);
    } else if (heap.length > 0 && ranksBefore(candidate, heap[0]!)) {
      heap[0] = candidate;
      this.#siftDown(0);
    }
  }

  /** The kept candidates, best first. */
  ranked(): Array<RankedCandidate<T>> {
    return [...this.#heap].sort((a, b) => (ranksBefore(a, b) ? -1 : ranksBefore(b, a) ? 1 : 0));
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    for (let i = index; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!ranksBefore(heap[parent]!, heap[i]!)) return;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    for (let i = index; ; ) {
      let worst = i;
      for (const child of [2 * i + 1, 2 * i + 2]) {
        if (child < heap.length && ranksBefore(heap[worst]!, heap[child]!)) worst = child;
      }
      if (worst === i) return;
      [heap[worst], heap[i]] = [heap[i]!, heap[worst]!];
      i = worst;
    }
  }
}

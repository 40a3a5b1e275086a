// The bound on compressions + uploads in flight over all of an archiver's partitions.

/**
 * A counting semaphore. Kept by hand rather than p-limit: it is twenty lines with no queue
 * options to configure, and p-limit would add a dependency for no behaviour we lack.
 */
export class Limiter {
  readonly #limit: number;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Runs `task` once fewer than `limit` tasks are running; waiters start in arrival order. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next === undefined) this.#active--;
      else next();
    }
  }
}

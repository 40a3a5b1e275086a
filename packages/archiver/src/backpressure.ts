// Backpressure: consumption pauses while the bytes being parsed, compressed or uploaded exceed
// `maxInflightBytes`, and resumes when an upload or a builder answer frees some.
import type { BuilderPool } from './builder-pool.ts';
import type { ArchiverContext } from './archiver-context.ts';
import { within } from './wait-within.ts';

export class Backpressure {
  readonly #context: ArchiverContext;
  readonly #builders: BuilderPool;
  readonly #waiters = new Set<() => void>();
  /** Bytes of closed segments compressing or uploading. */
  #uploadingBytes = 0;

  constructor(context: ArchiverContext, builders: BuilderPool) {
    this.#context = context;
    this.#builders = builders;
  }

  /** Counts a segment's bytes while it uploads (negative when it is done). */
  addUploading(bytes: number): void {
    this.#uploadingBytes += bytes;
    this.#context.metrics.inflightBytes.set({ topic: this.#context.options.topic }, this.#uploadingBytes);
  }

  /** Something finished: waiting consumers look again. */
  wake(): void {
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  /** Pauses consumption while too much is being parsed, compressed or uploaded. */
  async waitForCapacity(heartbeat: () => Promise<void>, running: () => boolean): Promise<void> {
    const { options } = this.#context;
    while (this.#uploadingBytes + this.#builders.pendingBytes() > options.maxInflightBytes && running()) {
      await within(
        new Promise<void>((resolve) => this.#waiters.add(resolve)),
        Math.min(1000, options.consumer.heartbeatInterval),
      );
      await heartbeat();
    }
  }
}

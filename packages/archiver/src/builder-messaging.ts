// Talking to the SegmentBuilders: one partition's requests go to its builder and are answered in
// the order sent; seals go to every builder. Every request is tracked until answered, so stopping
// can wait for them and backpressure can count them.
import type { BuilderPool } from './builder-pool.ts';
import type { PartitionState } from './partition-state.ts';
import type { BuilderRequest, BuilderResponse, SealRequest } from './segment-builder.ts';

export interface BuilderHandlers {
  /** Applies an answer (reports and sealed segments). */
  onResponse(response: BuilderResponse): void;
  /** A request failed: the archiver stops. */
  onError(error: unknown): void;
  /** A partition's request settled (frees capacity). */
  onSettled(): void;
}

export class BuilderMessaging {
  readonly #builders: BuilderPool;
  readonly #handlers: BuilderHandlers;
  /** Builder requests not answered yet. */
  readonly #requests = new Set<Promise<void>>();

  constructor(builders: BuilderPool, handlers: BuilderHandlers) {
    this.#builders = builders;
    this.#handlers = handlers;
  }

  /** Sends one partition's request to its builder; answers are applied in the order sent. */
  request(state: PartitionState, request: BuilderRequest): void {
    state.pendingRequests++;
    const answered = this.#builders
      .send(state.partition, request)
      .then((response) => this.#handlers.onResponse(response))
      .catch((error: unknown) => this.#handlers.onError(error))
      .finally(() => {
        state.pendingRequests--;
        this.#requests.delete(answered);
        this.#handlers.onSettled();
      });
    this.#requests.add(answered);
  }

  /** Closes open segments in every builder: the expired ones, or those of the listed partitions. */
  async seal(request: SealRequest): Promise<void> {
    const answered = this.#builders.broadcast(request).then((responses) => {
      for (const response of responses) this.#handlers.onResponse(response);
    });
    const tracked: Promise<void> = answered
      .catch(() => undefined)
      .finally(() => this.#requests.delete(tracked));
    this.#requests.add(tracked);
    await answered;
  }

  /** Settles once every request sent so far is answered. */
  settled(): Promise<unknown> {
    return Promise.allSettled([...this.#requests]);
  }
}

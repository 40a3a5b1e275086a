// Starting and stopping long-running components in one process: started in order, each announced;
// on the first SIGINT/SIGTERM (or a component's fatal error) stopped in reverse order, every stop
// attempted, and every failure reported together rather than the first one swallowing the rest.
// Components stop at their next safe point (the scheduler and recompute jobs between hours), which
// takes seconds; a stop still running after `slowStopMs` is announced, so an operator knows what
// the process waits for before a second signal forces the exit.
import type { Output } from '../framework/output.ts';

/** A started component: how to stop it. */
export interface Running {
  name: string;
  stop(): Promise<void>;
}

/** A component to start; resolves once it is serving/consuming. */
export interface Starter {
  name: string;
  start(): Promise<Running>;
}

export class ComponentSet {
  readonly #running: Running[] = [];
  readonly #out: Output;
  readonly #slowStopMs: number;
  #fatal: ((error: unknown) => void) | null = null;
  readonly #failed: Promise<unknown>;

  /** @param slowStopMs - after this long, a stop still running is announced (every such period). */
  constructor(out: Output, slowStopMs = 10_000) {
    this.#out = out;
    this.#slowStopMs = slowStopMs;
    this.#failed = new Promise((resolve) => {
      this.#fatal = resolve;
    });
  }

  /** Reports a fatal error of a running component: the set stops as on a signal. */
  fail(error: unknown): void {
    this.#fatal?.(error);
  }

  /** Starts each in order; if one fails or the signal fires, stops what started and rethrows. */
  async startAll(starters: Starter[], signal: AbortSignal): Promise<void> {
    for (const starter of starters) {
      if (signal.aborted) break;
      this.#out.info(`starting ${starter.name} …`);
      const running = await starter.start();
      this.#running.push(running);
    }
  }

  /** Waits for a signal or a fatal error; returns the fatal error, if that was it. */
  async wait(signal: AbortSignal): Promise<unknown> {
    if (signal.aborted) return undefined;
    const aborted = new Promise<undefined>((resolve) =>
      signal.addEventListener('abort', () => resolve(undefined), { once: true }),
    );
    return Promise.race([aborted, this.#failed]);
  }

  /** Stops everything in reverse start order; throws an AggregateError of every stop that failed. */
  async stopAll(): Promise<void> {
    const errors: unknown[] = [];
    while (this.#running.length > 0) {
      const running = this.#running.pop()!;
      this.#out.info(`stopping ${running.name} …`);
      const started = Date.now();
      const slow = setInterval(() => {
        const seconds = Math.round((Date.now() - started) / 1000);
        this.#out.warn(`still stopping ${running.name} after ${seconds} s (Ctrl-C again to force)`);
      }, this.#slowStopMs);
      try {
        await running.stop();
      } catch (error) {
        errors.push(new Error(`stopping ${running.name} failed`, { cause: error }));
      } finally {
        clearInterval(slow);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'some components did not stop cleanly');
  }
}

// The janitor: once the batch layer has sealed an hour and a grace period has passed (so a query
// that read the speed data just before the publish can finish), the hour's real-time data is
// dropped from the active speed namespace. The grace counts from when the janitor first saw the
// hour sealed; after a restart it simply counts again, which only delays the drop. Every view of
// every stream is swept, each in its own stream's active namespace.
import { builtinCatalog, type Catalog } from '@tandem/core';
import type { Logger } from 'pino';
import type { BatchReaderLike } from './batch.ts';
import type { NamespacedSpeedReader } from './speed-runtime.ts';

export interface JanitorOptions {
  batch: BatchReaderLike;
  speed: NamespacedSpeedReader;
  /** The views to sweep (the deployment's, the same batch and speed read). @defaultValue the speed reader's */
  catalog?: Catalog;
  graceMs: number;
  /** Hours older than this are gone by TTL anyway and are not looked at. */
  retentionMs: number;
  logger: Logger;
  /** @defaultValue 30_000 */
  intervalMs?: number;
  now?: () => number;
}

export class SealedHourJanitor {
  readonly #options: JanitorOptions;
  readonly #firstSeen = new Map<string, number>();
  readonly #dropped = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(options: JanitorOptions) {
    this.#options = options;
  }

  start(): void {
    const tick = (): void => {
      if (this.#running) return;
      this.#running = this.sweep()
        .then(() => undefined)
        .catch((error: unknown) => this.#options.logger.warn({ err: error }, 'janitor sweep failed'))
        .finally(() => {
          this.#running = null;
        });
    };
    this.#timer = setInterval(tick, this.#options.intervalMs ?? 30_000);
    this.#timer.unref();
    tick();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }

  /** One pass; returns the (view, hour) pairs dropped. */
  async sweep(): Promise<Array<{ view: string; hour: number; keys: number }>> {
    const now = (this.#options.now ?? Date.now)();
    const dropped: Array<{ view: string; hour: number; keys: number }> = [];
    for (const view of (this.#options.catalog ?? this.#options.speed.catalog ?? builtinCatalog()).views) {
      const namespace = await this.#options.speed.namespace(view.stream);
      const reader = this.#options.speed.readerFor(namespace);
      const sealed = await this.#options.batch.sealedHours(view.name, {
        from: now - this.#options.retentionMs,
        to: now,
      });
      for (const { hour } of sealed) {
        const id = `${namespace}|${view.name}|${hour}`;
        if (this.#dropped.has(id)) continue;
        const seen = this.#firstSeen.get(id) ?? now;
        this.#firstSeen.set(id, seen);
        if (now - seen < this.#options.graceMs) continue;
        const keys = await reader.dropHours(view.name, [hour]);
        this.#dropped.add(id);
        this.#firstSeen.delete(id);
        dropped.push({ view: view.name, hour, keys });
      }
    }
    if (dropped.length > 0) this.#options.logger.info({ dropped }, 'dropped real-time data of sealed hours');
    return dropped;
  }
}

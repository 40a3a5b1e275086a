// The janitor: once the batch layer has sealed an hour and a grace period has passed (so a query
// that read the speed data just before the publish can finish), the hour's real-time data is
// dropped from the active speed namespace. The grace counts from when the janitor first saw the
// hour sealed; after a restart it simply counts again, which only delays the drop. Every view of
// every stream is swept, each in its own stream's active namespace; what to delete is the speed
// layer's business (`dropHours`), the janitor only decides when.
//
// Its memory is bounded: it tracks (namespace, view, hour) only for hours inside `retentionMs`
// (older ones are never looked at again) and in a namespace some stream still uses, and never more
// than `maxTracked` of them. At that bound a newly sealed hour takes the place of the oldest hour
// already dropped (which a later sweep may drop again: DELs of keys that are gone); when every
// entry is still in its grace, the new hour is not tracked yet and its grace starts on a later
// sweep. Work is repeated or a drop delayed (at worst until the buckets' TTL), never data dropped
// early, and the hours in their grace always get dropped, so the janitor keeps making progress.
import { type BatchViewReader, builtinCatalog, type Catalog } from '@tandem/core';
import type { Logger } from 'pino';
import type { NamespacedSpeedReader } from './speed-runtime.ts';

export interface JanitorOptions {
  batch: BatchViewReader;
  speed: NamespacedSpeedReader;
  /** The views to sweep (the deployment's, the same batch and speed read). @defaultValue the speed reader's */
  catalog?: Catalog;
  graceMs: number;
  /** Hours older than this are gone by TTL anyway and are not looked at. */
  retentionMs: number;
  logger: Logger;
  /** @defaultValue 30_000 */
  intervalMs?: number;
  /**
   * Most (namespace, view, hour) entries remembered; far above views × retained hours of any
   * deployment (100 views over 3 days are 7 200). @defaultValue 100_000
   */
  maxTracked?: number;
  now?: () => number;
}

/** What the janitor remembers of one sealed hour of one view in one namespace. */
interface TrackedHour {
  namespace: string;
  hour: number;
  /** When the janitor first saw the hour sealed: the grace counts from here. */
  seenAt: number;
}

export class SealedHourJanitor {
  readonly #options: JanitorOptions;
  /** Hours in their grace, keyed `<namespace>|<view>|<hour>`. */
  readonly #pending = new Map<string, TrackedHour>();
  /** Hours dropped, same keys, oldest first: the first to be forgotten at the bound. */
  readonly #dropped = new Map<string, TrackedHour>();
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

  /** How many (namespace, view, hour) entries the janitor remembers now. */
  get tracked(): number {
    return this.#pending.size + this.#dropped.size;
  }

  /** One pass; returns the (view, hour) pairs dropped. */
  async sweep(): Promise<Array<{ view: string; hour: number; keys: number }>> {
    const now = (this.#options.now ?? Date.now)();
    const dropped: Array<{ view: string; hour: number; keys: number }> = [];
    const inUse = new Set<string>();
    for (const view of (this.#options.catalog ?? this.#options.speed.catalog ?? builtinCatalog()).views) {
      const namespace = await this.#options.speed.namespace(view.stream);
      inUse.add(namespace);
      const reader = this.#options.speed.readerFor(namespace);
      const sealed = await this.#options.batch.sealedHours(view.name, {
        from: now - this.#options.retentionMs,
        to: now,
      });
      for (const { hour } of sealed) {
        const id = `${namespace}|${view.name}|${hour}`;
        if (this.#dropped.has(id)) continue;
        let entry = this.#pending.get(id);
        if (entry === undefined) {
          entry = { namespace, hour, seenAt: now };
          if (!this.#track(id, entry)) continue;
        }
        if (now - entry.seenAt < this.#options.graceMs) continue;
        const keys = await reader.dropHours(view.name, [hour]);
        this.#pending.delete(id);
        this.#dropped.set(id, entry);
        dropped.push({ view: view.name, hour, keys });
      }
    }
    this.#forget(now, inUse);
    if (dropped.length > 0) this.#options.logger.info({ dropped }, 'dropped real-time data of sealed hours');
    return dropped;
  }

  /** Remembers a newly sealed hour; false when the bound is reached and every entry is in its grace. */
  #track(id: string, entry: TrackedHour): boolean {
    if (this.tracked >= (this.#options.maxTracked ?? 100_000)) {
      const oldest = this.#dropped.keys().next();
      if (oldest.done) return false;
      this.#dropped.delete(oldest.value);
    }
    this.#pending.set(id, entry);
    return true;
  }

  /** Forgets hours past the retention (never asked for again) and namespaces no stream uses any more. */
  #forget(now: number, inUse: Set<string>): void {
    const oldest = now - this.#options.retentionMs;
    for (const tracked of [this.#pending, this.#dropped]) {
      for (const [id, entry] of tracked) {
        if (entry.hour < oldest || !inUse.has(entry.namespace)) tracked.delete(id);
      }
    }
  }
}

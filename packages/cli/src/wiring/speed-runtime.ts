// The speed layer as the cli runs it: a live worker that follows the active-namespace pointer (so
// a `tandem replay` can switch it over), and a reader that resolves the pointer before each read
// (so the serving layer moves to the new views in one step). See speed-namespace.ts.
import type { DimensionFilter, PartialRow, TandemConfig, TimeRange } from '@tandem/core';
import {
  createSpeedMetrics,
  type SpeedMetrics,
  SpeedViewReader,
  type SpeedWorker,
  startSpeedWorker,
} from '@tandem/speed';
import type { Redis } from 'ioredis';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { activeNamespace } from './speed-namespace.ts';

export type SpeedStatus = Awaited<ReturnType<SpeedViewReader['status']>>;

export interface NamespacedSpeedReaderOptions {
  redis: Redis;
  basePrefix: string;
  topic: string;
  admin?: Admin;
  allowedLatenessMs: number;
  /** How long a resolved pointer is trusted. @defaultValue 500 */
  pointerTtlMs?: number;
}

/** A `SpeedViewReader` over whichever namespace the pointer names at the time of the read. */
export class NamespacedSpeedReader {
  readonly #options: NamespacedSpeedReaderOptions;
  readonly #readers = new Map<string, SpeedViewReader>();
  #resolved: { at: number; namespace: Promise<string> } | null = null;

  constructor(options: NamespacedSpeedReaderOptions) {
    this.#options = options;
  }

  /** The namespace the next read will use. */
  namespace(): Promise<string> {
    const now = Date.now();
    if (this.#resolved === null || now - this.#resolved.at > (this.#options.pointerTtlMs ?? 500)) {
      const namespace = activeNamespace(this.#options.redis, this.#options.basePrefix);
      namespace.catch(() => {
        if (this.#resolved?.namespace === namespace) this.#resolved = null;
      });
      this.#resolved = { at: now, namespace };
    }
    return this.#resolved.namespace;
  }

  /** The plain reader of one namespace (for replay progress, verify, tests). */
  readerFor(namespace: string): SpeedViewReader {
    let reader = this.#readers.get(namespace);
    if (!reader) {
      reader = new SpeedViewReader({
        redis: this.#options.redis,
        prefix: namespace,
        topic: this.#options.topic,
        allowedLatenessMs: this.#options.allowedLatenessMs,
        ...(this.#options.admin ? { admin: this.#options.admin } : {}),
      });
      this.#readers.set(namespace, reader);
    }
    return reader;
  }

  async readPartials(view: string, range: TimeRange, filter: DimensionFilter): Promise<PartialRow[]> {
    return this.readerFor(await this.namespace()).readPartials(view, range, filter);
  }

  /** Status of the active namespace; lag is null while the topic does not exist yet (no traffic). */
  async status(): Promise<SpeedStatus> {
    const namespace = await this.namespace();
    try {
      return await this.readerFor(namespace).status();
    } catch (error) {
      if (!this.#options.admin || !isUnknownTopic(error)) throw error;
      return this.#lagless(namespace).status();
    }
  }

  #lagless(namespace: string): SpeedViewReader {
    return new SpeedViewReader({
      redis: this.#options.redis,
      prefix: namespace,
      topic: this.#options.topic,
      allowedLatenessMs: this.#options.allowedLatenessMs,
    });
  }
}

function isUnknownTopic(error: unknown): boolean {
  const text = error instanceof Error ? `${error.name} ${error.message}` : String(error);
  return /does not host this topic-partition|UNKNOWN_TOPIC|unknown topic/i.test(text);
}

export interface LiveSpeedOptions {
  config: TandemConfig;
  kafka: Kafka;
  redis: Redis;
  logger: Logger;
  /** Oldest unsealed hour, for a worker whose namespace has no offsets yet. */
  rebuildFrom: () => Promise<number | null>;
  /** How often the pointer is checked. @defaultValue 1000 */
  pollMs?: number;
  /** Registry for the speed metrics (created once, kept across namespace switches). */
  metricsRegistry?: Registry | null;
}

/** The live worker: runs in the active namespace and restarts in the new one when the pointer moves. */
export class LiveSpeedWorker {
  readonly #options: LiveSpeedOptions;
  #worker: SpeedWorker | null = null;
  #namespace = '';
  #timer: NodeJS.Timeout | null = null;
  #switching: Promise<void> | null = null;
  #stopped = false;
  readonly #metrics: SpeedMetrics | undefined;

  constructor(options: LiveSpeedOptions) {
    this.#options = options;
    this.#metrics = options.metricsRegistry ? createSpeedMetrics(options.metricsRegistry) : undefined;
  }

  get namespace(): string {
    return this.#namespace;
  }

  async start(): Promise<void> {
    const { redis, config } = this.#options;
    this.#namespace = await activeNamespace(redis, config.redis.prefix);
    this.#worker = await this.#startWorker(this.#namespace);
    this.#timer = setInterval(() => {
      if (this.#switching !== null || this.#stopped) return;
      this.#switching = this.#follow()
        .catch((error: unknown) =>
          this.#options.logger.error({ err: error }, 'following the speed namespace failed'),
        )
        .finally(() => {
          this.#switching = null;
        });
    }, this.#options.pollMs ?? 1000);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#switching;
    await this.#worker?.stop();
    this.#worker = null;
  }

  async #follow(): Promise<void> {
    const { redis, config, logger } = this.#options;
    const target = await activeNamespace(redis, config.redis.prefix);
    if (target === this.#namespace || this.#stopped) return;
    logger.info({ from: this.#namespace, to: target }, 'speed namespace switched; moving the live worker');
    await this.#worker?.stop();
    this.#worker = null;
    this.#namespace = target;
    if (!this.#stopped) this.#worker = await this.#startWorker(target);
  }

  #startWorker(namespace: string): Promise<SpeedWorker> {
    const { config, kafka, redis, logger, rebuildFrom } = this.#options;
    return startSpeedWorker({
      config,
      kafka,
      redis,
      prefix: namespace,
      logger: logger.child({ component: 'speed', namespace }),
      rebuildFrom,
      ...(this.#metrics ? { metrics: this.#metrics } : {}),
    });
  }
}

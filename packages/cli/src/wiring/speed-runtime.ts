// The speed layer as the cli runs it: per stream, a live worker that follows the stream's
// active-namespace pointer (so a `tandem replay --stream S` can switch it over), and one reader
// that resolves the pointer of a view's stream before each read (so the serving layer moves to a
// stream's new views in one step). The pointers and namespaces are the speed layer's
// (packages/speed/README.md, "Namespaces").
import {
  builtinCatalog,
  type Catalog,
  type DimensionFilter,
  type PartialRow,
  type SpeedStatus,
  type SpeedViewReader,
  type Stream,
  type TandemConfig,
  type TimeRange,
} from '@tandem/core';
import {
  activeNamespace,
  RedisSpeedViewReader,
  type SpeedMetrics,
  type SpeedWorker,
  startSpeedWorker,
} from '@tandem/speed';
import type { RedisClient } from '@tandem/connections';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';

export interface NamespacedSpeedReaderOptions {
  redis: RedisClient;
  basePrefix: string;
  /** The deployment's streams and views (the same the serving layer and batch get). @defaultValue the built-in catalog */
  catalog?: Catalog;
  admin?: Admin;
  allowedLatenessMs: number;
  /** How long a resolved pointer is trusted. @defaultValue 500 */
  pointerTtlMs?: number;
}

/** A `SpeedViewReader` over whichever namespace each stream's pointer names at the time of the read. */
export class NamespacedSpeedReader implements SpeedViewReader {
  readonly #options: NamespacedSpeedReaderOptions;
  readonly #readers = new Map<string, RedisSpeedViewReader>();
  readonly #resolved = new Map<string, { at: number; namespace: Promise<string> }>();
  readonly catalog: Catalog;
  /** The stream `status()` and `namespace()` mean without an argument: the web stream, else the first. */
  readonly defaultStream: string;

  constructor(options: NamespacedSpeedReaderOptions) {
    this.#options = options;
    this.catalog = options.catalog ?? builtinCatalog();
    const names = this.catalog.streams.map((stream) => stream.name);
    this.defaultStream = names.includes('events') ? 'events' : names[0]!;
  }

  /** The namespace the next read of a stream's views will use. */
  namespace(stream: string = this.defaultStream): Promise<string> {
    const now = Date.now();
    const resolved = this.#resolved.get(stream);
    if (resolved === undefined || now - resolved.at > (this.#options.pointerTtlMs ?? 500)) {
      const namespace = activeNamespace(this.#options.redis, this.#options.basePrefix, stream);
      namespace.catch(() => {
        if (this.#resolved.get(stream)?.namespace === namespace) this.#resolved.delete(stream);
      });
      this.#resolved.set(stream, { at: now, namespace });
      return namespace;
    }
    return resolved.namespace;
  }

  /** The plain reader of one namespace, over the whole catalog (for replay progress, verify, tests). */
  readerFor(namespace: string): RedisSpeedViewReader {
    let reader = this.#readers.get(namespace);
    if (!reader) {
      reader = new RedisSpeedViewReader({
        redis: this.#options.redis,
        prefix: namespace,
        catalog: this.catalog,
        allowedLatenessMs: this.#options.allowedLatenessMs,
        ...(this.#options.admin ? { admin: this.#options.admin } : {}),
      });
      this.#readers.set(namespace, reader);
    }
    return reader;
  }

  async readPartials(view: string, range: TimeRange, filter: DimensionFilter): Promise<PartialRow[]> {
    const namespace = await this.namespace(this.catalog.view(view).stream);
    return this.readerFor(namespace).readPartials(view, range, filter);
  }

  /** Status of a stream in its active namespace; lag is null while its topic does not exist yet. */
  async status(stream: string = this.defaultStream): Promise<SpeedStatus> {
    const namespace = await this.namespace(stream);
    try {
      return await this.readerFor(namespace).status(stream);
    } catch (error) {
      if (!this.#options.admin || !isUnknownTopic(error)) throw error;
      return this.#lagless(namespace).status(stream);
    }
  }

  #lagless(namespace: string): RedisSpeedViewReader {
    return new RedisSpeedViewReader({
      redis: this.#options.redis,
      prefix: namespace,
      catalog: this.catalog,
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
  /** The deployment's streams and views. */
  catalog: Catalog;
  /** The stream this worker serves (one of the catalog's). */
  stream: Stream;
  kafka: Kafka;
  redis: RedisClient;
  logger: Logger;
  /** Oldest unsealed hour of the stream's views, for a worker whose namespace has no offsets yet. */
  rebuildFrom: (stream: Stream) => Promise<number | null>;
  /** How often the pointer is checked. @defaultValue 1000 */
  pollMs?: number;
  /** Speed metrics, shared by every stream's worker of the process (kept across namespace switches). */
  metrics?: SpeedMetrics;
}

/**
 * The live worker of one stream: runs in the stream's active namespace and restarts in the new one
 * when the stream's pointer moves. Several of them (one per stream) share the process's clients.
 */
export class LiveSpeedWorker {
  readonly #options: LiveSpeedOptions;
  #worker: SpeedWorker | null = null;
  #namespace = '';
  #timer: NodeJS.Timeout | null = null;
  #switching: Promise<void> | null = null;
  #stopped = false;

  constructor(options: LiveSpeedOptions) {
    this.#options = options;
  }

  get stream(): Stream {
    return this.#options.stream;
  }

  get namespace(): string {
    return this.#namespace;
  }

  /** The current worker's health (`/healthz`); while a namespace switch swaps workers, the old one's. */
  health(): { ok: boolean; detail: string } {
    return this.#worker?.health() ?? { ok: false, detail: 'not started' };
  }

  async start(): Promise<void> {
    const { redis, config, stream } = this.#options;
    this.#namespace = await activeNamespace(redis, config.redis.prefix, stream.name);
    this.#worker = await this.#startWorker(this.#namespace);
    this.#timer = setInterval(() => {
      if (this.#switching !== null || this.#stopped) return;
      this.#switching = this.#follow()
        .catch((error: unknown) =>
          this.#options.logger.error(
            { err: error, stream: stream.name },
            'following the speed namespace failed',
          ),
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
    const { redis, config, logger, stream } = this.#options;
    const target = await activeNamespace(redis, config.redis.prefix, stream.name);
    if (target === this.#namespace || this.#stopped) return;
    logger.info(
      { stream: stream.name, from: this.#namespace, to: target },
      'speed namespace switched; moving the live worker',
    );
    await this.#worker?.stop();
    this.#worker = null;
    this.#namespace = target;
    if (!this.#stopped) this.#worker = await this.#startWorker(target);
  }

  #startWorker(namespace: string): Promise<SpeedWorker> {
    const { config, catalog, stream, kafka, redis, logger, rebuildFrom, metrics } = this.#options;
    return startSpeedWorker({
      config,
      catalog,
      stream,
      kafka,
      redis,
      prefix: namespace,
      logger: logger.child({ component: 'speed', stream: stream.name, namespace }),
      rebuildFrom,
      ...(metrics ? { metrics } : {}),
    });
  }
}

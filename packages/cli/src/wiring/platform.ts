// Wires the configuration to every component. One Platform per `tandem` process builds each shared
// client once, lazily (so `tandem status` never connects to what it does not read), hands ready
// clients to the components, and closes what it built after the components have stopped.
import type { TandemConfig } from '@tandem/core';
import { listViews } from '@tandem/core';
import { createArchiver } from '@tandem/archiver';
import { archiverOptionsFromConfig } from '@tandem/archiver';
import { type ObjectStore, openObjectStore } from '@tandem/lake';
import { buildServer, serverOptionsFromConfig } from '@tandem/serving';
import type { Redis } from 'ioredis';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type BatchOps, openBatchOps } from './batch.ts';
import { connectRedis, createKafka, kafkaUnavailable } from './clients.ts';
import { SealedHourJanitor } from './janitor.ts';
import type { Running, Starter } from './lifecycle.ts';
import { LiveSpeedWorker, NamespacedSpeedReader } from './speed-runtime.ts';
import { ensureTopics } from './topics.ts';

/** The archiver's consumer group: one per topic, so archivers of different topics never share a group. */
export function archiverGroupId(config: TandemConfig): string {
  return config.kafka.topic === 'events' ? 'tandem-archiver' : `tandem-archiver.${config.kafka.topic}`;
}

export class Platform {
  readonly config: TandemConfig;
  readonly logger: Logger;
  #kafka: Kafka | null = null;
  #admin: Promise<Admin> | null = null;
  #redis: Promise<Redis> | null = null;
  #lake: ObjectStore | null = null;
  #batch: Promise<BatchOps> | null = null;
  #speedReader: Promise<NamespacedSpeedReader> | null = null;
  /** Where components register their Prometheus metrics (serving's registry under `up`); none when null. */
  metricsRegistry: Registry | null = null;
  /** Why Kafka could not be reached for lag, when it could not (shown by `tandem status`). */
  kafkaProblem: string | null = null;

  constructor(config: TandemConfig, logger: Logger) {
    this.config = config;
    this.logger = logger;
  }

  kafka(): Kafka {
    this.#kafka ??= createKafka(this.config.kafka, 'tandem');
    return this.#kafka;
  }

  /** A connected admin client (lag, offsets, topics). */
  admin(): Promise<Admin> {
    this.#admin ??= (async () => {
      const admin = this.kafka().admin();
      try {
        await admin.connect();
      } catch (error) {
        this.#admin = null;
        throw kafkaUnavailable(this.config.kafka, error);
      }
      return admin;
    })();
    return this.#admin;
  }

  redis(): Promise<Redis> {
    this.#redis ??= connectRedis(this.config.redis).catch((error: unknown) => {
      this.#redis = null;
      throw error;
    });
    return this.#redis;
  }

  lake(): ObjectStore {
    this.#lake ??= openObjectStore(this.config.lake);
    return this.#lake;
  }

  /** The batch layer: reader and ops entry points over the shared lake and Redis. */
  batch(): Promise<BatchOps> {
    this.#batch ??= (async () => openBatchOps(this.config, this.lake(), await this.redis(), this.logger))();
    return this.#batch;
  }

  /** The real-time views in whichever namespace is active (with lag when Kafka is reachable). */
  speedReader(options: { withLag?: boolean } = {}): Promise<NamespacedSpeedReader> {
    this.#speedReader ??= (async () => {
      let admin: Admin | undefined;
      if (options.withLag !== false) {
        admin = await this.admin().catch((error: unknown) => {
          this.kafkaProblem = error instanceof Error ? error.message : String(error);
          return undefined;
        });
      }
      return new NamespacedSpeedReader({
        redis: await this.redis(),
        basePrefix: this.config.redis.prefix,
        topic: this.config.kafka.topic,
        allowedLatenessMs: this.config.speed.allowedLatenessMs,
        ...(admin ? { admin } : {}),
      });
    })();
    return this.#speedReader;
  }

  /** Start of the oldest hour not sealed for every view: where a speed namespace without offsets starts. */
  async rebuildFrom(): Promise<number | null> {
    const batch = await this.batch();
    let oldest: number | null = null;
    for (const view of listViews()) {
      const through = await batch.reader.sealedThrough(view.name);
      if (through === null) return null;
      oldest = oldest === null ? through : Math.min(oldest, through);
    }
    return oldest;
  }

  // ---- long-running components ----

  speedStarter(): Starter {
    return {
      name: 'speed layer',
      start: async () => {
        await ensureTopics(this.kafka(), this.config.kafka);
        const worker = new LiveSpeedWorker({
          metricsRegistry: this.metricsRegistry,
          config: this.config,
          kafka: this.kafka(),
          redis: await this.redis(),
          logger: this.logger,
          rebuildFrom: () =>
            this.rebuildFrom().catch((error: unknown) => {
              this.logger.warn(
                { err: error },
                'batch layer unreadable; rebuilding speed from the default retention',
              );
              return null;
            }),
        });
        await worker.start();
        return { name: 'speed layer', stop: () => worker.stop() };
      },
    };
  }

  archiverStarter(onFatal: (error: unknown) => void): Starter {
    return {
      name: 'archiver',
      start: async () => {
        await ensureTopics(this.kafka(), this.config.kafka);
        const archiver = createArchiver({
          ...archiverOptionsFromConfig(this.config),
          kafka: this.kafka(),
          lake: this.lake(),
          groupId: archiverGroupId(this.config),
          signals: [],
          registry: this.metricsRegistry,
          logger: this.logger.child({ component: 'archiver' }),
        });
        await archiver.start();
        archiver.stopped.catch(onFatal);
        return { name: 'archiver', stop: () => archiver.stop() };
      },
    };
  }

  schedulerStarter(): Starter {
    return {
      name: 'batch scheduler',
      start: async () => {
        const batch = await this.batch();
        const scheduler = await batch.startScheduler();
        return { name: 'batch scheduler', stop: () => scheduler.stop() };
      },
    };
  }

  janitorStarter(): Starter {
    return {
      name: 'speed janitor',
      start: async () => {
        const janitor = new SealedHourJanitor({
          batch: (await this.batch()).reader,
          speed: await this.speedReader({ withLag: false }),
          graceMs: this.config.speed.sealedGraceMs,
          retentionMs: this.config.speed.bucketTtlSeconds * 1000,
          logger: this.logger.child({ component: 'janitor' }),
        });
        janitor.start();
        return { name: 'speed janitor', stop: () => janitor.stop() };
      },
    };
  }

  /** The serving layer; `onListening` learns the address (for the demo's "where to look"). */
  serveStarter(onListening: (url: string) => void): Starter {
    return {
      name: 'serving layer',
      start: async (): Promise<Running> => {
        const batch = await this.batch();
        const speed = await this.speedReader();
        const redis = await this.redis();
        const app = await buildServer({
          ...serverOptionsFromConfig(this.config),
          batch: batch.reader,
          speed,
          redis,
          loggerInstance: this.logger.child({ component: 'serving' }),
          requestRecompute: async (view, range) => {
            // Queued, not awaited: the HTTP answer says what will run; progress shows in run history.
            const hours = Math.ceil((range.to - range.from) / 3_600_000);
            void batch
              .recompute(view, range, { signal: new AbortController().signal })
              .catch((error: unknown) => this.logger.error({ err: error, view, range }, 'recompute failed'));
            return { queued: true, hours };
          },
          readinessProbes: {
            redis: async () => (await this.redis()).ping(),
            kafka: async () => (await this.admin()).listTopics(),
            lake: async () => {
              const iterator = this.lake().list('logs/')[Symbol.asyncIterator]();
              await iterator.next();
              await iterator.return?.();
            },
          },
        });
        // Components started after the server report on its /metrics.
        this.metricsRegistry ??= app.metricsRegistry;
        const address = await app.listen({ host: this.config.serving.host, port: this.config.serving.port });
        onListening(address.replace('[::1]', 'localhost'));
        return { name: 'serving layer', stop: () => app.close() };
      },
    };
  }

  /** Closes every client the platform built (after the components that used them stopped). */
  async close(): Promise<void> {
    const errors: unknown[] = [];
    if (this.#admin)
      await (await this.#admin.catch(() => null))?.disconnect().catch((e: unknown) => errors.push(e));
    if (this.#batch)
      await (await this.#batch.catch(() => null))?.close().catch((e: unknown) => errors.push(e));
    if (this.#lake) await this.#lake.close().catch((e: unknown) => errors.push(e));
    if (this.#redis) (await this.#redis.catch(() => null))?.disconnect();
    if (errors.length > 0) throw new AggregateError(errors, 'closing clients failed');
  }
}

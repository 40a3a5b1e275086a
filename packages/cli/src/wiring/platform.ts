// Wires the configuration and the deployment's catalog to every component. One Platform per
// `tandem` process builds each shared client once, lazily (so `tandem status` never connects to
// what it does not read), hands ready clients to the components, and closes what it built after
// the components have stopped. Every component gets the same catalog: the serving layer, the batch
// layer, the speed reader and the janitor resolve view names in it, and the long-running speed
// workers and archivers run one per stream of it (or of a subset, `--stream`).
//
// The platform also keeps what the serving layer's probes ask: one readiness probe per dependency
// the process needs (Redis and the lake always; Kafka once a speed worker or an archiver runs here)
// and one health check per running component that can tell whether it still makes progress.
import { createArchiver } from '@tandem/archiver';
import { archiverOptionsFromConfig } from '@tandem/archiver';
import type { Catalog, HealthCheck, ReadinessProbe, Stream, TandemConfig } from '@tandem/core';
import { builtinCatalog } from '@tandem/core';
import {
  ActiveVersions,
  GenerationCatalog,
  GenerationRegistry,
  maintainServingVersions,
} from '@tandem/batch';
import { type ObjectStore, openObjectStore } from '@tandem/lake';
import { buildServer, serverOptionsFromConfig } from '@tandem/serving';
import { createSpeedMetrics, type SpeedMetrics } from '@tandem/speed';
import type { RedisClient } from '@tandem/connections';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type BatchOps, openBatchOps } from './batch.ts';
import { connectRedis, createKafka, kafkaUnavailable } from './clients.ts';
import { SealedHourJanitor } from './janitor.ts';
import type { Running, Starter } from './lifecycle.ts';
import { LiveSpeedWorker, NamespacedSpeedReader } from './speed-runtime.ts';
import { ensureStreamTopics } from './topics.ts';

export class Platform {
  readonly config: TandemConfig;
  readonly logger: Logger;
  /**
   * The deployment's streams and views (`context.catalog()`), which also resolves the other live
   * versions of a view (`<view>@v<n>`) once the registry has named them: every component gets it.
   */
  readonly catalog: GenerationCatalog;
  #kafka: Kafka | null = null;
  #admin: Promise<Admin> | null = null;
  #redis: Promise<RedisClient> | null = null;
  #lake: ObjectStore | null = null;
  #batch: Promise<BatchOps> | null = null;
  #speedReader: Promise<NamespacedSpeedReader> | null = null;
  #speedMetrics: SpeedMetrics | null = null;
  readonly #ensuredTopics = new Map<string, Promise<unknown>>();
  /** Where components register their Prometheus metrics (serving's registry under `up`); none when null. */
  metricsRegistry: Registry | null = null;
  /** Why Kafka could not be reached for lag, when it could not (shown by `tandem status`). */
  kafkaProblem: string | null = null;
  /**
   * What `/readyz` probes: the dependencies this process needs, each with one cheap call. Kafka
   * joins when a component that consumes starts (`serve` alone reads Kafka only for lag figures).
   */
  readonly readinessProbes: Record<string, ReadinessProbe> = {
    redis: async () => (await this.redis()).ping(),
    // One HEAD of a fixed key: O(1) on S3 and on a directory, however large the lake grows (a
    // missing object is an answer; an unreachable store or a missing bucket throws).
    lake: async () => this.lake().head('_tandem/readiness-probe'),
  };
  /** What `/healthz` asks: the running components that can tell whether they still make progress. */
  readonly healthChecks: Record<string, HealthCheck> = {};

  /** Without a catalog, the built-in web catalog on the config's topics (as without a config file). */
  constructor(config: TandemConfig, logger: Logger, catalog?: Catalog) {
    this.config = config;
    this.logger = logger;
    this.catalog = new GenerationCatalog(
      catalog ??
        builtinCatalog({
          topic: config.kafka.topic,
          dlqTopic: config.kafka.dlqTopic,
          lateTopic: config.kafka.lateTopic,
        }),
    );
  }

  /** The streams named (every stream of the catalog when none is); an unknown name is a coded error. */
  streams(names?: readonly string[]): Stream[] {
    if (names === undefined || names.length === 0) return [...this.catalog.streams];
    return [...new Set(names)].map((name) => this.catalog.stream(name));
  }

  /** Creates the streams' source, dead-letter and late topics when missing, once per process. */
  async ensureTopics(streams: readonly Stream[]): Promise<void> {
    const missing = streams.filter((stream) => !this.#ensuredTopics.has(stream.name));
    if (missing.length > 0) {
      const ensured = ensureStreamTopics(this.kafka(), this.config.kafka, missing);
      for (const stream of missing) this.#ensuredTopics.set(stream.name, ensured);
      ensured.catch(() => {
        for (const stream of missing) this.#ensuredTopics.delete(stream.name);
      });
    }
    await Promise.all(streams.map((stream) => this.#ensuredTopics.get(stream.name)));
  }

  /** The speed metrics of the process, on `metricsRegistry`, shared by every stream's worker. */
  speedMetrics(): SpeedMetrics | undefined {
    if (this.#speedMetrics === null && this.metricsRegistry !== null) {
      this.#speedMetrics = createSpeedMetrics(this.metricsRegistry);
    }
    return this.#speedMetrics ?? undefined;
  }

  kafka(): Kafka {
    this.#kafka ??= createKafka(this.config.kafka, 'tandem', this.logger);
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

  redis(): Promise<RedisClient> {
    this.#redis ??= connectRedis(this.config.redis, this.logger).catch((error: unknown) => {
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
    this.#batch ??= (async () =>
      openBatchOps(this.config, this.catalog, this.lake(), await this.redis(), this.logger))();
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
        catalog: this.catalog,
        allowedLatenessMs: this.config.speed.allowedLatenessMs,
        ...(admin ? { admin } : {}),
      });
    })();
    return this.#speedReader;
  }

  /**
   * Start of the oldest hour not sealed for every view of a stream (of every stream when none is
   * named): where a speed namespace without offsets starts. Null when a view has no sealed hour.
   */
  async rebuildFrom(stream?: string): Promise<number | null> {
    const batch = await this.batch();
    const views = stream === undefined ? this.catalog.views : this.catalog.viewsOf(stream);
    let oldest: number | null = null;
    for (const view of views) {
      const through = await batch.reader.sealedThrough(view.name);
      if (through === null) return null;
      oldest = oldest === null ? through : Math.min(oldest, through);
    }
    return oldest;
  }

  // ---- long-running components ----

  /**
   * One live speed worker per stream (every stream of the catalog by default), each following its
   * stream's namespace pointer, all sharing this process's Kafka and Redis clients and metrics.
   */
  speedStarters(names?: readonly string[]): Starter[] {
    const streams = this.streams(names);
    return streams.map((stream) => ({
      name: `speed layer (${stream.name})`,
      start: async (): Promise<Running> => {
        this.#needKafka();
        await this.ensureTopics(streams);
        const metrics = this.speedMetrics();
        // The stream's views at the numbers the registry gave their config definitions: a changed
        // definition is written under its own version, never into the one serving. The start is
        // recorded, so the batch layer switches to a new version only once the hours before it are sealed.
        const redis = await this.redis();
        const registry = new GenerationRegistry(redis, this.config.redis.prefix);
        const views = this.catalog.viewsOf(stream.name).map((view) => view.name);
        // The serving version of a view whose new definition builds is kept too, in the same apply.
        await maintainServingVersions(registry, this.catalog, views, Date.now());
        for (const view of views) {
          await registry.markSpeedStart(view, this.catalog.view(view).version, Date.now());
        }
        const worker = new LiveSpeedWorker({
          config: this.config,
          catalog: this.catalog,
          stream,
          kafka: this.kafka(),
          redis: await this.redis(),
          logger: this.logger,
          ...(metrics ? { metrics } : {}),
          rebuildFrom: (asked) =>
            this.rebuildFrom(asked.name).catch((error: unknown) => {
              this.logger.warn(
                { err: error, stream: asked.name },
                'batch layer unreadable; rebuilding speed from the default retention',
              );
              return null;
            }),
        });
        await worker.start();
        const name = `speed layer (${stream.name})`;
        this.healthChecks[name] = () => worker.health();
        return {
          name,
          stop: async () => {
            delete this.healthChecks[name];
            await worker.stop();
          },
        };
      },
    }));
  }

  /** Consuming components need Kafka: from their start on, `/readyz` probes it too. */
  #needKafka(): void {
    this.readinessProbes.kafka ??= async () => (await this.admin()).listTopics();
  }

  /** One archiver per stream (every stream of the catalog by default), each in its own consumer group. */
  archiverStarters(onFatal: (error: unknown) => void, names?: readonly string[]): Starter[] {
    const streams = this.streams(names);
    return streams.map((stream) => ({
      name: `archiver (${stream.name})`,
      start: async (): Promise<Running> => {
        this.#needKafka();
        await this.ensureTopics(streams);
        const archiver = createArchiver({
          ...archiverOptionsFromConfig(this.config, stream),
          kafka: this.kafka(),
          lake: this.lake(),
          signals: [],
          registry: this.metricsRegistry,
          logger: this.logger.child({ component: 'archiver', stream: stream.name }),
        });
        await archiver.start();
        const name = `archiver (${stream.name})`;
        let ended: string | null = null;
        archiver.stopped.then(
          () => {
            ended = 'stopped';
          },
          (error: unknown) => {
            ended = `stopped by a fatal error: ${error instanceof Error ? error.message : String(error)}`;
            onFatal(error);
          },
        );
        this.healthChecks[name] = () =>
          ended === null ? { ok: true, detail: 'consuming' } : { ok: false, detail: ended };
        return {
          name,
          stop: async () => {
            delete this.healthChecks[name];
            await archiver.stop();
          },
        };
      },
    }));
  }

  schedulerStarter(): Starter {
    return {
      name: 'batch scheduler',
      start: async () => {
        const batch = await this.batch();
        const scheduler = await batch.startScheduler();
        this.healthChecks['batch scheduler'] = () => {
          const { ok, detail } = scheduler.health();
          return { ok, detail };
        };
        return {
          name: 'batch scheduler',
          stop: async () => {
            // Aborts a catch-up or an hourly run between hours, then waits for it.
            delete this.healthChecks['batch scheduler'];
            await scheduler.stop();
          },
        };
      },
    };
  }

  janitorStarter(): Starter {
    return {
      name: 'speed janitor',
      start: async () => {
        const janitor = new SealedHourJanitor({
          catalog: this.catalog,
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
        // Status pages read sealed-through and stale hours from the batch layer's status record.
        const statusReader = batch.statusReader();
        const jobs = batch.recomputeJobs({ concurrency: this.config.batch.jobConcurrency });
        this.healthChecks['recompute jobs'] = () => {
          const { running, queued } = jobs.active;
          return { ok: true, detail: `${running} running, ${queued} queued` };
        };
        const app = await buildServer({
          ...serverOptionsFromConfig(this.config),
          catalog: this.catalog,
          // One read of each view's active version per query (the batch layer's registry).
          versions: new ActiveVersions(new GenerationRegistry(redis, this.config.redis.prefix), this.catalog),
          batch: statusReader,
          batchStatus: (view) => statusReader.status(view),
          versionStatus: (view) => batch.layer.generations.versionStatus(view),
          speed,
          redis,
          loggerInstance: this.logger.child({ component: 'serving' }),
          recomputeJobs: jobs,
          readinessProbes: this.readinessProbes,
          healthChecks: this.healthChecks,
        });
        // Components started after the server report on its /metrics.
        this.metricsRegistry ??= app.metricsRegistry;
        const address = await app.listen({ host: this.config.serving.host, port: this.config.serving.port });
        onListening(address.replace('[::1]', 'localhost'));
        return {
          name: 'serving layer',
          stop: async () => {
            // Jobs first: a running one stops between hours, queued ones are cancelled, and every
            // replica sees that in Redis; new submits meanwhile answer 503.
            delete this.healthChecks['recompute jobs'];
            const errors: unknown[] = [];
            await jobs.close().catch((error: unknown) => errors.push(error));
            await app.close().catch((error: unknown) => errors.push(error));
            if (errors.length > 0) throw new AggregateError(errors, 'the serving layer did not stop cleanly');
          },
        };
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

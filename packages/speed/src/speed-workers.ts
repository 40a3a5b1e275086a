// Several streams in one process: one SpeedWorker per stream (each its own consumer group, topics,
// keys and dedup windows), sharing one Kafka client, one Redis client and the metrics. A stream's
// worker fails or stops with the group, so a process never serves some of its streams silently.
import type { Catalog, RedisConfig } from '@tandem/core';
import type { Logger } from 'pino';
import { createKafkaClient, createRedisClient, openRedis } from './clients.ts';
import type { SpeedTuning, SpeedWorkerOptions } from './options.ts';
import type { RedisClient } from './scripts.ts';
import { SpeedWorker } from './speed-worker.ts';

/** Options of a group of workers: those of `SpeedWorker` for every stream, plus which streams. */
export interface SpeedWorkersOptions
  extends Omit<SpeedWorkerOptions, 'stream' | 'catalog' | 'topic' | 'dlqTopic' | 'lateTopic' | 'views'> {
  /** The deployment's streams and views. */
  catalog: Catalog;
  /** Streams to serve, by name. @defaultValue every stream of the catalog */
  streams?: readonly string[];
  /** Tuning of one stream over the shared options (its `views`, its lateness...), by stream name. */
  perStream?: Readonly<Record<string, Partial<Omit<SpeedTuning, 'topic' | 'dlqTopic' | 'lateTopic'>>>>;
}

/** The workers of several streams, started and stopped together. */
export class SpeedWorkerGroup {
  /** One worker per stream, in the order of `streams` (or the catalog's). */
  readonly workers: readonly SpeedWorker[];
  readonly #ownedRedis: RedisClient | null;
  readonly #redisConfig: RedisConfig | undefined;
  readonly #logger: Logger | undefined;
  #started = false;
  #stopping: Promise<void> | null = null;

  constructor(options: SpeedWorkersOptions) {
    const { catalog, streams, perStream, ...shared } = options;
    const names = streams ?? catalog.streams.map((stream) => stream.name);
    const selected = names.map((name) => catalog.stream(name));
    for (const name of Object.keys(perStream ?? {})) catalog.stream(name);
    // one client of each for every stream; the group closes the Redis client only when it made it
    const kafka =
      shared.kafka ??
      (shared.config === undefined
        ? undefined
        : createKafkaClient(
            shared.config.kafka,
            shared.logger === undefined ? {} : { logger: shared.logger },
          ));
    // built here without connecting (a constructor cannot wait); start() makes the first connection
    this.#ownedRedis =
      shared.redis === undefined && shared.config !== undefined
        ? createRedisClient(shared.config.redis, shared.logger)
        : null;
    const redis = shared.redis ?? this.#ownedRedis ?? undefined;
    this.#redisConfig = shared.config?.redis;
    this.#logger = shared.logger;
    try {
      this.workers = selected.map(
        (stream) =>
          new SpeedWorker({
            ...shared,
            ...perStream?.[stream.name],
            ...(kafka === undefined ? {} : { kafka }),
            ...(redis === undefined ? {} : { redis }),
            stream,
            catalog,
          }),
      );
    } catch (error) {
      this.#ownedRedis?.disconnect();
      throw error;
    }
  }

  /** The worker of a stream. */
  worker(stream: string): SpeedWorker | undefined {
    return this.workers.find((worker) => worker.stream.name === stream);
  }

  /** Starts every worker; if one cannot start, stops those that did and throws. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    try {
      // a Redis that is not there fails the start at once with a coded error (the shared policy)
      if (this.#ownedRedis !== null && this.#redisConfig !== undefined)
        await openRedis(this.#ownedRedis, this.#redisConfig);
      for (const worker of this.workers) await worker.start();
    } catch (error) {
      await this.stop().catch((stopError: unknown) =>
        this.#logger?.error({ err: stopError }, 'speed workers did not stop cleanly after a failed start'),
      );
      throw error;
    }
  }

  /** Stops every worker (concurrently), then closes the Redis client the group created. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const results = await Promise.allSettled(this.workers.map((worker) => worker.stop()));
      const errors = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
      if (this.#ownedRedis !== null) {
        try {
          // a client whose first connect failed (or never ran) has nothing to QUIT
          if (this.#ownedRedis.status === 'ready') await this.#ownedRedis.quit();
          else this.#ownedRedis.disconnect();
        } catch (error) {
          errors.push(error);
        }
      }
      if (errors.length > 0) throw new AggregateError(errors, 'speed workers did not stop cleanly');
    })();
    return this.#stopping;
  }
}

/** Creates and starts the workers of several streams (every stream of the catalog by default). */
export async function startSpeedWorkers(options: SpeedWorkersOptions): Promise<SpeedWorkerGroup> {
  const group = new SpeedWorkerGroup(options);
  await group.start();
  return group;
}

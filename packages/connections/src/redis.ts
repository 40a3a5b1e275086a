// Redis clients from config: one TLS/auth mapping and one connection policy for every component —
// fail fast with a coded error on the first connect, then reconnect forever with capped backoff —
// for a single Redis (`REDIS_URL`) and for a Redis Cluster (`REDIS_CLUSTER_NODES`) alike.
import { type RedisConfig, serviceUnavailable } from '@tandem/core';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/**
 * A Redis client of either kind: one node, or a Redis Cluster (ioredis routes each command to the
 * master of its key's slot). Every component takes this type, so none cares which it was given.
 * What works on both: single-key commands, Lua scripts and MULTI whose keys share one slot (every
 * Tandem key layout hash-tags what one script or transaction touches), and per-node work (SCAN,
 * CONFIG) through `redisMasters`.
 */
export type RedisClient = Redis | Cluster;

/** Attempts of the first connection before it gives up (with 200, 400, 600 ms between them). */
export const redisFirstConnectAttempts = 3;

/** Reconnect delays once connected: capped backoff, forever (a Redis restart must heal by itself). */
export function redisReconnectDelay(attempt: number): number {
  return Math.min(attempt * 200, 5_000);
}

/** The Redis URL without its credentials, for messages and logs. */
export function redisTarget(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/**
 * What the config connects to, for messages and logs: the URL without credentials, or
 * `cluster 10.0.0.1:7001,10.0.0.2:7002` for a Redis Cluster.
 */
export function redisConfigTarget(
  config: Pick<RedisConfig, 'url'> & Partial<Pick<RedisConfig, 'clusterNodes'>>,
): string {
  const nodes = config.clusterNodes;
  if (nodes !== null && nodes !== undefined && nodes.length > 0) {
    return `cluster ${nodes.map(({ host, port }) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`)).join(',')}`;
  }
  return redisTarget(config.url);
}

/** The masters of a client: the node itself, or every master of a cluster (for SCAN, CONFIG GET). */
export function redisMasters(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/** Where a client points, for errors and logs: `redis://host:port`, or `cluster host:port,…`. */
export function describeRedis(redis: RedisClient): string {
  if (redis instanceof Cluster) {
    const nodes = redis.nodes('master');
    const shown = nodes.length > 0 ? nodes : redis.nodes('all');
    return `cluster ${shown.map((node) => `${node.options.host ?? '127.0.0.1'}:${node.options.port ?? 6379}`).join(',')}`;
  }
  return `redis://${redis.options.host ?? '127.0.0.1'}:${redis.options.port ?? 6379}`;
}

/**
 * A Redis client for the configured URL, or for the configured Redis Cluster when
 * `config.clusterNodes` is set; not yet connected: `openRedis` (or `connectRedis`, which does both)
 * makes the first connection. The policy, the same for every component and for both kinds:
 * - TLS when the URL is `rediss:` or `REDIS_TLS` is set (both end in `config.tls`); username and
 *   password from the URL or `REDIS_USERNAME` / `REDIS_PASSWORD` (on a cluster: for every node).
 * - The first connection gives up after `redisFirstConnectAttempts`, so a process started against a
 *   stopped stack says so at once; once it has been ready, the client reconnects forever with
 *   `redisReconnectDelay`, so a Redis restart heals without restarting Tandem.
 * - `enableOfflineQueue: false`: a command sent while Redis is away fails at once instead of waiting
 *   unbounded in memory; callers decide how to wait (the speed worker holds its partitions, serving
 *   answers 503, the cli reports the coded error).
 * - `maxRetriesPerRequest: 2`: a command already written when the connection drops is resent on
 *   at most two reconnects, then fails, so no caller hangs for more than a few reconnect delays.
 * - No auto-pipelining: ioredis 5 can throw an uncaught "results[i] is not iterable" when the
 *   connection drops mid-pipeline (redis/ioredis#1931), and on Cluster it routes scripts by their
 *   key count instead of their first key (redis/ioredis#2109). Commands are still pipelined on the
 *   socket: ioredis never waits for a reply before writing the next command.
 * - On a cluster: reads and writes go to masters (replicas lag, and the speed layer reads what it
 *   just wrote); MOVED / ASK are followed, a failover or CLUSTERDOWN is retried every 200 ms within
 *   ioredis's 16 redirections, and the client is ready only once CLUSTER INFO says `ok`.
 * Connection errors are logged at `warn` to `logger` when given; either way they also surface on
 * the failing command (an 'error' event without a listener would be printed by ioredis itself).
 */
export function createRedisClient(config: RedisConfig, logger?: Logger): RedisClient {
  let readyOnce = false;
  const retry = (attempt: number): number | null =>
    readyOnce ? redisReconnectDelay(attempt) : attempt > redisFirstConnectAttempts ? null : attempt * 200;
  const nodeOptions: RedisOptions = {
    connectTimeout: 5_000,
    maxRetriesPerRequest: 2,
    ...(config.username ? { username: config.username } : {}),
    ...(config.password ? { password: config.password } : {}),
    ...(config.tls ? { tls: {} } : {}),
  };
  let redis: RedisClient;
  if (config.clusterNodes !== null && config.clusterNodes.length > 0) {
    const clusterOptions: ClusterOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableReadyCheck: true,
      scaleReads: 'master',
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 200,
      slotsRefreshTimeout: 2_000,
      clusterRetryStrategy: retry,
      redisOptions: nodeOptions,
    };
    redis = new Cluster(
      config.clusterNodes.map(({ host, port }) => ({ host, port })),
      clusterOptions,
    );
  } else {
    redis = new Redis(config.url, {
      ...nodeOptions,
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: retry,
    });
  }
  redis.once('ready', () => {
    readyOnce = true;
  });
  const target = redisConfigTarget(config);
  redis.on('error', (error: Error) => {
    logger?.warn({ err: error, redis: target }, 'Redis connection error; reconnecting');
  });
  return redis;
}

/**
 * Makes the first connection of a client from `createRedisClient`; on failure disconnects it and
 * throws TANDEM_ERR_SERVICE_UNAVAILABLE naming Redis (or the cluster's nodes) and how to start it.
 * A ready client is returned as it is.
 */
export async function openRedis<C extends RedisClient>(
  redis: C,
  config: Pick<RedisConfig, 'url'> & Partial<Pick<RedisConfig, 'clusterNodes'>>,
): Promise<C> {
  if (redis.status === 'ready') return redis;
  try {
    if (redis.status === 'wait') await redis.connect();
    else
      await new Promise<void>((resolve, reject) => {
        redis.once('ready', resolve);
        redis.once('end', () => reject(new Error('Connection is closed.')));
      });
  } catch (error) {
    redis.disconnect();
    throw serviceUnavailable('Redis', redisConfigTarget(config), error);
  }
  return redis;
}

/** A connected Redis client under the shared policy (see `createRedisClient`); the caller quits it. */
export async function connectRedis(config: RedisConfig, logger?: Logger): Promise<RedisClient> {
  return openRedis(createRedisClient(config, logger), config);
}

// Redis clients from config: one TLS/auth mapping and one connection policy for every component —
// fail fast with a coded error on the first connect, then reconnect forever with capped backoff.
import { type RedisConfig, serviceUnavailable } from '@tandem/core';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

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
 * A Redis client for the configured URL, not yet connected: `openRedis` (or `connectRedis`, which
 * does both) makes the first connection. The policy, the same for every component:
 * - TLS when the URL is `rediss:` or `REDIS_TLS` is set (both end in `config.tls`); username and
 *   password from the URL or `REDIS_USERNAME` / `REDIS_PASSWORD`.
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
 * Connection errors are logged at `warn` to `logger` when given; either way they also surface on
 * the failing command (an 'error' event without a listener would be printed by ioredis itself).
 */
export function createRedisClient(config: RedisConfig, logger?: Logger): Redis {
  let readyOnce = false;
  const redis = new Redis(config.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    ...(config.username ? { username: config.username } : {}),
    ...(config.password ? { password: config.password } : {}),
    ...(config.tls ? { tls: {} } : {}),
    retryStrategy: (attempt) =>
      readyOnce ? redisReconnectDelay(attempt) : attempt > redisFirstConnectAttempts ? null : attempt * 200,
  });
  redis.once('ready', () => {
    readyOnce = true;
  });
  const target = redisTarget(config.url);
  redis.on('error', (error: Error) => {
    logger?.warn({ err: error, redis: target }, 'Redis connection error; reconnecting');
  });
  return redis;
}

/**
 * Makes the first connection of a client from `createRedisClient`; on failure disconnects it and
 * throws TANDEM_ERR_SERVICE_UNAVAILABLE naming Redis and how to start it. A ready client is returned
 * as it is.
 */
export async function openRedis(redis: Redis, config: Pick<RedisConfig, 'url'>): Promise<Redis> {
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
    throw serviceUnavailable('Redis', redisTarget(config.url), error);
  }
  return redis;
}

/** A connected Redis client under the shared policy (see `createRedisClient`); the caller quits it. */
export async function connectRedis(config: RedisConfig, logger?: Logger): Promise<Redis> {
  return openRedis(createRedisClient(config, logger), config);
}

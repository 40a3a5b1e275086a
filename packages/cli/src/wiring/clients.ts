// Kafka and Redis clients built from the one config, for the cli's own work (generate, dlq, replay,
// status). Components build their own from the same config; whoever builds a client closes it.
import type { KafkaConfig, RedisConfig } from '@tandem/core';
import { serviceUnavailable } from '@tandem/core';
import { Redis } from 'ioredis';
import { Kafka, type KafkaConfig as KafkaJsConfig, logLevel } from 'kafkajs';

/** A kafkajs client for the configured brokers (TLS and SASL as configured); kafkajs logs only errors. */
export function createKafka(config: KafkaConfig, clientSuffix = 'cli'): Kafka {
  const options: KafkaJsConfig = {
    clientId: `${config.clientId}-${clientSuffix}`,
    brokers: config.brokers,
    ssl: config.ssl,
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 200 },
    connectionTimeout: 5_000,
  };
  if (config.sasl) {
    options.sasl =
      config.sasl.mechanism === 'plain'
        ? { mechanism: 'plain', username: config.sasl.username, password: config.sasl.password }
        : config.sasl.mechanism === 'scram-sha-256'
          ? { mechanism: 'scram-sha-256', username: config.sasl.username, password: config.sasl.password }
          : { mechanism: 'scram-sha-512', username: config.sasl.username, password: config.sasl.password };
  }
  return new Kafka(options);
}

/** Wraps a connection failure into the coded error that names the service and how to start it. */
export function kafkaUnavailable(config: KafkaConfig, cause: unknown): Error {
  return serviceUnavailable('Kafka', config.brokers.join(','), cause);
}

/** Reconnect delays once connected: capped backoff, forever (a Redis restart must heal by itself). */
export function redisReconnectDelay(attempt: number): number {
  return Math.min(attempt * 200, 5_000);
}

/**
 * An ioredis client that fails fast (no offline queue) and reports an unreachable Redis clearly.
 * The first connection gives up after a few attempts, so a command run against a stopped stack says
 * so at once; once connected, the client reconnects forever with capped backoff, and commands fail
 * fast while Redis is away instead of queueing.
 */
export async function connectRedis(config: RedisConfig): Promise<Redis> {
  const redis = new Redis(config.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    ...(config.username ? { username: config.username } : {}),
    ...(config.password ? { password: config.password } : {}),
    ...(config.tls ? { tls: {} } : {}),
    retryStrategy: (attempt) => (attempt > 3 ? null : attempt * 200),
  });
  redis.on('error', () => {
    // Surfaced by the failing command instead; an unhandled 'error' event would crash the process.
  });
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw serviceUnavailable('Redis', config.url.replace(/\/\/[^@]*@/, '//***@'), error);
  }
  redis.options.retryStrategy = redisReconnectDelay;
  return redis;
}

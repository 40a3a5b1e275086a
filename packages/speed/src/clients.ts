// Builds Kafka and Redis clients from the validated config, for components that were not handed
// ready ones. Whoever calls these owns the client and closes it.
import type { KafkaConfig, RedisConfig } from '@tandem/core';
import { Redis } from 'ioredis';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';

export function createKafkaClient(config: KafkaConfig, clientId = config.clientId): Kafka {
  return new Kafka({
    clientId,
    brokers: config.brokers,
    ssl: config.ssl,
    // the config's union of mechanisms is exactly kafkajs's union of option shapes
    ...(config.sasl === null ? {} : { sasl: config.sasl as SASLOptions }),
    logLevel: logLevel.WARN,
  });
}

export function createRedisClient(config: RedisConfig): Redis {
  return new Redis(config.url, {
    ...(config.username === null ? {} : { username: config.username }),
    ...(config.password === null ? {} : { password: config.password }),
    ...(config.tls && !config.url.startsWith('rediss:') ? { tls: {} } : {}),
    maxRetriesPerRequest: 3,
    // No auto-pipelining: ioredis 5 can throw an uncaught "results[i] is not iterable" when the
    // connection drops mid-pipeline (redis/ioredis#1931), and on Cluster it routes scripts by their
    // key count instead of their first key (redis/ioredis#2109). Commands are still pipelined on
    // the socket: ioredis never waits for a reply before writing the next command.
  });
}

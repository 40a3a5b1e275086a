// Connections to the project's local stack for the speed tests, each test under its own topic
// and Redis prefix. REDIS_URL / KAFKA_BROKERS override the defaults of `scripts/stack up`.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';

export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const kafkaBrokers = (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(',');

export function uniqueName(kind: string): string {
  return `test-${kind}-${randomUUID()}`;
}

export function connectRedis(url = redisUrl): Redis {
  return new Redis(url, { maxRetriesPerRequest: 3 });
}

export function kafkaClient(clientId = 'tandem-speed-test'): Kafka {
  return new Kafka({ clientId, brokers: kafkaBrokers, logLevel: logLevel.NOTHING });
}

/** Deletes every key under `prefix` (SCAN, not KEYS, so a shared Redis is not blocked). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

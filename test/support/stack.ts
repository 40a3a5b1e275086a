// Where the local stack is and how to reach it: the variables every component reads, defaulting to
// what `scripts/stack up` starts, so a suite runs unchanged against another stack.
import { randomUUID } from 'node:crypto';
import type { LakeOptions } from '@tandem/lake';
import { Redis, type RedisOptions } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';

export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const kafkaBrokers = (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(',');
/** The Confluent API of the schema registry (`TANDEM_STACK_REGISTRY=1 scripts/stack up` runs one). */
export const schemaRegistryUrl = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';

/** The local S3Proxy's endpoint, credentials and the bucket tests write under. */
export function s3Settings(): NonNullable<LakeOptions['s3']> & { bucket: string } {
  return {
    bucket: process.env.TANDEM_TEST_BUCKET ?? 'tandem',
    endpoint: process.env.S3_ENDPOINT ?? 'http://127.0.0.1:9000',
    region: process.env.AWS_REGION ?? 'us-east-1',
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'tandem',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'tandemsecret',
    // The endpoint is a bare host:port, so the bucket cannot be a subdomain of it.
    forcePathStyle: true,
  };
}

/**
 * A name no other test uses (topic, Redis prefix, consumer group, lake prefix), so suites share the
 * one stack in parallel. `kind` only helps a human tell leftovers apart.
 */
export function uniqueName(kind?: string): string {
  return kind === undefined ? `test-${randomUUID()}` : `test-${kind}-${randomUUID()}`;
}

/**
 * A client of the stack's Redis (or of `url`); whoever connects it quits it.
 * Bounded retries, so a test whose Redis is gone fails instead of hanging until its timeout.
 */
export function connectRedis(url = redisUrl, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: 3, ...options });
}

/** A kafkajs client of the stack's brokers; its logging is silenced because tests assert on outcomes. */
export function kafkaClient(clientId: string): Kafka {
  return new Kafka({ clientId, brokers: kafkaBrokers, logLevel: logLevel.NOTHING });
}

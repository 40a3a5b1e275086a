// Makes sure each stream's topics exist before anything produces to them, so a fresh broker gets
// the partition count the platform expects instead of whatever auto-creation would pick.
import type { KafkaConfig, Stream } from '@tandem/core';
import type { Kafka } from 'kafkajs';
import { createTopicsAndWait } from '@tandem/connections';
import { kafkaUnavailable } from './clients.ts';

/** Partitions of a topic the cli creates. Six spreads the speed layer and archiver over up to six workers each. */
export const DEFAULT_PARTITIONS = 6;

/** The topics of streams: each one's source, dead-letter and late topic, in order, without repeats. */
export function streamTopics(streams: readonly Stream[]): string[] {
  return [...new Set(streams.flatMap((stream) => [stream.topic, stream.dlqTopic, stream.lateTopic]))];
}

/** Creates the given topics when missing (default: the config's events, dead-letter and late topics); returns the ones it created. */
export async function ensureTopics(
  kafka: Kafka,
  config: KafkaConfig,
  topics: string[] = [config.topic, config.dlqTopic, config.lateTopic],
  partitions = DEFAULT_PARTITIONS,
): Promise<string[]> {
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (error) {
    throw kafkaUnavailable(config, error);
  }
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length > 0) {
      await createTopicsAndWait(
        admin,
        missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: -1 })),
      );
    }
    return missing;
  } finally {
    await admin.disconnect();
  }
}

/** Creates every missing topic of the streams (source, dead-letter, late); returns the ones it created. */
export function ensureStreamTopics(
  kafka: Kafka,
  config: KafkaConfig,
  streams: readonly Stream[],
  partitions = DEFAULT_PARTITIONS,
): Promise<string[]> {
  return ensureTopics(kafka, config, streamTopics(streams), partitions);
}

// Topics of a test's own on the shared Kafka, created and removed.
import { createTopicsAndWait } from '@tandem/connections';
import type { Admin } from 'kafkajs';

/**
 * Creates `topics` with `partitions` each and waits until every partition has a leader. One replica
 * by default (the shared stack has one broker); a test on a private cluster that kills brokers
 * passes the cluster's replication.
 */
export async function createTopics(
  admin: Admin,
  topics: string[],
  partitions: number,
  replicationFactor = 1,
): Promise<void> {
  await createTopicsAndWait(
    admin,
    topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor })),
  );
}

/** A stream's topic with the dead-letter and late topics the speed layer derives from its name. */
export function topicWithSideTopics(topic: string): string[] {
  return [topic, `${topic}.dlq`, `${topic}.late`];
}

/**
 * Deletes those of `topics` that exist: side topics (`.dlq`, `.late`) appear only once a component
 * wrote to them, and Kafka refuses to delete a topic it does not know.
 */
export async function deleteTopics(admin: Admin, topics: string[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const present = topics.filter((topic) => existing.has(topic));
  if (present.length > 0) await admin.deleteTopics({ topics: present });
}

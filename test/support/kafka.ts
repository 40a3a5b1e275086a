// Topics of a test's own on the shared Kafka, created and removed.
import type { Admin } from 'kafkajs';

/**
 * Creates `topics` with `partitions` each and waits until every partition has a leader. kafkajs's
 * own `waitForLeaders` retries only "leader not available"; a KRaft broker that has not applied the
 * new topic to its metadata yet answers "does not host this topic-partition", which kafkajs
 * throws (seen once in a full run, failing both archiver multistream cases at creation), so
 * the wait is ours: poll the metadata, taking that answer as "not yet", for up to 30 s.
 */
export async function createTopics(admin: Admin, topics: string[], partitions: number): Promise<void> {
  await admin.createTopics({
    waitForLeaders: false,
    topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
      const ready = metadata.every(
        (topic) =>
          topic.partitions.length === partitions &&
          topic.partitions.every((partition) => partition.leader >= 0),
      );
      if (ready) return;
    } catch (error) {
      const type = (error as { type?: string }).type;
      if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') throw error;
    }
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leaders after 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
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

// Reads a Kafka topic from the beginning (or given offsets) up to the end it had when the read
// started, then stops: what `tandem dlq` and the tests need to look at a topic without consuming
// it for anyone. kafkajs has no manual assignment, so it joins a throwaway group and deletes it.
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';

export interface TopicMessage {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: number;
}

export interface TopicReadOptions {
  /** Start offsets per partition; partitions not listed start at the beginning. */
  fromOffsets?: Map<number, string>;
  signal?: AbortSignal;
  /** Give up after this long. @defaultValue 60_000 */
  timeoutMs?: number;
  onMessage?: (message: TopicMessage) => void;
}

function headerText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map(headerText).join(',');
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

function toTopicMessage(partition: number, message: KafkaMessage): TopicMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = headerText(value);
  return {
    partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers,
    timestamp: Number(message.timestamp),
  };
}

/** The [low, high) offsets of each partition of a topic, or null when the topic does not exist. */
export async function topicOffsets(
  kafka: Kafka,
  topic: string,
): Promise<Array<{ partition: number; low: string; high: string }> | null> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) return null;
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets
      .map((entry) => ({ partition: entry.partition, low: entry.low, high: entry.high }))
      .sort((a, b) => a.partition - b.partition);
  } finally {
    await admin.disconnect();
  }
}

/** Reads every message of `topic` that exists now; returns them in (partition, offset) order. */
export async function readTopicSnapshot(
  kafka: Kafka,
  topic: string,
  options: TopicReadOptions = {},
): Promise<TopicMessage[]> {
  const offsets = await topicOffsets(kafka, topic);
  if (offsets === null) return [];
  const remaining = new Map<number, bigint>();
  for (const { partition, low, high } of offsets) {
    const from = options.fromOffsets?.get(partition);
    const start = from === undefined ? BigInt(low) : BigInt(from) > BigInt(low) ? BigInt(from) : BigInt(low);
    if (start < BigInt(high)) remaining.set(partition, BigInt(high));
  }
  const messages: TopicMessage[] = [];
  if (remaining.size === 0) return messages;
  const groupId = `tandem-cli-reader-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 250 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timeout = setTimeout(
        () => reject(new Error(`reading topic ${topic} took longer than ${options.timeoutMs ?? 60_000}ms`)),
        options.timeoutMs ?? 60_000,
      );
      const finish = (): void => {
        clearTimeout(timeout);
        options.signal?.removeEventListener('abort', finish);
        resolve();
      };
      options.signal?.addEventListener('abort', finish, { once: true });
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const end = remaining.get(batch.partition);
            if (end === undefined) return;
            for (const message of batch.messages) {
              if (BigInt(message.offset) >= end) break;
              const from = options.fromOffsets?.get(batch.partition);
              if (from !== undefined && BigInt(message.offset) < BigInt(from)) continue;
              const entry = toTopicMessage(batch.partition, message);
              messages.push(entry);
              options.onMessage?.(entry);
            }
            const last = batch.messages.at(-1);
            if (last && BigInt(last.offset) + 1n >= end) remaining.delete(batch.partition);
            if (remaining.size === 0) finish();
          },
        })
        .catch(reject);
      // Start where asked: seek after run(), as kafkajs requires.
      for (const [partition, offset] of options.fromOffsets ?? []) {
        if (remaining.has(partition)) consumer.seek({ topic, partition, offset });
      }
    });
  } finally {
    await consumer.disconnect();
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.deleteGroups([groupId]);
    } catch {
      // A leftover empty group expires on its own (offsets.retention); not worth failing the read.
    } finally {
      await admin.disconnect();
    }
  }
  messages.sort((a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
  return messages;
}

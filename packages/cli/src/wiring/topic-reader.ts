// Reads a Kafka topic from the beginning (or given offsets) up to the end it had when the read
// started, then stops: what `tandem dlq` and the tests need to look at a topic without consuming
// it for anyone — all at once (readTopicSnapshot) or a batch at a time in bounded memory
// (forEachTopicBatch). kafkajs has no manual assignment, so it joins a throwaway group and deletes it.
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
  /** Give up when no message arrives for this long before the end. @defaultValue 60_000 */
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
  const messages: TopicMessage[] = [];
  await forEachTopicBatch(
    kafka,
    topic,
    async (batch) => {
      for (const message of batch) messages.push(message);
    },
    options,
  );
  messages.sort((a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
  return messages;
}

/**
 * Hands every message of `topic` that exists now to `onBatch`, one fetched batch of one partition
 * at a time and in offset order within a partition, without keeping any: memory stays bounded by a
 * fetch, however long the topic. The next batch waits for `onBatch`, so a slow consumer (a replay
 * that produces what it reads) holds the read back instead of buffering it. The read fails when
 * nothing arrives for `timeoutMs` before every partition's end is reached.
 */
export async function forEachTopicBatch(
  kafka: Kafka,
  topic: string,
  onBatch: (messages: TopicMessage[]) => Promise<void>,
  options: TopicReadOptions = {},
): Promise<void> {
  const offsets = await topicOffsets(kafka, topic);
  if (offsets === null) return;
  const remaining = new Map<number, bigint>();
  for (const { partition, low, high } of offsets) {
    const from = options.fromOffsets?.get(partition);
    const start = from === undefined ? BigInt(low) : BigInt(from) > BigInt(low) ? BigInt(from) : BigInt(low);
    if (start < BigInt(high)) remaining.set(partition, BigInt(high));
  }
  if (remaining.size === 0) return;
  const groupId = `tandem-cli-reader-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 250 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const idleMs = options.timeoutMs ?? 60_000;
      const timeout = setTimeout(
        () => fail(new Error(`reading topic ${topic}: nothing arrived for ${idleMs}ms before its end`)),
        idleMs,
      );
      const finish = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        options.signal?.removeEventListener('abort', finish);
        resolve();
      };
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        options.signal?.removeEventListener('abort', finish);
        reject(error);
      };
      if (options.signal?.aborted) finish();
      options.signal?.addEventListener('abort', finish, { once: true });
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch, heartbeat }) => {
            const end = remaining.get(batch.partition);
            if (end === undefined || settled) return;
            timeout.refresh();
            const from = options.fromOffsets?.get(batch.partition);
            const entries: TopicMessage[] = [];
            for (const message of batch.messages) {
              if (BigInt(message.offset) >= end) break;
              if (from !== undefined && BigInt(message.offset) < BigInt(from)) continue;
              const entry = toTopicMessage(batch.partition, message);
              entries.push(entry);
              options.onMessage?.(entry);
            }
            if (entries.length > 0) {
              try {
                await onBatch(entries);
              } catch (error) {
                fail(error);
                return;
              }
              timeout.refresh();
              // a slow onBatch must not cost the throwaway group its member; a failed heartbeat
              // (a rejoin under way) is kafkajs's to handle, and this batch is done either way
              await heartbeat().catch(() => undefined);
            }
            const last = batch.messages.at(-1);
            if (last && BigInt(last.offset) + 1n >= end) remaining.delete(batch.partition);
            if (remaining.size === 0) finish();
          },
        })
        .catch(fail);
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
}

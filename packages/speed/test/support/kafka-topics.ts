// Kafka chores of the speed tests (topics of their own come from test/support/kafka.ts): producing a
// generated stream, reading a side topic to its end, and waiting until the speed layer has applied everything.
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import type { StreamMessage } from './event-stream.ts';

/** Produces messages in order, each to its own partition, in batches; resolves when all are acked. */
export async function produceStream(
  kafka: Kafka,
  topic: string,
  messages: ReadonlyArray<Pick<StreamMessage, 'partition' | 'key' | 'value'>>,
  options: { batchSize?: number; onBatch?: (sent: number) => Promise<void> | void } = {},
): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const batchSize = options.batchSize ?? 5000;
    for (let start = 0; start < messages.length; start += batchSize) {
      const slice = messages.slice(start, start + batchSize);
      await producer.send({
        topic,
        acks: -1,
        messages: slice.map((message) => ({
          partition: message.partition,
          key: message.key,
          value: message.value,
        })),
      });
      await options.onBatch?.(start + slice.length);
    }
  } finally {
    await producer.disconnect();
  }
}

/** Every message of `topic` from the beginning to the current end. */
export async function readTopic(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  timeoutMs = 60_000,
): Promise<KafkaMessage[]> {
  const ends = await admin.fetchTopicOffsets(topic);
  const remaining = new Map(
    ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, Number(e.high)]),
  );
  const messages: KafkaMessage[] = [];
  if (remaining.size === 0) return messages;
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Date.now()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), timeoutMs);
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) messages.push(message);
            const end = remaining.get(batch.partition);
            if (end !== undefined && Number(batch.lastOffset()) + 1 >= end) remaining.delete(batch.partition);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}

/** Polls until every partition's applied offset in Redis reaches the topic's end. */
export async function waitUntilApplied(
  admin: Admin,
  topic: string,
  appliedOffsets: () => Promise<Map<number, string | null>>,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const [ends, applied] = await Promise.all([admin.fetchTopicOffsets(topic), appliedOffsets()]);
    const behind = ends.filter((end) => {
      if (Number(end.high) === 0) return false;
      const offset = applied.get(end.partition);
      return offset === undefined || offset === null || Number(offset) + 1 < Number(end.high);
    });
    if (behind.length === 0) return;
    last = behind
      .map((end) => `p${end.partition}: ${applied.get(end.partition) ?? '-'} / ${end.high}`)
      .join(', ');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`speed layer did not catch up within ${timeoutMs} ms (${last})`);
}

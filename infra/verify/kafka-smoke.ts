// Smoke test of the local broker with the client the speed layer uses (kafkajs), resolved from
// packages/speed so this file needs no dependencies of its own. Run: `scripts/stack verify kafka`.
// Creates a fresh topic, produces, consumes in a consumer group with eachBatch, commits offsets,
// then reads the committed offsets back through the admin API.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const speed = fileURLToPath(new URL('../../packages/speed/package.json', import.meta.url));
const { Kafka, logLevel } = createRequire(speed)('kafkajs');

const brokers = (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(',');
const kafka = new Kafka({ clientId: 'tandem-smoke', brokers, logLevel: logLevel.WARN });
const topic = `tandem-smoke-${Date.now()}`;
const groupId = `${topic}-group`;
const total = 60;
const t0 = Date.now();
const step = (msg: string) => console.log(`[kafka-smoke +${Date.now() - t0}ms] ${msg}`);

const admin = kafka.admin();
await admin.connect();
const cluster = await admin.describeCluster();
step(`cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s), controller ${cluster.controller}`);
await admin.createTopics({
  topics: [{ topic, numPartitions: 6, replicationFactor: 1 }],
  waitForLeaders: true,
});
const meta = await admin.fetchTopicMetadata({ topics: [topic] });
step(`created ${topic} with ${meta.topics[0].partitions.length} partitions`);

// Idempotent, so the retry that follows a NOT_LEADER right after topic creation cannot duplicate.
const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
await producer.connect();
const messages = Array.from({ length: total }, (_, i) => ({
  key: `user-${i % 7}`,
  value: JSON.stringify({ event_id: `e${i}`, i }),
}));
await producer.send({ topic, messages });
const ends = await admin.fetchTopicOffsets(topic);
const end = ends.reduce((n: number, p: { high: string }) => n + Number(p.high), 0);
step(`produced ${total} messages (idempotent); high watermarks sum to ${end}`);
if (end !== total) throw new Error(`high watermarks sum ${end} != ${total}`);

const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000 });
await consumer.connect();
await consumer.subscribe({ topics: [topic], fromBeginning: true });
let seen = 0;
const done = new Promise<void>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`timeout: consumed ${seen}/${total}`)), 60000);
  consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }) => {
      for (const m of batch.messages) {
        seen++;
        resolveOffset(m.offset);
      }
      await consumer.commitOffsets([
        {
          topic: batch.topic,
          partition: batch.partition,
          offset: (BigInt(batch.lastOffset()) + 1n).toString(),
        },
      ]);
      await commitOffsetsIfNecessary();
      await heartbeat();
      if (seen >= total) {
        clearTimeout(timer);
        resolve();
      }
    },
  });
});
await done;
step(`consumed ${seen} messages with eachBatch and committed`);

const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
const sum = committed[0].partitions.reduce(
  (n: number, p: { offset: string }) => n + Math.max(0, Number(p.offset)),
  0,
);
step(`committed offsets sum to ${sum}`);
if (sum !== total) throw new Error(`committed offsets sum ${sum} != ${total}`);

await consumer.disconnect();
await producer.disconnect();
await admin.deleteTopics({ topics: [topic] });
await admin.disconnect();
step('OK: create topic, produce, consume (group, eachBatch), commit offsets');

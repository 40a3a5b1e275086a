// Benchmark of @tandem/archiver (one JSON line on stdout): 2M events preloaded into a fresh topic
// with 6 partitions, then, in the same run and on the same messages,
// - raw_consume_per_s: a bare kafkajs consumer group (eachBatch, no work per message), and
// - events_per_s: the archiver — validate, normalize, buffer per hour, gzip, upload, commit —
//   from connect until every offset is committed (the final partial segments are flushed by a
//   graceful stop, as on a rolling restart), into an s3:// lake on the local S3Proxy
//   (BENCH_LAKE=file for a temp directory).
// Both consumers use the same fetch settings. Target: events_per_s ≥ 40% of raw_consume_per_s.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createArchiver, defaultArchiverOptions } from '../../packages/archiver/src/index.ts';
import {
  type LakeOptions,
  listAll,
  mapWithConcurrency,
  openObjectStore,
} from '../../packages/lake/src/index.ts';

// kafkajs and pino are dependencies of the archiver; resolve them from there.
type KafkaJs = typeof import('../../packages/archiver/node_modules/kafkajs/types/index.d.ts');
const requireFromArchiver = createRequire(new URL('../../packages/archiver/package.json', import.meta.url));
const { Kafka, logLevel } = requireFromArchiver('kafkajs') as KafkaJs;
const { pino } = requireFromArchiver(
  'pino',
) as typeof import('../../packages/archiver/node_modules/pino/pino.js');

const EVENTS = Number(process.env.BENCH_EVENTS ?? 2_000_000);
const PARTITIONS = 6;
const LAKE = process.env.BENCH_LAKE ?? 's3';
const brokers = (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(',');
const HOUR_MS = 3_600_000;

const kafka = new Kafka({ clientId: 'tandem-bench-archiver', brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const topic = `bench-archiver-${randomUUID()}`;
await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });

let lakeOptions: LakeOptions;
let lakeDir: string | null = null;
if (LAKE === 'file') {
  lakeDir = await mkdtemp(join(tmpdir(), 'tandem-bench-archiver-'));
  lakeOptions = { url: `file://${lakeDir}` };
} else {
  lakeOptions = {
    url: `s3://${process.env.BENCH_BUCKET ?? 'tandem'}/bench-${randomUUID()}`,
    s3: {
      endpoint: process.env.S3_ENDPOINT ?? 'http://127.0.0.1:9000',
      region: process.env.AWS_REGION ?? 'us-east-1',
      accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'tandem',
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'tandemsecret',
      forcePathStyle: true,
    },
  };
}
const store = openObjectStore(lakeOptions);

try {
  // ---- preload: three hours of events in time order with ±30 s of disorder, typical API traffic.
  const endpoints = Array.from({ length: 200 }, (_, index) => `/api/v1/resource-${index}`);
  const start = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 4 * HOUR_MS;
  let seed = 2463534242;
  const random = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const chunk = 20_000;
  const inFlight: Promise<unknown>[] = [];
  for (let offset = 0; offset < EVENTS; offset += chunk) {
    const messages = [];
    for (let index = offset; index < Math.min(EVENTS, offset + chunk); index++) {
      const user = Math.floor(random() * 200_000);
      messages.push({
        partition: index % PARTITIONS,
        value: JSON.stringify({
          event_id: `e-${index}`,
          timestamp:
            start + Math.floor((index / EVENTS) * 3 * HOUR_MS) + Math.floor((random() - 0.5) * 60_000),
          endpoint: endpoints[Math.floor(random() * endpoints.length)],
          method: random() < 0.8 ? 'GET' : 'POST',
          status_code: random() < 0.95 ? 200 : 500,
          response_time_ms: Math.round(random() * 100_000) / 100,
          bytes_sent: Math.floor(random() * 50_000),
          user_id: `user-${user}`,
          session_id: `session-${user}-${Math.floor(index / 50_000)}`,
          page_id: `page-${Math.floor(random() * 5_000)}`,
        }),
      });
    }
    inFlight.push(producer.send({ topic, acks: 1, messages }));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
  await producer.disconnect();
  const ends = await admin.fetchTopicOffsets(topic);
  const total = ends.reduce((sum, entry) => sum + Number(entry.high), 0);
  if (total !== EVENTS) throw new Error(`preloaded ${total} messages, expected ${EVENTS}`);

  const consumerSettings = defaultArchiverOptions.consumer;

  // ---- raw kafkajs consumption of the same messages.
  const rawStarted = performance.now();
  const raw = kafka.consumer({ groupId: `bench-raw-${randomUUID()}`, ...consumerSettings });
  await raw.connect();
  await raw.subscribe({ topics: [topic], fromBeginning: true });
  let consumed = 0;
  let valueBytes = 0;
  const rawDone = new Promise<void>((resolve) => {
    void raw.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) valueBytes += message.value?.byteLength ?? 0;
        consumed += batch.messages.length;
        if (consumed >= EVENTS) resolve();
      },
    });
  });
  await rawDone;
  const rawSeconds = (performance.now() - rawStarted) / 1000;
  await raw.disconnect();

  // ---- the archiver on the same messages.
  const groupId = `bench-archiver-${randomUUID()}`;
  const archiverStarted = performance.now();
  const archiver = createArchiver({
    kafka: { brokers, clientId: 'tandem-bench-archiver' },
    lake: store,
    topic,
    groupId,
    signals: [],
    logger: pino({ level: 'warn' }),
    // Tuning experiments: BENCH_PARSE_WORKERS, BENCH_GZIP_LEVEL, BENCH_SEGMENT_RECORDS.
    ...(process.env.BENCH_PARSE_WORKERS ? { parseWorkers: Number(process.env.BENCH_PARSE_WORKERS) } : {}),
    ...(process.env.BENCH_GZIP_LEVEL ? { gzipLevel: Number(process.env.BENCH_GZIP_LEVEL) } : {}),
    ...(process.env.BENCH_SEGMENT_RECORDS
      ? { maxSegmentRecords: Number(process.env.BENCH_SEGMENT_RECORDS) }
      : {}),
  });
  await archiver.start();
  const endOf = new Map(ends.map((entry) => [entry.partition, entry.high]));
  for (;;) {
    const { partitions } = archiver.status();
    if (
      partitions.length === PARTITIONS &&
      partitions.every((entry) => entry.position === endOf.get(entry.partition))
    ) {
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const consumedSeconds = (performance.now() - archiverStarted) / 1000;
  await archiver.stop();
  const archiverSeconds = (performance.now() - archiverStarted) / 1000;
  const status = archiver.status();
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
  const allCommitted = committed[0]!.partitions.every((entry) => entry.offset === endOf.get(entry.partition));
  if (!allCommitted || status.eventsArchived !== EVENTS) {
    throw new Error(`archiver did not finish: ${JSON.stringify({ status, committed })}`);
  }
  const files = (await listAll(store, 'logs/dt=')).length;

  process.stdout.write(
    `${JSON.stringify({
      bench: 'archiver',
      events_per_s: Math.round(EVENTS / archiverSeconds),
      raw_consume_per_s: Math.round(EVENTS / rawSeconds),
      ratio: Math.round((rawSeconds / archiverSeconds) * 1000) / 1000,
      events: EVENTS,
      partitions: PARTITIONS,
      lake: LAKE,
      files,
      raw_mib: Math.round(valueBytes / 1024 / 1024),
      archiver_consumed_s: Math.round(consumedSeconds * 100) / 100,
      archiver_total_s: Math.round(archiverSeconds * 100) / 100,
      raw_s: Math.round(rawSeconds * 100) / 100,
    })}\n`,
  );
} finally {
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  if (lakeDir !== null) await rm(lakeDir, { recursive: true, force: true });
  else {
    const keys = (await listAll(store, '')).map((info) => info.key);
    await mapWithConcurrency(keys, 16, (key) => store.delete(key));
  }
  await store.close();
}

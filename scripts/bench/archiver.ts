// Benchmark of @tandem/archiver (one JSON line on stdout): 2M events preloaded into a fresh topic
// with 6 partitions, then, in the same run and on the same messages,
// - raw_consume_per_s: a bare kafkajs consumer group (eachBatch, no work per message), and
// - events_per_s: the archiver — validate, normalize, buffer per hour, gzip, upload, commit — from
//   connect until every offset is committed (the last partial segments are flushed by a graceful
//   stop, as on a rolling restart), into an s3:// lake on the local S3Proxy (BENCH_LAKE=file for a
//   temp directory).
// Both consumers use the same fetch settings and a fresh consumer group. The two are measured
// BENCH_RUNS times, interleaved, and the best of each is reported, so a burst of load from other
// processes on the machine does not decide the ratio. Target: events_per_s ≥ 40% of raw.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOUR_MS } from '@tandem/core';
import { createArchiver, defaultArchiverOptions } from '../../packages/archiver/src/index.ts';
import { createKafkaClient } from '../../packages/connections/src/index.ts';
import {
  type LakeOptions,
  listAll,
  mapWithConcurrency,
  type ObjectStore,
  openObjectStore,
} from '../../packages/lake/src/index.ts';

// pino is a dependency of the archiver; resolve it from there.
const requireFromArchiver = createRequire(new URL('../../packages/archiver/package.json', import.meta.url));
const { pino } = requireFromArchiver(
  'pino',
) as typeof import('../../packages/archiver/node_modules/pino/pino.js');

const EVENTS = Number(process.env.BENCH_EVENTS ?? 2_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PARTITIONS = 6;
const LAKE = process.env.BENCH_LAKE ?? 's3';
const brokers = (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(',');

const kafka = createKafkaClient(
  { brokers },
  { clientId: 'tandem-bench-archiver', logger: pino({ level: 'warn' }) },
);
const admin = kafka.admin();
await admin.connect();
const topic = `bench-archiver-${randomUUID()}`;
await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });

/** A fresh lake for one archiver pass, and how to remove it. */
async function freshLake(): Promise<{ store: ObjectStore; remove: () => Promise<void> }> {
  if (LAKE === 'file') {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-bench-archiver-'));
    const store = openObjectStore({ url: `file://${dir}` });
    return { store, remove: () => rm(dir, { recursive: true, force: true }) };
  }
  const options: LakeOptions = {
    url: `s3://${process.env.BENCH_BUCKET ?? 'tandem'}/bench-${randomUUID()}`,
    s3: {
      endpoint: process.env.S3_ENDPOINT ?? 'http://127.0.0.1:9000',
      region: process.env.AWS_REGION ?? 'us-east-1',
      accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'tandem',
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'tandemsecret',
      forcePathStyle: true,
    },
  };
  const store = openObjectStore(options);
  return {
    store,
    remove: async () => {
      const keys = (await listAll(store, '')).map((info) => info.key);
      await mapWithConcurrency(keys, 16, (key) => store.delete(key));
      await store.close();
    },
  };
}

/** Three hours of typical API traffic in time order with ±30 s of disorder. */
async function preload(): Promise<void> {
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
}

/** Seconds for a bare kafkajs consumer group to see every message. */
async function rawPass(): Promise<{ seconds: number; bytes: number; cpuMicros: number }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const raw = kafka.consumer({ groupId: `bench-raw-${randomUUID()}`, ...defaultArchiverOptions.consumer });
  await raw.connect();
  await raw.subscribe({ topics: [topic], fromBeginning: true });
  let consumed = 0;
  let bytes = 0;
  await new Promise<void>((resolve) => {
    void raw.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) bytes += message.value?.byteLength ?? 0;
        consumed += batch.messages.length;
        if (consumed >= EVENTS) resolve();
      },
    });
  });
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await raw.disconnect();
  return { seconds, bytes, cpuMicros: used.user + used.system };
}

/** Seconds for the archiver to make every message durable and committed. */
async function archiverPass(
  endOf: Map<number, string>,
): Promise<{ seconds: number; files: number; cpuMicros: number }> {
  const { store, remove } = await freshLake();
  try {
    const groupId = `bench-archiver-${randomUUID()}`;
    const started = performance.now();
    const cpu = process.cpuUsage();
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
    // Every message handed to the archiver, then a graceful stop flushes the last partial segments.
    for (;;) {
      const { partitions } = archiver.status();
      if (partitions.length === PARTITIONS && partitions.every((p) => p.position === endOf.get(p.partition)))
        break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await archiver.stop();
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const status = archiver.status();
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const allCommitted = committed!.partitions.every((entry) => entry.offset === endOf.get(entry.partition));
    if (!allCommitted || status.eventsArchived !== EVENTS) {
      throw new Error(`the archiver did not finish: ${JSON.stringify({ status, committed })}`);
    }
    return { seconds, files: (await listAll(store, 'logs/dt=')).length, cpuMicros: used.user + used.system };
  } finally {
    await remove();
  }
}

try {
  await preload();
  const ends = await admin.fetchTopicOffsets(topic);
  const total = ends.reduce((sum, entry) => sum + Number(entry.high), 0);
  if (total !== EVENTS) throw new Error(`preloaded ${total} messages, expected ${EVENTS}`);
  const endOf = new Map(ends.map((entry) => [entry.partition, entry.high]));
  const raw: number[] = [];
  const archived: number[] = [];
  const rawCpu: number[] = [];
  const archiverCpu: number[] = [];
  let files = 0;
  let bytes = 0;
  for (let run = 0; run < RUNS; run++) {
    const rawRun = await rawPass();
    raw.push(rawRun.seconds);
    rawCpu.push(rawRun.cpuMicros / EVENTS);
    bytes = rawRun.bytes;
    const archiverRun = await archiverPass(endOf);
    archived.push(archiverRun.seconds);
    archiverCpu.push(archiverRun.cpuMicros / EVENTS);
    files = archiverRun.files;
  }
  const bestRaw = Math.min(...raw);
  const bestArchiver = Math.min(...archived);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'archiver',
      events_per_s: Math.round(EVENTS / bestArchiver),
      raw_consume_per_s: Math.round(EVENTS / bestRaw),
      ratio: Math.round((bestRaw / bestArchiver) * 1000) / 1000,
      events: EVENTS,
      partitions: PARTITIONS,
      lake: LAKE,
      files,
      raw_mib: Math.round(bytes / 1024 / 1024),
      // CPU time of this process (all threads) per event: independent of other load on the machine.
      cpu_us_per_event: {
        raw: Math.round(Math.min(...rawCpu) * 100) / 100,
        archiver: Math.round(Math.min(...archiverCpu) * 100) / 100,
      },
      runs_s: {
        raw: raw.map((s) => Math.round(s * 100) / 100),
        archiver: archived.map((s) => Math.round(s * 100) / 100),
      },
    })}\n`,
  );
} finally {
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
}

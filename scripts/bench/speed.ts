// Benchmark of the speed layer on the local stack (one JSON line on stdout):
// - events_per_s: 2M events preloaded in Kafka (6 partitions), sustained rate from Kafka to applied
//   Redis views for endpoint_hourly + trending_pages, worker in its own process;
// - raw_consume_per_s: kafkajs consuming the same messages with no processing, same run, same
//   fetch settings — the baseline;
// - freshness_p50_ms / freshness_p99_ms: produce → visible through the RedisSpeedViewReader (the batch
//   holding the message is applied) at a steady 5k events/s;
// - peak_rss_mib: the worker's peak RSS (VmHWM) over the whole run; rss_growth_mib: its RSS at the
//   end minus at a quarter of the backlog, which stays near zero when memory is flat.
// BENCH_STREAM=iot (or --stream iot) runs the same on the IoT stream of speed-stream.ts (readings
// keyed by device, one per-minute view) instead of the web stream; the line says which ("stream").
// BENCH_FORMAT=avro (or --format avro) runs the web stream twice in one run: plain JSON, then the same
// events Confluent-framed Avro through the schema registry (SCHEMA_REGISTRY_URL, the stack's by
// default) as a registry-backed stream; one line each ("format"), the Avro one with its ratio to the
// JSON one (issue 19: decoding must not cost more than 30% of the plain-JSON throughput).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../packages/core/src/config.ts';
import { resolveCatalog } from '../../packages/core/src/index.ts';
import { connectRedis, createKafkaClient } from '../../packages/connections/src/index.ts';
import { RedisSpeedViewReader } from '../../packages/speed/src/speed-view-reader.ts';
import { deletePrefix } from '../../test/support/redis.ts';
import { consumeRate, iotBenchConfig, iotBenchStream, speedBenchStream } from './speed-stream.ts';

const streamArg = process.argv.indexOf('--stream');
const STREAM = (streamArg >= 0 ? process.argv[streamArg + 1] : process.env.BENCH_STREAM) || 'events';
if (STREAM !== 'events' && STREAM !== 'iot')
  throw new Error(`BENCH_STREAM must be events or iot, not ${STREAM}`);
const formatArg = process.argv.indexOf('--format');
const FORMAT = (formatArg >= 0 ? process.argv[formatArg + 1] : process.env.BENCH_FORMAT) || 'json';
if (FORMAT !== 'json' && FORMAT !== 'avro')
  throw new Error(`BENCH_FORMAT must be json or avro, not ${FORMAT}`);
if (FORMAT === 'avro' && STREAM !== 'events') throw new Error('BENCH_FORMAT=avro runs the web stream only');
const EVENTS = Number(process.env.BENCH_EVENTS ?? 2_000_000);
const PARTITIONS = 6;
const FRESHNESS_RATE = Number(process.env.BENCH_FRESHNESS_RATE ?? 5000);
const FRESHNESS_SECONDS = Number(process.env.BENCH_FRESHNESS_SECONDS ?? 20);
// the same environment variables as every component (KAFKA_BROKERS, REDIS_URL, ...)
const config = loadConfig();
const brokers = config.kafka.brokers;
const redisUrl = config.redis.url;
const DEFAULT_WORKER_NODE_ARGS = '--max-old-space-size=256 --max-semi-space-size=16';
const runId = randomUUID().slice(0, 8);
const baseTopic = `bench-speed-${runId}`;
// The avro mode's second run moves these to its own topic and prefix.
let topic = baseTopic;
let prefix = `bench-speed-${runId}`;
const prefixes = [prefix];
const log = (message: string) => process.stderr.write(`[bench speed] ${message}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const kafka = createKafkaClient(config.kafka, { clientId: 'bench-speed' });
const admin = kafka.admin();
const redis = await connectRedis(config.redis);
// the IoT stream on this run's topic, as a config file would declare it
const iotConfig = {
  ...iotBenchConfig,
  streams: iotBenchConfig.streams.map((stream) => ({ ...stream, topic })),
};
let reader =
  STREAM === 'iot'
    ? new RedisSpeedViewReader({ redis, prefix, catalog: resolveCatalog(iotConfig, 'bench'), admin })
    : new RedisSpeedViewReader({ redis, prefix, topic, admin });

let { userOf, eventJson, partitionOf } = (STREAM === 'iot' ? iotBenchStream : speedBenchStream)(PARTITIONS);
/** The message bytes of an event: its JSON, or (avro mode) the Confluent-framed Avro of it. */
let encodeValue = (json: string): string | Buffer => json;
/** What the worker runner gets besides the tuning (avro mode: the registry-backed config). */
let runnerExtras: Record<string, unknown> = STREAM === 'iot' ? { config: iotConfig, stream: 'iot' } : {};

async function preload(): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const start = Date.now() - 2 * 3_600_000;
  const batch = 20_000;
  // one send at a time: concurrent sends could land out of order and turn events late
  for (let offset = 0; offset < EVENTS; offset += batch) {
    const messages = [];
    for (let i = offset; i < Math.min(EVENTS, offset + batch); i++) {
      const user = userOf();
      const time = start + Math.floor((i * 7_000_000) / EVENTS);
      messages.push({
        key: user,
        partition: partitionOf(user),
        value: encodeValue(eventJson(`bench-${i}`, time, user)),
      });
    }
    await producer.send({ topic, acks: 1, messages });
  }
  await producer.disconnect();
}

function rssOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

async function appliedTotal(): Promise<{ applied: number; offsets: Map<number, number> }> {
  const status = await reader.status();
  const offsets = new Map(
    status.partitions.map((p) => [p.partition, p.appliedOffset === null ? -1 : Number(p.appliedOffset)]),
  );
  return {
    applied: status.eventsApplied + status.duplicateCount + status.lateCount + status.dlqCount,
    offsets,
  };
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Redis's CPU seconds (user + system, main and background threads). */
async function redisCpuSeconds(): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return field('used_cpu_user') + field('used_cpu_sys');
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<Record<string, unknown>> {
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }] });
  log(`preloading ${EVENTS} events into ${topic}`);
  await preload();

  log('raw kafkajs consume (baseline)');
  const rawPerSecond = (await consumeRate(kafka, topic, `${topic}-raw`, EVENTS)).perS;

  log('speed worker on the backlog');
  const runner = fileURLToPath(
    new URL('../../packages/speed/test/fixtures/speed-worker-runner.ts', import.meta.url),
  );
  // The worker runs with the V8 heap bounds the README recommends for production (its live set is
  // small; without bounds V8 lets the heap of a high-allocation-rate process grow far beyond it).
  // BENCH_WORKER_NODE_ARGS overrides them ('' for V8's defaults).
  const workerArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? DEFAULT_WORKER_NODE_ARGS)
    .split(' ')
    .filter((arg) => arg !== '');
  const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', ...workerArgs, runner], {
    env: {
      ...process.env,
      SPEED_RUNNER_OPTIONS: JSON.stringify({
        brokers,
        redisUrl,
        ...runnerExtras,
        tuning: {
          ...(STREAM === 'iot' || FORMAT_OF_RUN === 'avro'
            ? {}
            : { topic, views: ['endpoint_hourly', 'trending_pages'] }),
          prefix,
          groupId: `${topic}-speed`,
          // BENCH_TUNING: JSON of worker options to try, e.g. '{"maxBatchSize":2000}'
          ...(JSON.parse(process.env.BENCH_TUNING ?? '{}') as object),
        },
      }),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`speed worker exited with ${code}`)));
  });
  // CPU per event of the worker and of Redis over the backlog: independent of how busy the machine
  // is, so iterations can be compared even when other work shares the cores.
  const workerCpuStart = cpuSecondsOf(child.pid!);
  const redisCpuStart = await redisCpuSeconds();
  let firstAt = 0;
  let firstApplied = 0;
  let quarterRss = 0;
  let doneAt = 0;
  for (;;) {
    const { applied } = await appliedTotal();
    const now = performance.now();
    if (firstAt === 0 && applied > 0) {
      firstAt = now;
      firstApplied = applied;
    }
    if (quarterRss === 0 && applied >= EVENTS / 4) quarterRss = rssOf(child.pid!).rss;
    if (applied >= EVENTS) {
      doneAt = now;
      break;
    }
    await sleep(50);
  }
  const eventsPerSecond = ((EVENTS - firstApplied) / (doneAt - firstAt)) * 1000;
  const workerCpuUs = ((cpuSecondsOf(child.pid!) - workerCpuStart) / EVENTS) * 1e6;
  const redisCpuUs = (((await redisCpuSeconds()) - redisCpuStart) / EVENTS) * 1e6;
  const backlog = await reader.status();
  log(
    `backlog: applied ${backlog.eventsApplied}, duplicates ${backlog.duplicateCount}, late ${backlog.lateCount}, dlq ${backlog.dlqCount}`,
  );
  const endRss = rssOf(child.pid!).rss;

  log(`freshness at ${FRESHNESS_RATE} events/s for ${FRESHNESS_SECONDS} s`);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const pending: Array<{ sentAt: number; offsets: Map<number, number> }> = [];
  const freshness: number[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling || pending.length > 0) {
      const { offsets } = await appliedTotal();
      const now = performance.now();
      for (let i = pending.length - 1; i >= 0; i--) {
        const entry = pending[i]!;
        if ([...entry.offsets].every(([partition, offset]) => (offsets.get(partition) ?? -1) >= offset)) {
          freshness.push(now - entry.sentAt);
          pending.splice(i, 1);
        }
      }
      await sleep(5);
    }
  })();
  const tickMs = 50;
  const perTick = Math.round((FRESHNESS_RATE * tickMs) / 1000);
  const ticks = (FRESHNESS_SECONDS * 1000) / tickMs;
  const startedAt = performance.now();
  let id = 0;
  for (let tick = 0; tick < ticks; tick++) {
    const messages = [];
    const perPartition = new Map<number, number>();
    for (let i = 0; i < perTick; i++) {
      const user = userOf();
      const partition = partitionOf(user);
      perPartition.set(partition, (perPartition.get(partition) ?? 0) + 1);
      messages.push({
        key: user,
        partition,
        value: encodeValue(eventJson(`fresh-${id++}`, Date.now(), user)),
      });
    }
    const sentAt = performance.now();
    const records = await producer.send({ topic, acks: 1, messages });
    // visible once the partition's applied offset reaches the last message this send put there
    const offsets = new Map<number, number>();
    for (const record of records) {
      offsets.set(
        record.partition,
        Number(record.baseOffset) + (perPartition.get(record.partition) ?? 1) - 1,
      );
    }
    pending.push({ sentAt, offsets });
    const next = startedAt + (tick + 1) * tickMs;
    await sleep(Math.max(0, next - performance.now()));
  }
  polling = false;
  await poller;
  await producer.disconnect();
  const peak = rssOf(child.pid!).peak;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));

  freshness.sort((a, b) => a - b);
  return {
    bench: 'speed',
    stream: STREAM,
    format: FORMAT_OF_RUN,
    events_per_s: Math.round(eventsPerSecond),
    raw_consume_per_s: Math.round(rawPerSecond),
    freshness_p50_ms: Math.round(percentile(freshness, 0.5)),
    freshness_p99_ms: Math.round(percentile(freshness, 0.99)),
    peak_rss_mib: Math.round(peak),
    ratio_to_raw: Number((eventsPerSecond / rawPerSecond).toFixed(3)),
    rss_growth_mib: Math.round(endRss - quarterRss),
    events: EVENTS,
    worker_cpu_us_per_event: Number(workerCpuUs.toFixed(2)),
    redis_cpu_us_per_event: Number(redisCpuUs.toFixed(2)),
    worker_node_args: workerArgs.join(' '),
  };
}

let FORMAT_OF_RUN: 'json' | 'avro' = 'json';

/**
 * Switches the run to the avro mode: the web stream's schema as Avro under a fresh subject, the
 * stream registry-backed on its own topic and prefix, the same seeded events framed with it.
 */
async function useAvro(): Promise<void> {
  const { createSchemaRegistryClient, compileFramedStreamEncoder } = await import(
    '../../packages/connections/src/index.ts'
  );
  const { parseEvent, webViewSpecs } = await import('../../packages/core/src/index.ts');
  const registryConfig =
    config.schemaRegistry.url === null
      ? { url: 'http://127.0.0.1:8081/apis/ccompat/v7', auth: null }
      : config.schemaRegistry;
  const client = createSchemaRegistryClient(registryConfig);
  const subject = `${baseTopic}-avro-value`;
  const optional = (type: string) => ({ type: ['null', type], default: null });
  const schema = {
    type: 'record',
    name: 'WebEvent',
    namespace: 'dev.tandem.bench',
    fields: [
      { name: 'event_id', type: 'string' },
      { name: 'timestamp', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'endpoint', type: 'string' },
      { name: 'method', type: 'string', default: 'GET' },
      { name: 'status_code', type: 'int' },
      { name: 'response_time_ms', type: 'double' },
      { name: 'bytes_sent', ...optional('long') },
      { name: 'user_id', ...optional('string') },
      { name: 'session_id', ...optional('string') },
      { name: 'page_id', ...optional('string') },
    ],
  };
  await client.register(subject, 'AVRO', JSON.stringify(schema));
  const versions = (await client.subjectVersions(subject))!;
  topic = `${baseTopic}-avro`;
  prefix = `${prefix}-avro`;
  prefixes.push(prefix);
  const benchConfig = {
    streams: [
      {
        name: 'events',
        topic,
        registry: { subject, format: 'avro' },
        time: { field: 'timestamp' },
        idField: 'event_id',
      },
    ],
    views: webViewSpecs.filter((view) => view.name === 'endpoint_hourly' || view.name === 'trending_pages'),
  };
  const catalog = resolveCatalog(benchConfig, 'bench', new Map([[subject, versions]]));
  const encoder = compileFramedStreamEncoder(catalog.stream('events'));
  encodeValue = (json) => {
    const parsed = parseEvent(json, { now: () => Number.MAX_SAFE_INTEGER / 2 });
    if (!parsed.ok) throw new Error(`bench event does not validate: ${parsed.error.message}`);
    return encoder.encode(parsed.event as unknown as Record<string, unknown>);
  };
  reader = new RedisSpeedViewReader({ redis, prefix, catalog, admin });
  runnerExtras = { config: benchConfig, stream: 'events', registryVersions: [[subject, versions]] };
  // the same seeded events as the JSON run
  ({ userOf, eventJson, partitionOf } = speedBenchStream(PARTITIONS));
  FORMAT_OF_RUN = 'avro';
}

try {
  const plain = await main();
  process.stdout.write(`${JSON.stringify(plain)}\n`);
  if (FORMAT === 'avro') {
    await useAvro();
    const avro = await main();
    const ratio = (avro.events_per_s as number) / (plain.events_per_s as number);
    process.stdout.write(
      `${JSON.stringify({ ...avro, json_events_per_s: plain.events_per_s, ratio_to_json: Number(ratio.toFixed(3)) })}\n`,
    );
  }
} finally {
  const errors: unknown[] = [];
  try {
    const topics = await admin.listTopics();
    const ours = topics.filter((name) => name.startsWith(baseTopic));
    if (ours.length > 0) await admin.deleteTopics({ topics: ours });
  } catch (error) {
    errors.push(error);
  }
  for (const used of prefixes) await deletePrefix(redis, used);
  await admin.disconnect().catch((error: unknown) => errors.push(error));
  redis.disconnect();
  if (errors.length > 0) log(`cleanup: ${errors.map(String).join('; ')}`);
}

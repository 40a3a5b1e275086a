// How fast can any kafkajs consumer go that looks at every event? The speed bench compares the
// speed layer with kafkajs consuming and discarding; this measures the steps in between, on the
// same kind of stream and with the same consumer settings, one consumer group after another:
//   raw          kafkajs only (the speed bench's baseline)
//   json         + UTF-8 decode and JSON.parse of every value
//   validated    + core's parseEvent (what the speed layer must run on every message)
// Prints one JSON line with each rate and its ratio to raw. Run: node scripts/bench/speed-floor.ts
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../packages/core/src/config.ts';
import { parseEvent } from '../../packages/core/src/events.ts';
import { createKafkaClient } from '../../packages/speed/src/clients.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PARTITIONS = 6;
const topic = `bench-floor-${randomUUID().slice(0, 8)}`;
const log = (message: string) => process.stderr.write(`[bench speed-floor] ${message}\n`);
const kafka = createKafkaClient(loadConfig().kafka, 'bench-speed-floor');
const admin = kafka.admin();

// the speed bench's event shape, 2 hours of event time
let seed = 2463534242;
const random = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
};
const statuses = [200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 429, 500, 502, 503];
function eventJson(i: number, time: number, user: string): string {
  const r = random();
  const event: Record<string, unknown> = {
    event_id: `floor-${i}`,
    timestamp: time,
    endpoint: `/api/v1/resource-${Math.floor(r * r * 200)}`,
    method: 'GET',
    status_code: statuses[Math.floor(random() * statuses.length)],
    response_time_ms: Math.round(Math.exp(random() * 6) * 100) / 100,
    bytes_sent: Math.floor(random() * 50_000),
    user_id: user,
  };
  if (random() < 0.6) event.page_id = `/page/${Math.floor(random() * 5000)}`;
  return JSON.stringify(event);
}

async function preload(): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const start = Date.now() - 2 * 3_600_000;
  for (let offset = 0; offset < EVENTS; offset += 20_000) {
    const messages = [];
    for (let i = offset; i < Math.min(EVENTS, offset + 20_000); i++) {
      const user = `user-${Math.floor(random() * 50_000)}`;
      messages.push({ key: user, value: eventJson(i, start + Math.floor((i * 7_000_000) / EVENTS), user) });
    }
    await producer.send({ topic, acks: 1, messages });
  }
  await producer.disconnect();
}

type Visit = (value: Buffer) => void;
let sink = 0;
const modes: Record<string, Visit> = {
  raw: () => {},
  json: (value) => {
    sink += (JSON.parse(value.toString('utf8')) as { bytes_sent: number }).bytes_sent;
  },
  validated: (value) => {
    if (parseEvent(value).ok) sink++;
  },
};

async function consume(mode: string, visit: Visit): Promise<{ perS: number; cpuUsPerEvent: number }> {
  const consumer = kafka.consumer({
    groupId: `${topic}-${mode}`,
    maxWaitTimeInMs: 200,
    maxBytesPerPartition: 1_048_576,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let count = 0;
  let first = 0;
  let last = 0;
  let cpuAtFirst = process.cpuUsage();
  await new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: 3,
      eachBatch: async ({ batch }) => {
        if (first === 0) {
          first = performance.now();
          cpuAtFirst = process.cpuUsage();
        }
        for (const message of batch.messages) if (message.value !== null) visit(message.value);
        count += batch.messages.length;
        last = performance.now();
        if (count >= EVENTS) resolve();
      },
    });
  });
  const cpu = process.cpuUsage(cpuAtFirst);
  await consumer.disconnect();
  return {
    perS: Math.round((count / (last - first)) * 1000),
    cpuUsPerEvent: (cpu.user + cpu.system) / count,
  };
}

await admin.connect();
await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }] });
log(`preloading ${EVENTS} events into ${topic}`);
await preload();
const result: Record<string, unknown> = { bench: 'speed-floor', events: EVENTS };
// twice each, interleaved, best kept: the machine's other work moves single runs by tens of percent
for (const round of [1, 2]) {
  for (const [mode, visit] of Object.entries(modes)) {
    const { perS, cpuUsPerEvent } = await consume(`${mode}-${round}`, visit);
    log(`round ${round} ${mode}: ${perS} events/s, ${cpuUsPerEvent.toFixed(2)} µs CPU per event`);
    if (perS > Number(result[`${mode}_per_s`] ?? 0)) {
      result[`${mode}_per_s`] = perS;
      result[`${mode}_cpu_us_per_event`] = Number(cpuUsPerEvent.toFixed(2));
    }
  }
}
for (const mode of ['json', 'validated'])
  result[`${mode}_ratio_to_raw`] = Number(
    (Number(result[`${mode}_per_s`]) / Number(result.raw_per_s)).toFixed(3),
  );
await admin.deleteTopics({ topics: [topic] });
await admin.disconnect();
if (sink === -1) log('unreachable');
process.stdout.write(`${JSON.stringify(result)}\n`);

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
import { createKafkaClient } from '../../packages/connections/src/index.ts';
import { consumeRate, speedBenchStream } from './speed-stream.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PARTITIONS = 6;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const topic = `bench-floor-${randomUUID().slice(0, 8)}`;
const log = (message: string) => process.stderr.write(`[bench speed-floor] ${message}\n`);
const kafka = createKafkaClient(loadConfig().kafka, { clientId: 'bench-speed-floor' });
const admin = kafka.admin();

// the speed bench's own stream (same seed, keys and partitions), 2 hours of event time
async function preload(): Promise<void> {
  const stream = speedBenchStream(PARTITIONS);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const start = Date.now() - 2 * 3_600_000;
  for (let offset = 0; offset < EVENTS; offset += 20_000) {
    const messages = [];
    for (let i = offset; i < Math.min(EVENTS, offset + 20_000); i++) {
      const user = stream.userOf();
      const time = start + Math.floor((i * 7_000_000) / EVENTS);
      messages.push({
        key: user,
        partition: stream.partitionOf(user),
        value: stream.eventJson(`floor-${i}`, time, user),
      });
    }
    await producer.send({ topic, acks: 1, messages });
  }
  await producer.disconnect();
}

let sink = 0;
const modes: Record<string, ((value: Buffer) => void) | undefined> = {
  raw: undefined,
  json: (value) => {
    sink += (JSON.parse(value.toString('utf8')) as { bytes_sent: number }).bytes_sent;
  },
  validated: (value) => {
    if (parseEvent(value).ok) sink++;
  },
};

await admin.connect();
await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }] });
log(`preloading ${EVENTS} events into ${topic}`);
await preload();
const result: Record<string, unknown> = { bench: 'speed-floor', events: EVENTS };
// ROUNDS times each, interleaved, best kept: the machine's other work moves single runs by tens of percent
for (let round = 1; round <= ROUNDS; round++) {
  for (const [mode, visit] of Object.entries(modes)) {
    const measured = await consumeRate(kafka, topic, `${topic}-${mode}-${round}`, EVENTS, visit);
    const perS = Math.round(measured.perS);
    const { cpuUsPerEvent } = measured;
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

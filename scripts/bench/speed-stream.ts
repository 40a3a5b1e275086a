// The speed bench's event stream, for the benches that must see the same events (speed.ts end to
// end through Kafka, speed-apply.ts the apply path alone, speed-floor.ts), so that their per-event
// costs compare; and the kafkajs consumer they all measure against.
import type { createKafkaClient } from '../../packages/connections/src/index.ts';

type Kafka = ReturnType<typeof createKafkaClient>;

/**
 * Consumes `events` messages of `topic` from the beginning in a new group, with the fetch settings
 * every speed bench uses, calling `visit` on each value (nothing: the raw baseline). Returns the
 * rate from the first batch on, and this process's CPU per message over the same span.
 */
export async function consumeRate(
  kafka: Kafka,
  topic: string,
  groupId: string,
  events: number,
  visit?: (value: Buffer) => void,
): Promise<{ perS: number; cpuUsPerEvent: number }> {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, maxBytesPerPartition: 1_048_576 });
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
        if (visit !== undefined)
          for (const message of batch.messages) if (message.value !== null) visit(message.value);
        count += batch.messages.length;
        last = performance.now();
        if (count >= events) resolve();
      },
    });
  });
  const cpu = process.cpuUsage(cpuAtFirst);
  await consumer.disconnect();
  return { perS: (count / (last - first)) * 1000, cpuUsPerEvent: (cpu.user + cpu.system) / count };
}

/**
 * A fresh stream: the same seed every time, so every run of every bench draws the same events.
 * `userOf` and `eventJson` share one generator; call them in the same order to get the same stream.
 */
export function speedBenchStream(partitions: number): {
  userOf(): string;
  eventJson(id: string, time: number, user: string): string;
  partitionOf(key: string): number;
} {
  // xorshift32, seeded: every run produces the same stream
  let seed = 2463534242;
  const random = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  const statuses = [200, 200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 429, 500, 502, 503];
  return {
    userOf: () => `user-${Math.floor(random() * 50_000)}`,
    eventJson(id, time, user) {
      const r = random();
      const event: Record<string, unknown> = {
        event_id: id,
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
    },
    // Users stay on one partition (as keyed producers do); explicit, so a bench knows each offset.
    partitionOf(key) {
      let hash = 2166136261;
      for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 16777619);
      return (hash >>> 0) % partitions;
    },
  };
}

/**
 * The IoT stream of the speed bench (`BENCH_STREAM=iot`): sensor readings as examples/iot declares
 * them, copied here so the bench's numbers do not move when the example does. Its one view has the
 * web bench views' kinds of measures (counts, average, maximum, quantiles, distinct) per minute × site.
 */
export const iotBenchConfig = {
  streams: [
    {
      name: 'iot',
      topic: 'iot-readings',
      schema: {
        type: 'object',
        properties: {
          reading_id: { type: 'string', minLength: 1, maxLength: 64 },
          ts: { type: 'integer', description: 'epoch milliseconds' },
          site: { type: 'string', minLength: 1, maxLength: 64 },
          device: { type: 'string', minLength: 1, maxLength: 64 },
          kind: { type: 'string', enum: ['thermo', 'hygro', 'combo'], default: 'thermo' },
          temperature_c: { type: 'number', minimum: -90, maximum: 150 },
          humidity: { type: ['number', 'null'], minimum: 0, maximum: 100 },
          battery_low: { type: 'boolean', default: false },
        },
        required: ['reading_id', 'ts', 'site', 'device', 'temperature_c'],
      },
      time: { field: 'ts', encoding: 'epoch_ms' },
      idField: 'reading_id',
    },
  ],
  views: [
    {
      name: 'site_minutely',
      stream: 'iot',
      bucket: '1m',
      dimensions: ['site'],
      measures: {
        readings: { kind: 'count' },
        avg_temperature_c: { kind: 'avg', field: 'temperature_c' },
        max_temperature_c: { kind: 'max', field: 'temperature_c' },
        temperature_c: { kind: 'quantiles', field: 'temperature_c', qs: [0.95] },
        devices: { kind: 'distinct', field: 'device' },
        hygro: { kind: 'count', where: { op: 'eq', field: 'kind', value: 'hygro' } },
      },
    },
  ],
};

/** The IoT bench's readings, seeded like `speedBenchStream`: `userOf` draws a device (the key), `eventJson` its reading. */
export function iotBenchStream(partitions: number): {
  userOf(): string;
  eventJson(id: string, time: number, device: string): string;
  partitionOf(key: string): number;
} {
  let seed = 2463534242;
  const random = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  const kinds = ['thermo', 'thermo', 'hygro', 'combo'];
  const web = speedBenchStream(partitions);
  return {
    // 20 000 devices on 200 sites
    userOf: () => `dev-${Math.floor(random() * 20_000)}`,
    eventJson(id, time, device) {
      const n = Number(device.slice(4));
      const kind = kinds[Math.floor(random() * kinds.length)]!;
      const event: Record<string, unknown> = {
        reading_id: id,
        ts: time,
        site: `site-${n % 200}`,
        device,
        kind,
        temperature_c: Math.round((15 + random() * 20) * 100) / 100,
      };
      if (kind !== 'thermo') event.humidity = Math.round(random() * 1000) / 10;
      if (random() < 0.02) event.battery_low = true;
      return JSON.stringify(event);
    },
    partitionOf: web.partitionOf,
  };
}

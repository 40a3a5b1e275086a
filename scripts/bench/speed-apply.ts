// Micro-benchmark of the speed layer's apply path alone, without Kafka: the speed bench's events
// (speed-stream.ts), parsed, folded per partition in micro-batches and applied with the real
// apply-batch script on a throwaway prefix. Prints one JSON line with the
// worker-side CPU per event (parse, fold, deltas, arguments) and Redis's CPU per event, which stay
// comparable between runs on a shared machine where the end-to-end rate does not.
// BENCH_EVENTS (default 300k), BENCH_BATCH (default 5000).
import { randomUUID } from 'node:crypto';
import { compileReducer, getView, loadConfig, parseEvent } from '../../packages/core/src/index.ts';
import { connectRedis } from '../../packages/connections/src/index.ts';
import { speedKeys } from '../../packages/speed/src/index.ts';
// The apply-level pieces this bench measures one by one, from the speed layer's test entry.
import { applyBatch, BucketDeltaBuilder, claimPartition } from '../../packages/speed/src/testing.ts';
import { deletePrefix } from '../../test/support/redis.ts';
import { speedBenchStream } from './speed-stream.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 300_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 5000);
const PARTITIONS = 6;
const config = loadConfig();
const redis = await connectRedis(config.redis);
const prefix = `bench-speed-apply-${randomUUID().slice(0, 8)}`;
const keys = speedKeys(prefix);
const views = ['endpoint_hourly', 'trending_pages'].map((name) => getView(name));

const { userOf, eventJson, partitionOf } = speedBenchStream(PARTITIONS);
const perPartition: Buffer[][] = Array.from({ length: PARTITIONS }, () => []);
const start = Date.now() - 2 * 3_600_000;
for (let i = 0; i < EVENTS; i++) {
  const user = userOf();
  // the speed bench's event-time spacing at its default 2M events
  const time = start + Math.floor((i * 7_000_000) / 2_000_000);
  perPartition[partitionOf(user)]!.push(Buffer.from(eventJson(`bench-${i}`, time, user)));
}

async function redisCpuSeconds(): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return field('used_cpu_user') + field('used_cpu_sys');
}

try {
  const reducers = views.map((view) => compileReducer(view));
  const deltaViews = views.map((view) => ({
    name: view.name,
    version: view.version,
    bucketMs: view.bucketMs,
    measureOps: new Map(Object.entries(view.measures).map(([name, measure]) => [name, measure.op])),
  }));
  const indexes = views.map((view) => ({ key: '', trimBelowMs: 0, ttlMs: 86_400_000 + view.bucketMs }));
  let jsSeconds = 0;
  let applySeconds = 0;
  let cells = 0;
  const redisStart = await redisCpuSeconds();
  const wallStart = performance.now();
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const claim = await claimPartition(redis, keys.meta(partition), 'bench', Date.now());
    let prevOffset: string | null = claim.appliedOffset;
    const messages = perPartition[partition]!;
    for (let offset = 0; offset < messages.length; offset += BATCH) {
      const cpu = process.cpuUsage();
      let maxEventTime = 0;
      for (let i = offset; i < Math.min(messages.length, offset + BATCH); i++) {
        const parsed = parseEvent(messages[i]!);
        if (!parsed.ok) throw new Error(parsed.error.message);
        if (parsed.event.timestamp > maxEventTime) maxEventTime = parsed.event.timestamp;
        for (const reducer of reducers) reducer.add(parsed.event);
      }
      const deltas = new BucketDeltaBuilder(keys, partition, 86_400_000);
      reducers.forEach((reducer, i) => {
        deltas.addReducer(deltaViews[i]!, i, reducer);
        reducer.clear();
      });
      const buckets = deltas.build();
      for (const bucket of buckets) cells += bucket.fields.length;
      const nextOffset = String(Math.min(messages.length, offset + BATCH) - 1);
      const used = process.cpuUsage(cpu);
      jsSeconds += (used.user + used.system) / 1e6;
      const applyStarted = performance.now();
      const reply = await applyBatch(redis, {
        metaKey: keys.meta(partition),
        sessionsKey: keys.sessions(partition),
        epoch: claim.epoch,
        owner: 'bench',
        prevOffset,
        nextOffset,
        maxEventTime,
        watermark: maxEventTime - 30_000,
        nowMs: Date.now(),
        counters: { applied: BATCH, dlq: 0, late: 0, duplicates: 0 },
        indexes: views.map((view, i) => ({
          ...indexes[i]!,
          key: keys.bucketIndex(partition, view.name, view.version),
        })),
        sessionUpserts: [],
        sessionDeletions: [],
        buckets,
      });
      applySeconds += (performance.now() - applyStarted) / 1000;
      if (reply.status !== 'OK') throw new Error(`apply: ${JSON.stringify(reply)}`);
      prevOffset = nextOffset;
    }
  }
  const redisSeconds = (await redisCpuSeconds()) - redisStart;
  process.stdout.write(
    `${JSON.stringify({
      bench: 'speed-apply',
      events: EVENTS,
      batch: BATCH,
      cells_per_event: Number((cells / EVENTS).toFixed(3)),
      js_us_per_event: Number(((jsSeconds / EVENTS) * 1e6).toFixed(2)),
      apply_wall_us_per_event: Number(((applySeconds / EVENTS) * 1e6).toFixed(2)),
      redis_cpu_us_per_event: Number(((redisSeconds / EVENTS) * 1e6).toFixed(2)),
      wall_s: Number(((performance.now() - wallStart) / 1000).toFixed(2)),
    })}\n`,
  );
} finally {
  await deletePrefix(redis, prefix);
  redis.disconnect();
}

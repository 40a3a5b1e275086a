// The topology test (issue 18, item 3): the platform as separate OS processes — 3 `tandem speed`,
// 2 `tandem archiver`, 2 `tandem batch schedule`, 2 `tandem serve` — on a real 3-master Redis
// Cluster and 3 KRaft brokers started for this file (scripts/stack, free ports) and a directory
// lake. While traffic flows, processes of every kind, one Kafka broker and one Redis master (no
// persistence: it comes back empty) are SIGKILLed and restarted at random, from a printed seed
// (TOPOLOGY_SEED replays one). At the end both serving processes answer every hour's requests per
// endpoint exactly as the truth computed here from the generator's records: the two past hours from
// batch, the current one from speed; and every sealed hour of every view was published once.
//
// The two past hours' traffic is on Kafka before the platform starts, and the live traffic (the
// current hour, stamped with the wall clock as real producers do) flows during the kills. Past
// hours sent during the run would be late data: the archiver advances an idle, caught-up partition's
// watermark with the wall clock (its documented rule), so a past hour can be sealed between two
// slices, and a later slice then re-publishes it as a stale hour — correct, but not "once".
import { randomInt } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateTraffic, type TrafficOptions, type TrafficRecord } from '@tandem/cli';
import { RunHistory } from '@tandem/batch';
import { HOUR_MS, hourStart } from '@tandem/core';
import { parseCellField, speedKeys } from '@tandem/speed';
import { Redis } from 'ioredis';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.ts';
import { PrivateKafkaCluster, PrivateRedisCluster } from '../support/private-cluster.ts';
import { mulberry32 } from '../support/random.ts';
import { type ComponentKind, Fleet, type FleetMember } from './cli/fleet.ts';
import { eventually, World } from './cli/harness.ts';
import { servedRequests } from './cli/served-requests.ts';

type KillKind = ComponentKind | 'kafka' | 'redis';

interface PointerFile {
  view: string;
  hour: number;
  runId: string;
  owner: string;
  finishedAt: number;
  inputs: Array<{ key: string; size: number; etag: string }>;
  previous: Array<{ runId: string }>;
}

/**
 * Watches the lake's pointers while the test runs and describes every re-publication: which input
 * objects appeared, vanished or changed between the two runs, so a failure of "published once"
 * says what made the hour stale.
 */
class RepublishWatch {
  readonly republished: string[] = [];
  readonly #seen = new Map<string, PointerFile>();
  readonly #timer: NodeJS.Timeout;

  constructor(lakeDir: string) {
    this.#timer = setInterval(() => this.poll(lakeDir), 1_000);
  }

  poll(lakeDir: string): void {
    let pointers: PointerFile[];
    try {
      pointers = pointerFiles(lakeDir);
    } catch {
      return; // a pointer mid-rename: next time
    }
    for (const pointer of pointers) {
      const id = `${pointer.view} ${new Date(pointer.hour).toISOString()}`;
      const before = this.#seen.get(id);
      this.#seen.set(id, pointer);
      if (before === undefined || before.runId === pointer.runId) continue;
      const old = new Map(before.inputs.map((input) => [input.key, input]));
      const now = new Map(pointer.inputs.map((input) => [input.key, input]));
      const changes = [
        ...[...now.keys()].filter((key) => !old.has(key)).map((key) => `+${key}`),
        ...[...old.keys()].filter((key) => !now.has(key)).map((key) => `-${key}`),
        ...[...now]
          .filter(([key, input]) => old.has(key) && JSON.stringify(old.get(key)) !== JSON.stringify(input))
          .map(
            ([key, input]) =>
              `~${key} ${old.get(key)!.size}/${old.get(key)!.etag} → ${input.size}/${input.etag}`,
          ),
      ];
      this.republished.push(
        `${id}: run ${before.runId} (${before.owner}) → ${pointer.runId} (${pointer.owner}) after ${pointer.finishedAt - before.finishedAt} ms; inputs ${changes.join(', ') || 'unchanged'}`,
      );
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Run records read back per view: far more than the runs of a few hours of three views. */
const RUN_HISTORY_READ = 10_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Sends generated records to Kafka in send-time order, each batch retried until the brokers
 * acknowledge it (acks=all), so every record counts in the truth once it is acknowledged. A retry
 * after a lost acknowledgement may write a record twice: the same event_id, which both layers
 * deduplicate, like the generator's own producer-retry duplicates.
 */
class TrafficPump {
  readonly acknowledged: TrafficRecord[] = [];
  readonly #producer: Producer;
  readonly #topic: string;
  #stopped = false;
  #loop: Promise<void> | null = null;

  constructor(brokers: string, topic: string) {
    const kafka = new Kafka({
      clientId: 'topology-traffic',
      brokers: brokers.split(','),
      logLevel: logLevel.NOTHING,
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 3_000 },
    });
    this.#producer = kafka.producer({ allowAutoTopicCreation: false });
    this.#topic = topic;
  }

  connect(): Promise<void> {
    return this.#producer.connect();
  }

  /** Sends every record now, however old its send time. */
  async sendAll(records: TrafficRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += 500) await this.#send(records.slice(i, i + 500));
  }

  /** Sends each record once the wall clock reaches its send time, until `stop()`. */
  startLive(records: TrafficRecord[]): void {
    const queue = [...records].sort((a, b) => a.sendAt - b.sendAt);
    this.#loop = (async () => {
      let next = 0;
      while (!this.#stopped && next < queue.length) {
        const now = Date.now();
        let end = next;
        while (end < queue.length && queue[end]!.sendAt <= now) end++;
        if (end > next) {
          await this.#send(queue.slice(next, end));
          next = end;
        } else await sleep(200);
      }
    })();
  }

  /** Stops the live traffic after the batch in flight is acknowledged. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    await this.#producer.disconnect();
  }

  async #send(batch: TrafficRecord[]): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        await this.#producer.send({
          topic: this.#topic,
          acks: -1,
          messages: batch.map((record) => ({ key: record.key, value: Buffer.from(record.value) })),
        });
        this.acknowledged.push(...batch);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(500);
      }
    }
  }
}

/** Requests per hour and endpoint of the distinct valid events among `records`. */
function truthOf(records: TrafficRecord[]): Map<number, Map<string, number>> {
  const truth = new Map<number, Map<string, number>>();
  const seen = new Set<string>();
  for (const record of records) {
    if (record.event === null || record.label === 'bad' || seen.has(record.event.event_id)) continue;
    seen.add(record.event.event_id);
    const hour = hourStart(record.event.timestamp);
    const perEndpoint = truth.get(hour) ?? new Map<string, number>();
    perEndpoint.set(record.event.endpoint, (perEndpoint.get(record.event.endpoint) ?? 0) + 1);
    truth.set(hour, perEndpoint);
  }
  return truth;
}

/** Every `_pointer.json` under a directory lake's batch views. */
function pointerFiles(lakeDir: string): PointerFile[] {
  const found: PointerFile[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name === '_pointer.json')
        found.push(JSON.parse(readFileSync(path, 'utf8')) as PointerFile);
    }
  };
  try {
    walk(join(lakeDir, 'views'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return found;
}

describe('topology: 3 speed, 2 archiver, 2 batch, 2 serve processes on a Redis Cluster and 3 brokers, killed at random', () => {
  const seed = Number(process.env.TOPOLOGY_SEED ?? randomInt(2 ** 31 - 1));
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low));
  const kills: Record<KillKind, number> = { speed: 0, archiver: 0, batch: 0, serve: 0, kafka: 0, redis: 0 };
  const teardown: Array<() => Promise<unknown> | unknown> = [];
  const started = Date.now();
  /** Processes that exited by themselves (restarted like a supervisor would), for the log line. */
  let crashes: () => number = () => 0;
  const timings: Record<string, number> = {};

  afterAll(async () => {
    const errors: unknown[] = [];
    for (const step of teardown.reverse()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    console.log(
      JSON.stringify({
        topology: {
          seed,
          kills,
          crashes: crashes(),
          seconds: Math.round((Date.now() - started) / 1000),
          timings,
        },
      }),
    );
    if (errors.length > 0) throw new AggregateError(errors, 'topology teardown failed');
  }, 180_000);

  it('serves exactly the truth from both serving processes, each sealed hour published once', async () => {
    console.log(`topology seed ${seed} (replay with TOPOLOGY_SEED=${seed})`);
    const mark = (name: string) => {
      timings[name] = Math.round((Date.now() - started) / 1000);
    };
    const [redisCluster, kafkaCluster] = await Promise.all([
      PrivateRedisCluster.start(),
      PrivateKafkaCluster.start(3),
    ]);
    teardown.push(
      () => redisCluster.stop(),
      () => kafkaCluster.stop(),
    );
    mark('clusters');

    const currentHour = hourStart(Date.now());
    const firstHour = currentHour - 2 * HOUR_MS;
    const servePorts = [await freePort(), await freePort()];
    const world = new World({
      REDIS_CLUSTER_NODES: redisCluster.nodes,
      // a REDIS_URL nothing listens on: everything goes through the cluster
      REDIS_URL: 'redis://127.0.0.1:1',
      KAFKA_BROKERS: kafkaCluster.brokers,
      // every event of the two past hours is on time for the speed layer
      SPEED_ALLOWED_LATENESS_MS: String(4 * HOUR_MS),
      // only the archivers' watermarks say when an hour is complete, never the clock alone
      BATCH_LATENESS_MS: String(4 * HOUR_MS),
      BATCH_HOURLY_CRON: '*/5 * * * * *',
      BATCH_THREADS: '1',
      BATCH_MEMORY_LIMIT: '400MB',
      LOG_LEVEL: process.env.TOPOLOGY_LOG_LEVEL ?? 'warn',
    });
    teardown.push(() => world.cleanup());
    const topic = world.env.TANDEM_TOPIC!;

    // The topic as the platform creates it (6 partitions, the cluster's 3 replicas), so the past
    // hours can be on it before any process starts.
    const admin = new Kafka({ brokers: kafkaCluster.brokers.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 6 }] });
    await admin.disconnect();

    const traffic: Omit<TrafficOptions, 'start' | 'durationMs' | 'seed' | 'rate' | 'idPrefix'> & {
      diurnalAmplitude: number;
    } = {
      endpoints: 25,
      users: 300,
      lateRatio: 0,
      duplicateRatio: 0.02,
      badRatio: 0.01,
      lateByMs: HOUR_MS,
      maxJitterMs: 5_000,
      diurnalAmplitude: 0,
      endpointSkew: 1.1,
      userSkew: 0.8,
      anonymousRatio: 0.05,
    };
    const past = [
      ...generateTraffic({ ...traffic, seed, start: firstHour, durationMs: 2 * HOUR_MS, rate: 0.35 }),
    ].filter((record) => record.event === null || record.event.timestamp < currentHour);
    const pump = new TrafficPump(kafkaCluster.brokers, topic);
    await pump.connect();
    await pump.sendAll(past);
    mark('past traffic sent');

    const republishes = new RepublishWatch(world.lakeDir);
    teardown.push(() => republishes.stop());
    const fleet = new Fleet(world);
    crashes = () => fleet.unexpectedExits.length;
    teardown.push(async () => {
      const stopped = await fleet.stopAll();
      const unclean = stopped.filter((member) => member.code !== 0);
      if (unclean.length > 0)
        throw new Error(
          `processes did not stop cleanly: ${unclean.map((m) => `${m.name} (${m.code}): ${m.output.slice(-2000)}`).join('\n')}`,
        );
    });
    for (let i = 0; i < 3; i++) fleet.add('speed');
    for (let i = 0; i < 2; i++) fleet.add('archiver');
    for (let i = 0; i < 2; i++) fleet.add('batch');
    for (const port of servePorts) fleet.add('serve', { PORT: String(port) });
    await eventually(
      'both serving processes to answer',
      async () => {
        const codes = await Promise.all(
          servePorts.map((port) =>
            fetch(`http://127.0.0.1:${port}/healthz`).then(
              (response) => response.status,
              () => 0,
            ),
          ),
        );
        return codes.every((code) => code === 200) ? true : undefined;
      },
      120_000,
    );
    mark('processes up');

    // Live traffic: the current hour, stamped as it is sent.
    const liveStart = Date.now();
    const live = [
      ...generateTraffic({ ...traffic, seed: seed + 1, start: liveStart, durationMs: 10 * 60_000, rate: 8 }),
    ];
    pump.startLive(live);
    teardown.push(() => pump.stop());

    // The kills: each kind at least once (one broker, one Redis master), more processes at random.
    const processKinds: ComponentKind[] = ['speed', 'archiver', 'batch', 'serve'];
    const plan: KillKind[] = [...processKinds, 'kafka', 'redis'];
    for (let i = 0; i < 6; i++) plan.push(pick(processKinds));
    for (let i = plan.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [plan[i], plan[j]] = [plan[j]!, plan[i]!];
    }
    const keysOn = async (port: number): Promise<number> => {
      const node = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await node.connect();
        const [, keys] = await node.scan('0', 'MATCH', `${world.env.REDIS_PREFIX}*`, 'COUNT', 100_000);
        return keys.length;
      } finally {
        node.disconnect();
      }
    };
    const restarts: Array<Promise<void>> = [];
    let infra: Promise<void> = Promise.resolve();
    for (const kind of plan) {
      await sleep(between(3_000, 8_000));
      if (kind === 'kafka' || kind === 'redis') {
        // one service node down at a time: a second would take the cluster below its quorum
        await infra;
        const index = between(1, 4);
        // what the master loses: its keys of this world (it has no persistence)
        const held = kind === 'redis' ? await keysOn(redisCluster.ports[index - 1]!) : null;
        if (kind === 'kafka') await kafkaCluster.kill(index);
        else await redisCluster.kill(index);
        kills[kind] += 1;
        const downMs = kind === 'kafka' ? between(2_000, 6_000) : between(500, 2_500);
        console.log(
          `kill ${kind} node ${index}${held === null ? '' : ` (holding ${held} keys of this test)`}, down ${downMs} ms`,
        );
        infra = sleep(downMs).then(() => (kind === 'kafka' ? kafkaCluster.up() : redisCluster.up()));
        restarts.push(infra);
      } else {
        const member: FleetMember = pick(fleet.of(kind).filter((m) => fleet.running(m)));
        await fleet.kill(member);
        kills[kind] += 1;
        const downMs = between(500, 4_000);
        console.log(`kill ${member.name}, restart in ${downMs} ms`);
        restarts.push(sleep(downMs).then(() => fleet.restart(member)));
      }
    }
    await Promise.all(restarts);
    mark('kills done');
    await sleep(5_000);
    await pump.stop();
    mark('traffic stopped');

    const truth = truthOf([...pump.acknowledged]);
    const sealedHours = [firstHour, firstHour + HOUR_MS];
    const events = [...truth.values()].flatMap((m) => [...m.values()]).reduce((a, b) => a + b, 0);
    console.log(
      `truth: ${events} distinct valid events (${pump.acknowledged.length} messages) over ${truth.size} hours`,
    );
    expect([...truth.keys()].sort()).toEqual(expect.arrayContaining(sealedHours));

    /** What one serving process gets wrong now: empty when every hour is exact and sourced right. */
    async function wrongAnswers(port: number): Promise<string[]> {
      const { byHour, sources } = await servedRequests(
        `http://127.0.0.1:${port}`,
        firstHour,
        hourStart(Date.now()),
      );
      const wrong: string[] = [];
      const hours = [...new Set([...truth.keys(), ...byHour.keys()])].sort((a, b) => a - b);
      const sum = (m?: Map<string, number>) => [...(m?.values() ?? [])].reduce((a, b) => a + b, 0);
      for (const hour of hours) {
        const got = JSON.stringify([...(byHour.get(hour) ?? new Map()).entries()].sort());
        const want = JSON.stringify([...(truth.get(hour) ?? new Map()).entries()].sort());
        if (got !== want)
          wrong.push(
            `${iso(hour)} (${sources.get(hour)}): served ${sum(byHour.get(hour))}, truth ${sum(truth.get(hour))}`,
          );
      }
      for (const hour of sealedHours)
        if (sources.get(hour) !== 'batch') wrong.push(`${iso(hour)} served from ${sources.get(hour)}`);
      // the current hour is not over, so no batch run can have sealed it (unless it ended meanwhile)
      if (hourStart(Date.now()) === currentHour && sources.get(currentHour) !== 'speed')
        wrong.push(`${iso(currentHour)} served from ${sources.get(currentHour)}`);
      return wrong;
    }

    let last: string[] = [];
    try {
      await eventually(
        'both serving processes to answer the truth',
        async () => {
          const answers = await Promise.all(servePorts.map((port) => wrongAnswers(port)));
          last = answers.flatMap((wrong, i) => wrong.map((line) => `serve-${i + 1}: ${line}`));
          return last.length === 0 ? true : undefined;
        },
        180_000,
        2_000,
      );
    } catch (error) {
      const tails = fleet.members.map((m) => `--- ${m.name}\n${fleet.output(m).slice(-3000)}`).join('\n');
      const diagnosis = await diagnose().catch((e: unknown) => `diagnosis failed: ${String(e)}`);
      throw new Error(
        `${(error as Error).message}; still wrong: ${last.join('; ')}\n${diagnosis}\nunexpected exits: ${JSON.stringify(fleet.unexpectedExits)}\n${tails}`,
      );
    }

    /**
     * Where a difference comes from, per Kafka partition: the distinct valid events of each hour on
     * the topic (read back here) against the acknowledged truth and the speed layer's cells in Redis.
     */
    async function diagnose(): Promise<string> {
      const byId = new Map(pump.acknowledged.map((r) => [r.eventId, r]));
      const kafka = new Kafka({ brokers: kafkaCluster.brokers.split(','), logLevel: logLevel.NOTHING });
      const kafkaAdmin = kafka.admin();
      await kafkaAdmin.connect();
      const ends = await kafkaAdmin.fetchTopicOffsets(topic);
      await kafkaAdmin.disconnect();
      const consumer = kafka.consumer({ groupId: `topology-diagnose-${Date.now()}` });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const onTopic = new Map<number, Map<number, Set<string>>>(); // partition → hour → event ids
      const offsetsOf = new Map<string, number[]>(); // `${partition} ${event id}` → offsets
      const remaining = new Map(ends.map((e) => [e.partition, Number(e.high)]));
      const done = new Promise<void>((resolveDone) => {
        if ([...remaining.values()].every((high) => high === 0)) resolveDone();
        void consumer.run({
          eachMessage: async ({ partition, message }) => {
            let eventId: string | null = null;
            try {
              eventId =
                (JSON.parse(message.value?.toString() ?? '{}') as { event_id?: string }).event_id ?? null;
            } catch {
              // a poison message: not JSON
            }
            const record = byId.get(eventId);
            if (record?.event && record.label !== 'bad') {
              const key = `${partition} ${record.event.event_id}`;
              offsetsOf.set(key, [...(offsetsOf.get(key) ?? []), Number(message.offset)]);
              const hours = onTopic.get(partition) ?? new Map<number, Set<string>>();
              const hour = hourStart(record.event.timestamp);
              hours.set(hour, (hours.get(hour) ?? new Set()).add(record.event.event_id));
              onTopic.set(partition, hours);
            }
            if (Number(message.offset) + 1 >= remaining.get(partition)!) remaining.set(partition, 0);
            if ([...remaining.values()].every((high) => high === 0)) resolveDone();
          },
        });
      });
      const complete = await Promise.race([done.then(() => true), sleep(150_000).then(() => false)]);
      await consumer.disconnect();
      const lines: string[] = [`topic read ${complete ? 'to its end' : 'partly (timed out)'}`];
      const all = new Set(
        [...onTopic.values()].flatMap((hours) => [...hours.values()].flatMap((ids) => [...ids])),
      );
      const missing = [...byId.values()].filter(
        (r) => r.event && r.label !== 'bad' && !all.has(r.event.event_id),
      );
      lines.push(
        `acknowledged events missing from the topic: ${missing.map((r) => r.eventId).join(', ') || 'none'}`,
      );
      const redis = await world.redis();
      const keys = speedKeys(world.env.REDIS_PREFIX!);
      for (const [partition, hours] of [...onTopic].sort((a, b) => a[0] - b[0])) {
        const meta = await redis.hgetall(keys.meta(partition));
        const parts: string[] = [];
        for (const [hour, ids] of [...hours].sort((a, b) => a[0] - b[0])) {
          let requests = 0;
          const bucket = keys.bucket(partition, 'endpoint_hourly', 1, hour);
          for (const [field, value] of Object.entries(await redis.hgetall(bucket))) {
            if (parseCellField(field)?.measure === 'requests') requests += Number(value);
          }
          parts.push(`${iso(hour)} topic ${ids.size} speed ${requests}`);
        }
        const copies = [...offsetsOf]
          .filter(([key, offsets]) => key.startsWith(`${partition} `) && offsets.length > 1)
          .map(([key, offsets]) => `${key.split(' ')[1]}@${offsets.join('/')}`);
        lines.push(
          `p${partition}: ${parts.join(', ')}; meta ${JSON.stringify(meta)}; copies ${copies.join(' ')}`,
        );
      }
      return lines.join('\n');
    }
    mark('converged');

    // Each sealed hour published once: one run per pointer, none replaced.
    republishes.poll(world.lakeDir);
    expect(republishes.republished).toEqual([]);
    const pointers = pointerFiles(world.lakeDir);
    const endpointHours = pointers
      .filter((p) => p.view === 'endpoint_hourly')
      .map((p) => p.hour)
      .sort();
    expect(endpointHours).toEqual(expect.arrayContaining(sealedHours));
    expect(pointers.filter((p) => p.previous.length > 0).map((p) => `${p.view} ${iso(p.hour)}`)).toEqual([]);
    // The run history (in the cluster; a killed master may have lost part of it) names no second
    // published run of an hour, and no published run other than the pointer's.
    const redis = await world.redis();
    for (const view of new Set(pointers.map((p) => p.view))) {
      const records = await new RunHistory(redis, world.env.REDIS_PREFIX!, RUN_HISTORY_READ).list(
        view,
        RUN_HISTORY_READ,
      );
      const published = records.filter((record) => record.status === 'published');
      for (const record of published) {
        const pointer = pointers.find((p) => p.view === view && p.hour === record.hour);
        expect(record.runId, `${view} ${iso(record.hour)}`).toBe(pointer?.runId);
      }
      expect(new Set(published.map((r) => r.hour)).size).toBe(published.length);
    }
    console.log(
      `pointers: ${pointers.length} sealed hours over ${new Set(pointers.map((p) => p.view)).size} views; unexpected exits: ${fleet.unexpectedExits.length}`,
    );
    // A process may exit by itself (one started while a broker is down gives up connecting); the
    // fleet restarts it as a supervisor would, the log line counts it, and the answers above decide.
    for (const exit of fleet.unexpectedExits)
      console.log(`unexpected exit of ${exit.name} (${exit.code}):\n${exit.tail.slice(-1500)}`);
  }, 600_000);
});

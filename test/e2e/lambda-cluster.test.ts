// The Lambda path of lambda.test.ts past one machine: the same `tandem` processes (speed, archiver,
// serve, batch run) on a real 3-master Redis Cluster (REDIS_CLUSTER_NODES) and a real 3-broker
// Kafka, both started for this file by `scripts/stack up --redis-cluster` / `--kafka-brokers 3` on
// free ports. Lighter than lambda.test.ts (half the traffic), with the same exact checks: every
// hour's requests per endpoint, from batch where sealed and from speed otherwise, equal the truth
// computed here from the generator's own records. It also checks what the cluster is for: the
// topics Tandem created carry 3 replicas and min.insync.replicas 2, the speed layer's partitions
// live on more than one Redis master, and `tandem dlq replay` keeps its replayed marks there.
import { HOUR_MS, hourStart } from '@tandem/core';
import { Cluster } from 'ioredis';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.ts';
import { PrivateKafkaCluster, PrivateRedisCluster } from '../support/private-cluster.ts';
import { eventually, World } from './cli/harness.ts';
import { endpointTruth, runLambdaPath } from './cli/lambda-path.ts';
import type { regenerate } from './cli/truth.ts';

interface DlqList {
  total: number;
  /** Dead letters not replayed yet (what `dlq replay` would send). */
  matching: number;
}

interface SeriesBody {
  sealedThrough: string | null;
  coverage: Array<{ bucket: string; source: string; runId: string | null }>;
  series: Array<{
    dims: Record<string, string>;
    points: Array<{ bucket: string; source: string; values: Record<string, number | null> }>;
  }>;
}

describe('one event stream through speed, archiver, batch and serving on Redis Cluster and 3 brokers', () => {
  let redisCluster: PrivateRedisCluster | undefined;
  let kafkaCluster: PrivateKafkaCluster | undefined;
  let world: World;
  let baseUrl: string;
  const kafkaPartitions = 6;
  const now = Date.now();
  const currentHour = hourStart(now);
  const sealedHour = currentHour - 2 * HOUR_MS;
  const speedHour = currentHour - HOUR_MS;
  const truth = new Map<number, Map<string, number>>();
  /** Generated messages that are not valid events: each is dead-lettered once by the speed layer. */
  let badCount = 0;
  let runId: string;
  const stops: Array<() => Promise<number | null>> = [];

  beforeAll(async () => {
    // both clusters come up at once: Redis in seconds, the brokers while it does
    const [redis, kafka] = await Promise.all([PrivateRedisCluster.start(), PrivateKafkaCluster.start(3)]);
    redisCluster = redis;
    kafkaCluster = kafka;
    const port = await freePort();
    world = new World({
      PORT: String(port),
      SPEED_ALLOWED_LATENESS_MS: String(3 * HOUR_MS),
      REDIS_CLUSTER_NODES: redis.nodes,
      // a REDIS_URL nothing listens on: everything must go through the cluster
      REDIS_URL: 'redis://127.0.0.1:1',
      KAFKA_BROKERS: kafka.brokers,
    });
    baseUrl = `http://127.0.0.1:${port}`;
    const duration = `${Math.floor((now - 60_000 - sealedHour) / 1000)}s`;
    const generated = await world.json<{ options: Parameters<typeof regenerate>[0] }>(
      [
        'generate',
        '--to',
        'kafka',
        '--burst',
        '--start',
        String(sealedHour),
        '--duration',
        duration,
        '--rate',
        '0.5',
        '--duplicates',
        '2%',
        '--bad',
        '2%',
        '--seed',
        '23',
      ],
      { timeoutMs: 180_000 },
    );
    const computed = endpointTruth(generated.options);
    for (const [hour, perEndpoint] of computed.perHour) truth.set(hour, perEndpoint);
    badCount = computed.bad;
    runId = await runLambdaPath(world, {
      sealedHour,
      expectedEvents: computed.distinct,
      kafkaPartitions,
      servedFromBatch: async () =>
        (await series(sealedHour, sealedHour + HOUR_MS)).coverage[0]?.source === 'batch',
      stops,
      timeoutMs: 180_000,
    });
  }, 600_000);

  afterAll(async () => {
    const errors: unknown[] = [];
    const codes = await Promise.all(stops.map((stop) => stop()));
    await world?.cleanup().catch((error: unknown) => errors.push(error));
    for (const cluster of [redisCluster, kafkaCluster]) {
      try {
        cluster?.stop();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cluster e2e teardown failed');
    expect(codes.every((code) => code === 0)).toBe(true);
  }, 180_000);

  async function series(from: number, to: number): Promise<SeriesBody> {
    const params = new URLSearchParams({
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      granularity: '1h',
    });
    const response = await fetch(`${baseUrl}/v1/views/endpoint_hourly/series?${params}`);
    expect(response.status).toBe(200);
    return (await response.json()) as SeriesBody;
  }

  it('serves the sealed hour from batch and the next hour from speed, each exact per endpoint', async () => {
    const body = await series(sealedHour, currentHour);
    expect(body.coverage).toEqual([
      { bucket: new Date(sealedHour).toISOString(), source: 'batch', runId },
      { bucket: new Date(speedHour).toISOString(), source: 'speed', runId: null },
    ]);
    expect(body.sealedThrough).toBe(new Date(sealedHour + HOUR_MS).toISOString());
    for (const hour of [sealedHour, speedHour]) {
      const served = new Map<string, number>();
      for (const group of body.series) {
        const point = group.points.find((p) => p.bucket === new Date(hour).toISOString());
        const requests = point?.values.requests;
        if (requests !== null && requests !== undefined && requests > 0)
          served.set(group.dims.endpoint!, requests);
      }
      expect(served).toEqual(truth.get(hour));
    }
  });

  it('created every topic with 3 replicas and min.insync.replicas 2', async () => {
    const admin = new Kafka({
      brokers: kafkaCluster!.brokers.split(','),
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      const topic = world.env.TANDEM_TOPIC!;
      const topics = [topic, `${topic}.dlq`, `${topic}.late`];
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
      for (const { name, partitions } of metadata) {
        expect(partitions.length, name).toBe(kafkaPartitions);
        for (const partition of partitions) {
          expect(partition.replicas.length, `${name}/${partition.partitionId}`).toBe(3);
          // at least min.insync.replicas in sync (a loaded follower may lag out of the ISR for a while)
          expect(partition.isr.length, `${name}/${partition.partitionId}`).toBeGreaterThanOrEqual(2);
        }
      }
      const configs = await admin.describeConfigs({
        includeSynonyms: false,
        resources: topics.map((name) => ({
          type: ConfigResourceTypes.TOPIC,
          name,
          configNames: ['min.insync.replicas'],
        })),
      });
      expect(configs.resources.map((resource) => resource.configEntries[0]?.configValue)).toEqual([
        '2',
        '2',
        '2',
      ]);
    } finally {
      await admin.disconnect();
    }
  });

  it('spread the speed layer’s partitions over more than one Redis master', async () => {
    const redis = await world.redis();
    expect(redis).toBeInstanceOf(Cluster);
    const mastersWithKeys = await Promise.all(
      (redis as Cluster).nodes('master').map(async (node) => {
        const [, keys] = await node.scan(
          '0',
          'MATCH',
          `${world.env.REDIS_PREFIX}:{p*}:meta`,
          'COUNT',
          100_000,
        );
        return keys.length;
      }),
    );
    expect(mastersWithKeys.reduce((a, b) => a + b, 0)).toBe(kafkaPartitions);
    expect(mastersWithKeys.filter((count) => count > 0).length).toBeGreaterThan(1);
  });
  it('replays each dead letter once: the replayed marks are kept in the cluster', async () => {
    expect(badCount).toBeGreaterThan(0);
    const listed = await world.json<DlqList>(['dlq', 'list', '--limit', '100000']);
    expect(listed).toMatchObject({ total: badCount, matching: badCount });
    expect((await world.json<{ replayed: number }>(['dlq', 'replay'])).replayed).toBe(badCount);
    // still invalid, so the speed layer dead-letters every copy again; the originals stay marked
    await eventually(
      'the replayed copies to be dead-lettered again',
      async () => {
        const list = await world.json<DlqList>(['dlq', 'list', '--limit', '100000']);
        return list.total === 2 * badCount ? list : undefined;
      },
      120_000,
    );
    const after = await world.json<DlqList>(['dlq', 'list', '--limit', '100000']);
    expect(after).toMatchObject({ total: 2 * badCount, matching: badCount });
    expect((await world.json<{ replayed: number }>(['dlq', 'replay'])).replayed).toBe(badCount);
  });
});

// The speed layer on a real 3-master Redis Cluster (started for this file by scripts/stack): the
// client comes from the shared factory when REDIS_CLUSTER_NODES is set; claim and apply-batch run
// per partition with every key in the partition's slot (a script crossing slots would fail with
// CROSSSLOT); the reader merges partitions living on different masters exactly; replay namespaces
// are switched, listed (SCAN on every master) and dropped; the eviction check asks every master.
import {
  compileReducer,
  getView,
  HOUR_MS,
  loadConfig,
  MINUTE_MS,
  mergePartialRows,
  type TandemEvent,
} from '@tandem/core';
import { connectRedis, describeRedis, type RedisClient, redisMasters } from '@tandem/connections';
import { PrivateRedisCluster } from '@tandem/test-support/private-cluster.ts';
import { deleteKeys } from '@tandem/test-support/redis.ts';
import { uniqueName } from '@tandem/test-support/stack.ts';
import { Cluster } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { speedKeys } from '../src/key-schema.ts';
import { dropNamespace, listNamespaces, replayNamespace, switchNamespace } from '../src/namespaces.ts';
import { assertRedisKeepsSpeedKeys } from '../src/redis-requirements.ts';
import { RedisSpeedViewReader } from '../src/speed-view-reader.ts';
import { seedSpeedViews } from '../src/testing.ts';
import { canonicalRows } from './support/truth.ts';

let cluster: PrivateRedisCluster;
let redis: RedisClient;
const prefix = uniqueName('cluster');
const base = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 2 * HOUR_MS;
const partitions = [0, 1, 2, 3, 4, 5];

beforeAll(async () => {
  cluster = await PrivateRedisCluster.start();
  redis = await connectRedis(loadConfig({ REDIS_CLUSTER_NODES: cluster.nodes, REDIS_PREFIX: prefix }).redis);
}, 120_000);

afterAll(async () => {
  const errors: unknown[] = [];
  if (redis) {
    await deleteKeys(redis as Cluster, `${prefix}*`).catch((error: unknown) => errors.push(error));
    await redis.quit().catch((error: unknown) => errors.push(error));
  }
  try {
    cluster?.stop();
  } catch (error) {
    errors.push(error);
  }
  if (errors.length > 0) throw new AggregateError(errors, 'redis-cluster teardown failed');
});

function event(i: number, partition: number): TandemEvent {
  return {
    event_id: `e${partition}-${i}`,
    timestamp: base + ((i * 7 * MINUTE_MS) % (2 * HOUR_MS)),
    endpoint: `/e${i % 3}`,
    method: 'GET',
    status_code: i % 5 === 0 ? 500 : 200,
    response_time_ms: (i % 40) / 4 + partition,
    bytes_sent: i * 10,
    user_id: `u${i % 11}`,
    session_id: null,
    page_id: i % 2 === 0 ? `/p${i % 7}` : null,
  };
}

describe('the speed layer on a Redis Cluster', () => {
  it('gets a cluster client from REDIS_CLUSTER_NODES, naming every master', async () => {
    expect(redis).toBeInstanceOf(Cluster);
    expect(await redis.ping()).toBe('PONG');
    const masters = redisMasters(redis).map((node) => node.options.port);
    expect(masters.sort()).toEqual([...cluster.ports].sort());
    expect(describeRedis(redis)).toMatch(/^cluster (127\.0\.0\.1:\d+,){2}127\.0\.0\.1:\d+$/);
  });

  it('applies each partition in its own slot and reads partitions from every master back exactly', async () => {
    const views = [getView('endpoint_hourly'), getView('trending_pages')];
    const byPartition = partitions.map((p) => Array.from({ length: 90 }, (_, i) => event(i, p)));
    for (const [partition, events] of byPartition.entries()) {
      await seedSpeedViews(redis, { prefix, partition, views, events });
    }
    // the partitions' hash tags spread over more than one master, so the reader crossed nodes
    const keys = speedKeys(prefix);
    const owners = new Set<string>();
    for (const partition of partitions) {
      const slot = Number(await redis.cluster('KEYSLOT', keys.meta(partition)));
      for (const key of [keys.sessions(partition), keys.bucketIndex(partition, 'endpoint_hourly', 1)]) {
        expect(Number(await redis.cluster('KEYSLOT', key))).toBe(slot);
      }
      owners.add(await ownerOf(slot));
    }
    expect(owners.size).toBeGreaterThan(1);

    const reader = new RedisSpeedViewReader({ redis, prefix });
    const range = { from: base, to: base + 2 * HOUR_MS };
    for (const view of views) {
      const reducer = compileReducer(view);
      for (const e of byPartition.flat()) reducer.add(e);
      expect(canonicalRows(await reader.readPartials(view.name, range, {}))).toEqual(
        canonicalRows(mergePartialRows(view, reducer.rows())),
      );
    }
    const status = await reader.status();
    expect(status.eventsApplied).toBe(6 * 90);
    expect(status.partitions.map((p) => p.appliedOffset)).toEqual(partitions.map(() => '89'));
  });

  it('switches, lists and drops replay namespaces, scanning every master', async () => {
    const replay = replayNamespace(prefix, 1_700_000_000_000);
    const view = getView('endpoint_hourly');
    for (const partition of partitions) {
      await seedSpeedViews(redis, {
        prefix: replay,
        partition,
        views: [view],
        events: [event(1, partition)],
      });
    }
    expect(await listNamespaces(redis, prefix)).toEqual([prefix, replay].sort());
    expect(await switchNamespace(redis, prefix, prefix, replay)).toEqual({ switched: true, current: replay });
    expect(await switchNamespace(redis, prefix, prefix, replay)).toEqual({
      switched: false,
      current: replay,
    });
    // every key of the old namespace's partitions, wherever its slot lives, and its partition set;
    // only the stream's pointer stays under the base prefix
    const pointer = speedKeys(prefix).activeNamespace();
    const before = await listKeys(`${prefix}:*`);
    expect(before.length).toBeGreaterThan(6 * 3);
    expect(await dropNamespace(redis, prefix, prefix)).toBe(before.length - 1);
    expect(await listKeys(`${prefix}:*`)).toEqual([pointer]);
    expect((await listKeys(`${replay}:*`)).length).toBeGreaterThan(6 * 3);
  });

  it('checks the eviction policy of every master', async () => {
    const checks = await assertRedisKeepsSpeedKeys(redis, pino({ level: 'silent' }));
    expect(checks.map((check) => check.policy)).toEqual(['noeviction', 'noeviction', 'noeviction']);
    expect(checks.map((check) => Number(check.node.split(':')[1])).sort()).toEqual([...cluster.ports].sort());
  });
});

/** The `host:port` of the master serving `slot`. */
async function ownerOf(slot: number): Promise<string> {
  const ranges = await redis.cluster('SLOTS');
  const range = ranges.find(([from, to]) => slot >= from && slot <= to);
  if (range === undefined) throw new Error(`no master serves slot ${slot}`);
  const [, , master] = range;
  return `${master?.[0]}:${master?.[1]}`;
}

/** Keys matching `pattern` over every master, sorted. */
async function listKeys(pattern: string): Promise<string[]> {
  const found: string[] = [];
  for (const node of redisMasters(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found.sort();
}

// The shared rate-limit counters on a real 3-master Redis Cluster (started for this file by
// scripts/stack): each counter is one key, so @fastify/rate-limit's script runs in that key's slot;
// every replica given the cluster client counts against the same budget.
import { PrivateRedisCluster } from '@tandem/test-support/private-cluster.ts';
import { uniqueName } from '@tandem/test-support/stack.ts';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Seeded, seededServer, sha256 } from './support/server.ts';

const READ_KEY = 'read-key-0123456789';
const ADMIN_KEY = 'admin-key-0123456789';
const apiKeys = [
  { name: 'reader', sha256: sha256(READ_KEY), scopes: ['read' as const] },
  { name: 'operator', sha256: sha256(ADMIN_KEY), scopes: ['admin' as const] },
];
const prefix = uniqueName('serving-cluster');
let cluster: PrivateRedisCluster;
let redis: Cluster;
const servers: Seeded[] = [];

beforeAll(async () => {
  cluster = await PrivateRedisCluster.start();
  redis = cluster.client();
}, 120_000);

afterAll(async () => {
  const errors: unknown[] = [];
  for (const server of servers) await server.app.close().catch((error: unknown) => errors.push(error));
  await redis?.quit().catch((error: unknown) => errors.push(error));
  try {
    cluster?.stop();
  } catch (error) {
    errors.push(error);
  }
  if (errors.length > 0) throw new AggregateError(errors, 'serving redis-cluster teardown failed');
});

describe('rate limits on a Redis Cluster', () => {
  test('two replicas share each key’s budget through the cluster', async () => {
    const options = {
      apiKeys,
      rateLimit: { max: 3, windowMs: 60_000 },
      redis,
      redisPrefix: prefix,
      hours: 2,
      sealedHours: 1,
      eventCount: 50,
    };
    const one = await seededServer(options);
    const two = await seededServer(options);
    servers.push(one, two);
    const statuses: number[] = [];
    for (const app of [one.app, two.app, one.app, two.app]) {
      statuses.push((await app.inject({ url: '/v1/views', headers: { 'x-api-key': READ_KEY } })).statusCode);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    // another key has its own budget, on whichever master its slot lives
    expect((await two.app.inject({ url: '/v1/views', headers: { 'x-api-key': ADMIN_KEY } })).statusCode).toBe(
      200,
    );
    expect(await redis.get(`${prefix}:ratelimit:key:reader`)).toBe('4');
    expect(await redis.get(`${prefix}:ratelimit:key:operator`)).toBe('1');
  });
});

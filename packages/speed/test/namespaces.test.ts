// The namespaces a replay switches between: the pointer per stream, the compare-and-set switch,
// listing, and dropping one stream's keys of an old namespace and nothing else.
import { afterAll, describe, expect, it } from 'vitest';
import { speedKeys } from '../src/key-schema.ts';
import {
  activeNamespace,
  dropNamespace,
  isNamespaceOf,
  listNamespaces,
  replayNamespace,
  switchNamespace,
} from '../src/namespaces.ts';
import { deleteKeys } from '@tandem/test-support/redis.ts';
import { connectRedis, uniqueName } from '@tandem/test-support/stack.ts';

const redis = connectRedis();
const base = uniqueName('namespaces');

afterAll(async () => {
  await deleteKeys(redis, `${base}*`);
  await redis.quit();
});

/** Writes a few keys of `stream` in `namespace` the way a worker would (partition set, meta, a bucket). */
async function seed(namespace: string, stream: string, partitions: number[]): Promise<void> {
  const keys = speedKeys(namespace, stream);
  for (const partition of partitions) {
    await redis.sadd(keys.partitions(), String(partition));
    await redis.hset(keys.meta(partition), 'offset', '9');
    await redis.hset(keys.bucket(partition, 'v', 1, 0), 'f', '1');
    await redis.zadd(keys.bucketIndex(partition, 'v', 1), 0, '0');
  }
}

describe('speed namespaces', () => {
  it('point each stream at its own namespace, switched by compare-and-set', async () => {
    expect(speedKeys(base).activeNamespace()).toBe(`${base}:speed:active`);
    expect(speedKeys(base, 'iot').activeNamespace()).toBe(`${base}:speed:iot:active`);
    expect(await activeNamespace(redis, base)).toBe(base);
    const target = replayNamespace(base, 1_700_000_000_000);
    expect(target).toBe(`${base}~r${(1_700_000_000_000).toString(36)}`);
    expect(isNamespaceOf(target, base)).toBe(true);
    expect(isNamespaceOf(`${base}:x`, base)).toBe(false);

    expect(await switchNamespace(redis, base, base, target, 'iot')).toEqual({
      switched: true,
      current: target,
    });
    expect(await activeNamespace(redis, base, 'iot')).toBe(target);
    expect(await activeNamespace(redis, base)).toBe(base); // the web stream did not move
    // a second replay that started from the old namespace loses the race
    expect(await switchNamespace(redis, base, base, `${base}~rother`, 'iot')).toEqual({
      switched: false,
      current: target,
    });
    expect(await redis.get(`${base}:speed:iot:active`)).toBe(target);
  });

  it("drops one stream's keys of an old namespace, never the active one's or another stream's", async () => {
    const old = `${base}~rold`;
    await seed(old, 'events', [0, 1]);
    await seed(old, 'iot', [0]);
    await seed(base, 'events', [0]);
    expect(await listNamespaces(redis, base)).toEqual([base, old].sort());
    expect(await listNamespaces(redis, base, 'iot')).toEqual([base, old].sort());

    await expect(dropNamespace(redis, base, base)).rejects.toMatchObject({
      code: 'TANDEM_ERR_SPEED_NAMESPACE',
      message: expect.stringContaining('is the active speed namespace of stream events'),
    });
    await expect(dropNamespace(redis, base, 'elsewhere~r1')).rejects.toMatchObject({
      code: 'TANDEM_ERR_SPEED_NAMESPACE',
      message: expect.stringContaining('is not a speed namespace of'),
    });
    // partition set + 2 × (meta, bucket, index)
    expect(await dropNamespace(redis, base, old)).toBe(7);
    expect(await redis.exists(speedKeys(old).partitions(), speedKeys(old).meta(0))).toBe(0);
    expect(await redis.exists(speedKeys(old, 'iot').partitions(), speedKeys(old, 'iot').meta(0))).toBe(2);
    expect(await redis.exists(speedKeys(base).partitions(), speedKeys(base).meta(0))).toBe(2);
    expect(await listNamespaces(redis, base)).toEqual([base]);
  });
});

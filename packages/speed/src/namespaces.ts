// Namespaces: which Redis prefix holds the live real-time views of each stream. A replay (the cli's
// `tandem replay --stream S`) builds a fresh namespace from Kafka next to the live one and, once it
// has caught up, flips S's pointer; the speed worker of S, the serving layer's reader and the
// janitor all follow the pointer, so readers move from the old views to the new ones in one step
// and never see a half-built namespace. Each stream has its own pointer
// (`speedKeys(REDIS_PREFIX, S).activeNamespace()`), so rebuilding one stream leaves the others
// where they are. The pointer holds "<REDIS_PREFIX>" (absent: no replay yet) or
// "<REDIS_PREFIX>~r<id>". Namespaces extend the base with "~", never ":", so a stream's keys in an
// old namespace (`speedKeys(namespace, S)`) can be found and removed without touching the base
// prefix's other keys (leases, rate limits) or any other stream's.
import { scriptCommand, TandemError } from '@tandem/core';
import { redisMasters } from '@tandem/connections';
import type { Redis } from 'ioredis';
import { LEGACY_KEYS_STREAM, speedKeys } from './key-schema.ts';
import { type RedisClient, speedScript } from './scripts.ts';

const switchNamespaceScript = speedScript('switch-namespace-1.lua');

/** The Redis prefix the speed layer currently reads and writes for a stream. */
export async function activeNamespace(
  redis: RedisClient,
  basePrefix: string,
  stream: string = LEGACY_KEYS_STREAM,
): Promise<string> {
  const value = await redis.get(speedKeys(basePrefix, stream).activeNamespace());
  return value === null || value === '' ? basePrefix : value;
}

/** A fresh namespace name for a replay started at `now` (epoch ms). */
export function replayNamespace(basePrefix: string, now: number): string {
  return `${basePrefix}~r${now.toString(36)}`;
}

/** Whether a prefix is the base or one of its replay namespaces. */
export function isNamespaceOf(namespace: string, basePrefix: string): boolean {
  return namespace === basePrefix || namespace.startsWith(`${basePrefix}~r`);
}

/**
 * Points the stream's readers and workers at `to` if its active namespace is still `from`. Returns
 * `switched: true` when it switched; false (with the namespace found) when someone else switched first.
 */
export async function switchNamespace(
  redis: RedisClient,
  basePrefix: string,
  from: string,
  to: string,
  stream: string = LEGACY_KEYS_STREAM,
): Promise<{ switched: boolean; current: string }> {
  const run = scriptCommand<(pointer: string, from: string, to: string, base: string) => Promise<string>>(
    redis,
    switchNamespaceScript,
  );
  const reply = await run(speedKeys(basePrefix, stream).activeNamespace(), from, to, basePrefix);
  return reply === 'OK' ? { switched: true, current: to } : { switched: false, current: reply };
}

/**
 * Deletes every speed-layer key of one stream in a namespace that is no longer that stream's active
 * one: its per-partition keys and its partition set (other streams' keys there stay). Refuses the
 * stream's active namespace and any prefix that is not a namespace of `basePrefix`
 * (`TANDEM_ERR_SPEED_NAMESPACE`). Returns how many keys it deleted.
 */
export async function dropNamespace(
  redis: RedisClient,
  basePrefix: string,
  namespace: string,
  stream: string = LEGACY_KEYS_STREAM,
): Promise<number> {
  if (!isNamespaceOf(namespace, basePrefix)) {
    throw new TandemError(
      'TANDEM_ERR_SPEED_NAMESPACE',
      `${namespace} is not a speed namespace of ${basePrefix} (those are ${basePrefix} and ${basePrefix}~r<id>); nothing was deleted`,
      { details: { namespace, basePrefix, stream } },
    );
  }
  if ((await activeNamespace(redis, basePrefix, stream)) === namespace) {
    throw new TandemError(
      'TANDEM_ERR_SPEED_NAMESPACE',
      `${namespace} is the active speed namespace of stream ${stream}; switch the stream to another namespace first (tandem replay does), then drop this one`,
      { details: { namespace, basePrefix, stream } },
    );
  }
  const keys = speedKeys(namespace, stream);
  let deleted = 0;
  const partitions = await redis.smembers(keys.partitions());
  for (const partition of partitions) {
    deleted += await deleteMatching(redis, keys.partitionPattern(Number(partition)));
  }
  deleted += await redis.del(keys.partitions());
  return deleted;
}

/** Every namespace with data of a stream: the base and the replay namespaces that still have its partition set. */
export async function listNamespaces(
  redis: RedisClient,
  basePrefix: string,
  stream: string = LEGACY_KEYS_STREAM,
): Promise<string[]> {
  const suffix = speedKeys('', stream).partitions(); // ":speed:partitions" or ":speed:<stream>:partitions"
  const found = new Set<string>([basePrefix]);
  await scanKeys(redis, `${basePrefix}~r*${suffix}`, async (keys) => {
    for (const key of keys) {
      if (key.endsWith(suffix)) found.add(key.slice(0, -suffix.length));
    }
  });
  return [...found].sort();
}

/** SCANs every master (one node, or each master of a cluster) and hands each page to `onKeys`. */
async function scanKeys(
  redis: RedisClient,
  pattern: string,
  onKeys: (keys: string[], node: Redis) => Promise<void>,
): Promise<void> {
  for (const node of redisMasters(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await onKeys(keys, node);
    } while (cursor !== '0');
  }
}

/** Unlinks the keys matching `pattern`; one partition's keys share a hash tag, so one slot. */
async function deleteMatching(redis: RedisClient, pattern: string): Promise<number> {
  let deleted = 0;
  await scanKeys(redis, pattern, async (keys, node) => {
    deleted += await node.unlink(...keys);
  });
  return deleted;
}

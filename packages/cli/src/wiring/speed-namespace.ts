// Which Redis namespace holds the live real-time views. `tandem replay` builds a fresh namespace
// from Kafka next to the live one and, once it has caught up, flips one pointer key; the speed
// worker, the serving layer's reader and the janitor all follow the pointer, so readers move from
// the old views to the new ones in one step and never see a half-built namespace.
//
//   <REDIS_PREFIX>:speed:active  →  "<REDIS_PREFIX>" (no replay yet) or "<REDIS_PREFIX>~r<id>"
//
// Namespaces extend the base with "~", never ":", so the old namespace's keys (`<ns>:{p<N>}:…`)
// can be found and removed without touching the base prefix's other keys (leases, rate limits).
import type { Redis } from 'ioredis';

/** The pointer key under the configured prefix. */
export function activeNamespaceKey(basePrefix: string): string {
  return `${basePrefix}:speed:active`;
}

/** The Redis prefix the speed layer currently reads and writes. */
export async function activeNamespace(redis: Redis, basePrefix: string): Promise<string> {
  const value = await redis.get(activeNamespaceKey(basePrefix));
  return value === null || value === '' ? basePrefix : value;
}

/** A fresh namespace name for a replay. */
export function replayNamespace(basePrefix: string, now: number): string {
  return `${basePrefix}~r${now.toString(36)}`;
}

/** Whether a prefix is the base or one of its replay namespaces. */
export function belongsTo(namespace: string, basePrefix: string): boolean {
  return namespace === basePrefix || namespace.startsWith(`${basePrefix}~r`);
}

// Compare-and-set: flip only if the pointer still names the namespace the replay started from, so
// two replays racing cannot leave readers on a namespace nobody maintains.
const switchScript = `
local current = redis.call('GET', KEYS[1])
if current == false or current == '' then current = ARGV[3] end
if current ~= ARGV[1] then return current end
redis.call('SET', KEYS[1], ARGV[2])
return 'OK'
`;

/**
 * Points readers and workers at `to` if the active namespace is still `from`. Returns true when it
 * switched; false (with the namespace found) when someone else switched first.
 */
export async function switchNamespace(
  redis: Redis,
  basePrefix: string,
  from: string,
  to: string,
): Promise<{ switched: boolean; current: string }> {
  const reply = (await redis.eval(
    switchScript,
    1,
    activeNamespaceKey(basePrefix),
    from,
    to,
    basePrefix,
  )) as string;
  return reply === 'OK' ? { switched: true, current: to } : { switched: false, current: reply };
}

/**
 * Deletes every speed-layer key of a namespace that is no longer active: the per-partition keys
 * (`<ns>:{p<N>}:*`) and the partition set. Refuses the active namespace.
 */
export async function dropNamespace(redis: Redis, basePrefix: string, namespace: string): Promise<number> {
  if (!belongsTo(namespace, basePrefix))
    throw new Error(`${namespace} is not a speed namespace of ${basePrefix}`);
  if ((await activeNamespace(redis, basePrefix)) === namespace) {
    throw new Error(`${namespace} is the active speed namespace; switch away from it first`);
  }
  let deleted = 0;
  const partitions = await redis.smembers(`${namespace}:speed:partitions`);
  for (const partition of partitions) {
    deleted += await deleteMatching(redis, `${namespace}:{p${partition}}:*`);
  }
  deleted += await redis.del(`${namespace}:speed:partitions`);
  return deleted;
}

/** Every namespace with data: the base and the replay namespaces that still have a partition set. */
export async function listNamespaces(redis: Redis, basePrefix: string): Promise<string[]> {
  const found = new Set<string>([basePrefix]);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(
      cursor,
      'MATCH',
      `${basePrefix}~r*:speed:partitions`,
      'COUNT',
      1000,
    );
    cursor = next;
    for (const key of keys) found.add(key.slice(0, -':speed:partitions'.length));
  } while (cursor !== '0');
  return [...found].sort();
}

async function deleteMatching(redis: Redis, pattern: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

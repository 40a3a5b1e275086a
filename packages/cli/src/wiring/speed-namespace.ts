// Which Redis namespace holds the live real-time views of each stream. `tandem replay --stream S`
// builds a fresh namespace from Kafka next to the live one and, once it has caught up, flips S's
// pointer key; the speed worker of S, the serving layer's reader and the janitor all follow the
// pointer, so readers move from the old views to the new ones in one step and never see a
// half-built namespace. Each stream has its own pointer, so rebuilding one stream leaves the
// others where they are:
//
//   <REDIS_PREFIX>:speed:active           →  the web stream `events` (the first build's key)
//   <REDIS_PREFIX>:speed:<stream>:active  →  any other stream
//
// each holding "<REDIS_PREFIX>" (no replay yet) or "<REDIS_PREFIX>~r<id>". Namespaces extend the
// base with "~", never ":", so a stream's keys in an old namespace (the speed layer's
// `speedKeys(ns, stream)`) can be found and removed without touching the base prefix's other keys
// (leases, rate limits) or any other stream's.
import type { Redis } from 'ioredis';

/** The stream whose pointer keeps the first build's key name. */
const LEGACY_POINTER_STREAM = 'events';

/** The pointer key of a stream under the configured prefix. */
export function activeNamespaceKey(basePrefix: string, stream: string = LEGACY_POINTER_STREAM): string {
  return stream === LEGACY_POINTER_STREAM
    ? `${basePrefix}:speed:active`
    : `${basePrefix}:speed:${stream}:active`;
}

/** The Redis prefix the speed layer currently reads and writes for a stream. */
export async function activeNamespace(
  redis: Redis,
  basePrefix: string,
  stream: string = LEGACY_POINTER_STREAM,
): Promise<string> {
  const value = await redis.get(activeNamespaceKey(basePrefix, stream));
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
 * Points the stream's readers and workers at `to` if its active namespace is still `from`. Returns
 * true when it switched; false (with the namespace found) when someone else switched first.
 */
export async function switchNamespace(
  redis: Redis,
  basePrefix: string,
  from: string,
  to: string,
  stream: string = LEGACY_POINTER_STREAM,
): Promise<{ switched: boolean; current: string }> {
  const reply = (await redis.eval(
    switchScript,
    1,
    activeNamespaceKey(basePrefix, stream),
    from,
    to,
    basePrefix,
  )) as string;
  return reply === 'OK' ? { switched: true, current: to } : { switched: false, current: reply };
}

/**
 * Deletes every speed-layer key of one stream in a namespace that is no longer that stream's active
 * one: its per-partition keys and its partition set (other streams' keys there stay). Refuses the
 * stream's active namespace.
 */
export async function dropNamespace(
  redis: Redis,
  basePrefix: string,
  namespace: string,
  stream: string = LEGACY_POINTER_STREAM,
): Promise<number> {
  if (!belongsTo(namespace, basePrefix))
    throw new Error(`${namespace} is not a speed namespace of ${basePrefix}`);
  if ((await activeNamespace(redis, basePrefix, stream)) === namespace) {
    throw new Error(
      `${namespace} is the active speed namespace of stream ${stream}; switch away from it first`,
    );
  }
  const { speedKeys } = await import('@tandem/speed');
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
  redis: Redis,
  basePrefix: string,
  stream: string = LEGACY_POINTER_STREAM,
): Promise<string[]> {
  const { speedKeys } = await import('@tandem/speed');
  const suffix = speedKeys('', stream).partitions(); // ":speed:partitions" or ":speed:<stream>:partitions"
  const found = new Set<string>([basePrefix]);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${basePrefix}~r*${suffix}`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) found.add(key.slice(0, -suffix.length));
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

// Cleanup of the keys a test wrote under its own prefix on the shared Redis (one node or a cluster).
import { Cluster, type Redis } from 'ioredis';

/**
 * Deletes every key matching `pattern`, on every master of a cluster. SCAN, not KEYS: the Redis is
 * shared by every suite running at the same time, and KEYS would block them all while it walks the
 * keyspace. Keys are unlinked one by one (pipelined): on a cluster, one node's keys span many slots,
 * and a multi-key UNLINK across slots is refused (CROSSSLOT).
 */
export async function deleteKeys(redis: Redis | Cluster, pattern: string): Promise<void> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await node.pipeline(keys.map((key) => ['unlink', key])).exec();
    } while (cursor !== '0');
  }
}

/**
 * Deletes the keys of a component configured with `prefix` (it writes `<prefix>:…`), and no key of
 * another test whose prefix merely starts with the same characters.
 */
export async function deletePrefix(redis: Redis | Cluster, prefix: string): Promise<void> {
  await deleteKeys(redis, `${prefix}:*`);
}

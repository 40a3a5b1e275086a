// Cleanup of the keys a test wrote under its own prefix on the shared Redis.
import type { Redis } from 'ioredis';

/**
 * Deletes every key matching `pattern`. SCAN, not KEYS: the Redis is shared by every suite running
 * at the same time, and KEYS would block them all while it walks the keyspace.
 */
export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/**
 * Deletes the keys of a component configured with `prefix` (it writes `<prefix>:…`), and no key of
 * another test whose prefix merely starts with the same characters.
 */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  await deleteKeys(redis, `${prefix}:*`);
}

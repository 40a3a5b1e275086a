// Which Redis namespace holds the live real-time views of each stream. The speed layer owns the
// pointer keys, the namespace names and the compare-and-set switch (`@tandem/speed`'s namespaces,
// packages/speed/README.md "Namespaces"); the cli wires them to its commands with the configured
// base prefix (`REDIS_PREFIX`). Loaded lazily, so commands that never touch Redis start without
// the speed layer's dependencies.
import type { RedisClient } from '@tandem/connections';

const speed = () => import('@tandem/speed');

/** The Redis prefix the speed layer currently reads and writes for a stream (the web stream by default). */
export async function activeNamespace(
  redis: RedisClient,
  basePrefix: string,
  stream?: string,
): Promise<string> {
  return (await speed()).activeNamespace(redis, basePrefix, stream);
}

/** A fresh namespace name for a replay started at `now`. */
export async function replayNamespace(basePrefix: string, now: number): Promise<string> {
  return (await speed()).replayNamespace(basePrefix, now);
}

/** Points the stream at `to` if its active namespace is still `from` (compare-and-set). */
export async function switchNamespace(
  redis: RedisClient,
  basePrefix: string,
  from: string,
  to: string,
  stream?: string,
): Promise<{ switched: boolean; current: string }> {
  return (await speed()).switchNamespace(redis, basePrefix, from, to, stream);
}

/** Deletes a stream's keys in a namespace that is not its active one; returns how many. */
export async function dropNamespace(
  redis: RedisClient,
  basePrefix: string,
  namespace: string,
  stream?: string,
): Promise<number> {
  return (await speed()).dropNamespace(redis, basePrefix, namespace, stream);
}

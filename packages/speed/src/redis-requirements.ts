// What the speed layer asks of the Redis it writes to, checked once per client before a worker
// joins its group. Exactly-once rests on the partition's applied offset and the views it covers
// living and dying together; a Redis that evicts keys breaks that silently.
//
// Only `noeviction` is safe. `volatile-*` evicts keys that carry a TTL — every bucket hash and
// bucket index does, the meta hash holding the applied offset does not — so it drops exactly the
// real-time data while the offset that says it was applied stays: those events are never counted
// again. `allkeys-*` may drop either, and a bucket lost without its meta hash is the same silent
// loss. Under `noeviction` a full Redis refuses writes instead: apply-batch fails with OOM, the
// partition stops and its lag grows where an operator sees it, and nothing is lost. (A policy is
// also harmless while `maxmemory` is 0, but maxmemory can be set at any time, and managed services
// always set it, so the policy alone decides.)
import { TandemError } from '@tandem/core';
import { redisMasters } from '@tandem/connections';
import type { Logger } from 'pino';
import type { RedisClient } from './scripts.ts';

/** The one `maxmemory-policy` under which the speed layer starts. */
export const REQUIRED_MAXMEMORY_POLICY = 'noeviction';

/** What the check found on one Redis node. */
export interface RedisPolicyCheck {
  node: string;
  /** The node's policy, or null when it would not say (CONFIG GET refused: a managed Redis, an ACL). */
  policy: string | null;
}

const checked = new WeakMap<object, Promise<RedisPolicyCheck[]>>();

/**
 * Refuses (`TANDEM_ERR_SPEED_REDIS_EVICTION`) a Redis whose `maxmemory-policy` evicts keys; where
 * `CONFIG GET` is not permitted, logs a warning with the same code and goes on, since the policy
 * cannot be known. Every master of a cluster is asked. Checked once per client.
 */
export function assertRedisKeepsSpeedKeys(redis: RedisClient, logger: Logger): Promise<RedisPolicyCheck[]> {
  let result = checked.get(redis);
  if (result === undefined) {
    result = checkNodes(redis, logger);
    checked.set(redis, result);
    // a failed check (Redis unreachable) is asked again by the next start
    result.catch(() => {
      if (checked.get(redis) === result) checked.delete(redis);
    });
  }
  return result;
}

async function checkNodes(redis: RedisClient, logger: Logger): Promise<RedisPolicyCheck[]> {
  const results: RedisPolicyCheck[] = [];
  for (const node of redisMasters(redis)) {
    const where = `${node.options.host ?? '127.0.0.1'}:${node.options.port ?? 6379}`;
    let reply: unknown;
    try {
      reply = await node.config('GET', 'maxmemory-policy');
    } catch (error) {
      // Redis answered, but with an error: the command is renamed, disabled or denied by an ACL
      // (ElastiCache, MemoryDB and other managed services do this). Connection errors propagate.
      if (!(error instanceof Error) || error.name !== 'ReplyError') throw error;
      warnUnknown(logger, where, error.message);
      results.push({ node: where, policy: null });
      continue;
    }
    const policy = Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : null;
    if (policy === null) {
      warnUnknown(logger, where, `CONFIG GET maxmemory-policy answered ${JSON.stringify(reply)}`);
    } else if (policy !== REQUIRED_MAXMEMORY_POLICY) {
      throw new TandemError(
        'TANDEM_ERR_SPEED_REDIS_EVICTION',
        `Redis at ${where} runs with maxmemory-policy ${policy}: under memory pressure it would evict ` +
          'real-time buckets while the applied Kafka offsets stay stored (and committed), so the ' +
          'events in them would silently never be counted again. The speed layer does not start ' +
          `against it. Fix: redis-cli -h ${node.options.host ?? '127.0.0.1'} -p ${node.options.port ?? 6379} ` +
          'CONFIG SET maxmemory-policy noeviction (then CONFIG REWRITE, or put "maxmemory-policy ' +
          'noeviction" in redis.conf, so it survives a restart); a full Redis then refuses writes and ' +
          'the speed layer waits with its lag visible instead of losing data.',
        { details: { node: where, policy, required: REQUIRED_MAXMEMORY_POLICY } },
      );
    }
    results.push({ node: where, policy });
  }
  return results;
}

function warnUnknown(logger: Logger, node: string, why: string): void {
  logger.warn(
    { code: 'TANDEM_ERR_SPEED_REDIS_EVICTION', node, why },
    `cannot read Redis's maxmemory-policy at ${node} (CONFIG GET not permitted); make sure it is ` +
      'noeviction: an evicting policy silently drops real-time buckets while their offsets stay applied',
  );
}

// The speed layer refuses a Redis that evicts keys, and says why and how to fix it; where CONFIG GET
// is not permitted (a managed Redis, an ACL) it warns and starts. Each case runs its own
// redis-server: the shared Redis's configuration is not ours to change.
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { assertRedisKeepsSpeedKeys } from '../src/redis-requirements.ts';
import { startSpeedWorker } from '../src/speed-worker.ts';
import { kafkaClient } from '@tandem/test-support/stack.ts';
import { type PrivateRedis, startPrivateRedis } from '@tandem/test-support/private-redis.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function server(args: string[] = []): Promise<PrivateRedis> {
  const started = await startPrivateRedis({ args });
  cleanups.push(() => started.stop());
  return started;
}

function client(url: string, options: { username?: string; password?: string } = {}): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 2, ...options });
  cleanups.push(() => redis.disconnect());
  return redis;
}

/** A pino logger whose lines the test reads. */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'warn' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

describe('the Redis the speed layer needs', () => {
  it('refuses every evicting maxmemory-policy, naming the policy, the risk and the fix', async () => {
    const redis = await server(['--maxmemory-policy', 'volatile-lru']);
    const { logger } = capturedLogger();
    const refusal = assertRedisKeepsSpeedKeys(client(redis.url), logger);
    await expect(refusal).rejects.toMatchObject({
      code: 'TANDEM_ERR_SPEED_REDIS_EVICTION',
      details: { node: `127.0.0.1:${redis.port}`, policy: 'volatile-lru', required: 'noeviction' },
    });
    const message = (await refusal.catch((error: Error) => error)) as Error;
    expect(message.message).toContain('maxmemory-policy volatile-lru');
    expect(message.message).toContain('evict real-time buckets while the applied Kafka offsets stay stored');
    expect(message.message).toContain(`-p ${redis.port} CONFIG SET maxmemory-policy noeviction`);
    expect(message.message).toContain('redis.conf');

    // every other evicting policy the same way (a fresh client: the verdict is kept per client)
    const admin = client(redis.url);
    for (const policy of [
      'allkeys-lru',
      'allkeys-lfu',
      'allkeys-random',
      'volatile-lfu',
      'volatile-random',
      'volatile-ttl',
    ]) {
      await admin.config('SET', 'maxmemory-policy', policy);
      await expect(assertRedisKeepsSpeedKeys(client(redis.url), logger)).rejects.toMatchObject({
        code: 'TANDEM_ERR_SPEED_REDIS_EVICTION',
        details: { policy },
      });
    }
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    expect(await assertRedisKeepsSpeedKeys(client(redis.url), logger)).toEqual([
      { node: `127.0.0.1:${redis.port}`, policy: 'noeviction' },
    ]);
  });

  it('does not start a speed worker against an evicting Redis', async () => {
    const redis = await server(['--maxmemory-policy', 'allkeys-lru']);
    const kafka = kafkaClient('tandem-speed-policy-test');
    const { logger } = capturedLogger();
    await expect(
      startSpeedWorker({ kafka, redis: client(redis.url), logger, createTopics: false }),
    ).rejects.toMatchObject({ code: 'TANDEM_ERR_SPEED_REDIS_EVICTION', details: { policy: 'allkeys-lru' } });
  });

  it('warns and goes on where CONFIG GET is not permitted', async () => {
    const redis = await server(['--maxmemory-policy', 'noeviction']);
    // a user like a managed Redis gives: everything but CONFIG
    await client(redis.url).acl('SETUSER', 'app', 'on', '>app-secret', '~*', '&*', '+@all', '-config');
    const { logger, lines } = capturedLogger();
    const limited = client(redis.url, { username: 'app', password: 'app-secret' });
    await expect(limited.config('GET', 'maxmemory-policy')).rejects.toThrow(/NOPERM/);
    expect(await assertRedisKeepsSpeedKeys(limited, logger)).toEqual([
      { node: `127.0.0.1:${redis.port}`, policy: null },
    ]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      code: 'TANDEM_ERR_SPEED_REDIS_EVICTION',
      node: `127.0.0.1:${redis.port}`,
      why: expect.stringContaining('NOPERM'),
    });
    expect(String(lines[0]!.msg)).toContain('make sure it is noeviction');
  });
});

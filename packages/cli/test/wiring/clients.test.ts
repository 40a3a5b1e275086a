// The shared Redis client of `tandem up` / `serve` must heal after a Redis restart: it used to give
// up after three reconnect attempts, leaving every later request with "Connection is closed.".
// Runs its own redis-server (Debian's, as scripts/stack uses) on a free port, so killing it disturbs
// no other test.
import { loadConfig } from '@tandem/core';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '@tandem/test-support/net.ts';
import { startPrivateRedis } from '@tandem/test-support/private-redis.ts';
import { connectRedis } from '../../src/wiring/clients.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function until<T>(attempt: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

describe('connectRedis', () => {
  it('answers again after Redis is killed and restarted twice', async () => {
    const server = await startPrivateRedis();
    cleanups.push(() => server.stop());
    const config = loadConfig({ REDIS_URL: server.url });
    const redis = await connectRedis(config.redis);
    cleanups.push(() => redis.disconnect());
    await redis.set('k', '1');

    for (let restart = 1; restart <= 2; restart++) {
      await server.stop();
      // While Redis is away, commands fail fast instead of queueing.
      await until(async () => {
        await expect(redis.ping()).rejects.toThrow();
      }, 5_000);
      // Long enough for the old client to have given up after its 3 attempts.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await server.start();
      await until(() => redis.set('k', String(restart + 1)), 15_000);
      expect(await redis.get('k')).toBe(String(restart + 1));
    }
  });

  it('names Redis and how to start it when nothing answers', async () => {
    const port = await freePort();
    const config = loadConfig({ REDIS_URL: `redis://127.0.0.1:${port}` });
    await expect(connectRedis(config.redis)).rejects.toMatchObject({
      code: 'TANDEM_ERR_SERVICE_UNAVAILABLE',
      message: expect.stringContaining('scripts/stack up'),
    });
  });
});

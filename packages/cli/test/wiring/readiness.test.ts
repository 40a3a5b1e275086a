// `tandem serve`'s probes, wired as the command wires them, against a redis-server of the test's own
// (killed and started again; the shared stack's Redis is never touched) and a directory lake:
// /readyz turns 503 naming Redis while it is down and 200 again once it is back, twice; /healthz
// stays 200 throughout, because a dependency outage is not something a restart fixes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@tandem/core';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startPrivateRedis } from '@tandem/test-support/private-redis.ts';
import type { Running } from '../../src/wiring/lifecycle.ts';
import { Platform } from '../../src/wiring/platform.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface ProbeAnswer {
  status: number;
  body: { status: string; checks: Record<string, { ok: boolean; error?: string; detail?: string }> };
}

async function probe(url: string): Promise<ProbeAnswer> {
  // Bounded: a probe that does not answer is a failure to report, not a test that hangs.
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as ProbeAnswer['body'] };
}

/** Polls `url` until `accept` holds for its answer, or fails with the last answer. */
async function until(
  url: string,
  accept: (answer: ProbeAnswer) => boolean,
  timeoutMs = 20_000,
): Promise<ProbeAnswer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await probe(url);
    if (accept(answer)) return answer;
    if (Date.now() > deadline) throw new Error(`${url} still answers ${JSON.stringify(answer)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('serve readiness and health', () => {
  it('is unavailable while Redis is down and ready again once it is back; healthy throughout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-readiness-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    const config = loadConfig({
      REDIS_URL: redis.url,
      LAKE_URL: `file://${join(dir, 'lake')}`,
      HOST: '127.0.0.1',
      PORT: '0',
      KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? 'localhost:9092',
      // A topic that does not exist, as on a fresh stack: /v1/status must answer anyway.
      TANDEM_TOPIC: `readiness-${redis.port}-${Date.now()}`,
      LOG_LEVEL: 'silent',
    });
    const platform = new Platform(config, pino({ level: 'silent' }));
    cleanups.push(() => platform.close());
    let url = '';
    const serving: Running = await platform
      .serveStarter((address) => {
        url = address;
      })
      .start();
    cleanups.push(() => serving.stop());

    const ready = await probe(`${url}/readyz`);
    expect(ready.status).toBe(200);
    // `serve` alone consumes nothing, so Kafka is not one of its dependencies.
    expect(Object.keys(ready.body.checks).sort()).toEqual(['lake', 'redis']);
    const healthy = await probe(`${url}/healthz`);
    expect(healthy).toEqual({
      status: 200,
      body: { status: 'ok', checks: { 'recompute jobs': { ok: true, detail: '0 running, 0 queued' } } },
    });

    for (let restart = 1; restart <= 2; restart++) {
      await redis.stop();
      const down = await until(`${url}/readyz`, (answer) => answer.status === 503);
      expect(down.body).toMatchObject({
        status: 'unavailable',
        checks: { redis: { ok: false, error: 'redis is not reachable' }, lake: { ok: true } },
      });
      expect((await probe(`${url}/healthz`)).status).toBe(200);
      await redis.start();
      const back = await until(`${url}/readyz`, (answer) => answer.status === 200);
      expect(back.body).toMatchObject({
        status: 'ready',
        checks: { redis: { ok: true }, lake: { ok: true } },
      });
    }
    // Answers that need Redis work again too: the status route reads the batch status record there.
    // (It also asks Kafka for the lag of the `events` topic, which does not exist on a fresh stack:
    // that must not hold the answer up.)
    const status = await fetch(`${url}/v1/status`, { signal: AbortSignal.timeout(30_000) });
    expect(status.status).toBe(200);
    expect(
      ((await status.json()) as { views: Array<{ error: string | null }> }).views.map((view) => view.error),
    ).toEqual([null, null, null]);
  }, 90_000);
});

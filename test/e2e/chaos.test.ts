// Chaos on a private stack (issue 16): while traffic flows through `tandem up`, Redis is killed with
// SIGKILL and restarted twice, then the Kafka broker, then the S3 server during archiver uploads and
// batch publishes. Nobody restarts Tandem. After each restart the served answers must come back to
// the generator's truth exactly, hour by hour and endpoint by endpoint: 0 lost, 0 double-counted.
// The stack is this file's own (test/support/private-stack.ts), so the shared one never sees a kill.
import { HOUR_MS, hourStart } from '@tandem/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.ts';
import { PrivateStack, type StackService } from '../support/private-stack.ts';
import { eventually, World } from './cli/harness.ts';
import { servedRequests } from './cli/served-requests.ts';
import { regenerate } from './cli/truth.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('chaos: Tandem heals from Redis, Kafka and S3 restarts by itself', () => {
  let stack: PrivateStack;
  let world: World;
  let baseUrl: string;
  let up: ReturnType<World['start']>;
  const now = Date.now();
  const currentHour = hourStart(now);
  const firstHour = currentHour - 2 * HOUR_MS;
  // The traffic, in five consecutive slices of event time from firstHour to a minute ago: one
  // slice before each chaos step and one after the last.
  const sliceCount = 5;
  const sliceMs = Math.floor((now - 60_000 - firstHour) / sliceCount / 1000) * 1000;
  let sent = 0;
  // requests per hour and endpoint of every distinct valid event sent so far
  const truth = new Map<number, Map<string, number>>();
  const seen = new Set<string>();
  const kills: Record<StackService, number> = { kafka: 0, redis: 0, s3proxy: 0 };

  beforeAll(async () => {
    stack = await PrivateStack.start();
    const port = await freePort();
    world = new World({
      ...stack.env,
      LAKE_URL: `s3://tandem/chaos-${Date.now()}`,
      PORT: String(port),
      // every event of the slices is on time for the speed layer, so both layers count them all
      SPEED_ALLOWED_LATENESS_MS: String(3 * HOUR_MS),
      BATCH_LATENESS_MS: '0',
      BATCH_HOURLY_CRON: '*/5 * * * * *',
      LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
    });
    baseUrl = `http://127.0.0.1:${port}`;
    up = world.start(['up']);
    await eventually('tandem up to serve', async () =>
      (await probe('/healthz')) === 200 ? true : undefined,
    );
  }, 240_000);

  afterAll(async () => {
    const code = await up?.stop();
    await world?.cleanup().catch(() => {});
    stack?.stop();
    process.stderr.write(`chaos kills: ${JSON.stringify(kills)}\n`);
    expect(code).toBe(0);
  }, 120_000);

  async function probe(path: string): Promise<number> {
    try {
      return (await fetch(`${baseUrl}${path}`)).status;
    } catch {
      return 0;
    }
  }

  /** Puts the next slice of traffic on Kafka (duplicates and poison included) and adds it to the truth. */
  async function sendSlice(): Promise<void> {
    const start = firstHour + sent * sliceMs;
    sent += 1;
    const generated = await world.json<{ options: Parameters<typeof regenerate>[0] }>([
      'generate',
      '--to',
      'kafka',
      '--burst',
      '--start',
      String(start),
      '--duration',
      `${sliceMs / 1000}s`,
      '--rate',
      '1',
      '--duplicates',
      '2%',
      '--bad',
      '1%',
      '--seed',
      String(100 + sent),
    ]);
    for (const record of regenerate(generated.options)) {
      if (record.event === null || record.label !== 'valid' || seen.has(record.event.event_id)) continue;
      seen.add(record.event.event_id);
      const hour = hourStart(record.event.timestamp);
      const perEndpoint = truth.get(hour) ?? new Map<string, number>();
      perEndpoint.set(record.event.endpoint, (perEndpoint.get(record.event.endpoint) ?? 0) + 1);
      truth.set(hour, perEndpoint);
    }
  }

  function kill(service: StackService): void {
    stack.kill(service);
    kills[service] += 1;
  }

  /** What serving answers per hour and endpoint, and which source served each hour (oldest first). */
  async function served(): Promise<{ byHour: Map<number, Map<string, number>>; sources: string[] }> {
    const { byHour, sources } = await servedRequests(baseUrl, firstHour, currentHour);
    return { byHour, sources: [...sources].sort((a, b) => a[0] - b[0]).map(([, source]) => source) };
  }

  /** `/healthz` answers 200 and names every component of `tandem up` healthy. */
  async function expectHealthy(): Promise<void> {
    const response = await fetch(`${baseUrl}/healthz`);
    const body = (await response.json()) as { checks: Record<string, { ok: boolean }> };
    expect(response.status).toBe(200);
    expect(Object.keys(body.checks)).toEqual(
      expect.arrayContaining(['speed layer (events)', 'archiver (events)', 'batch scheduler']),
    );
    expect(Object.values(body.checks).every((check) => check.ok)).toBe(true);
  }

  /** Waits until every hour's answer equals the truth of what was sent; fails with the last difference. */
  async function expectExact(what: string): Promise<string[]> {
    let last = '';
    try {
      return await eventually(
        `${what}: answers equal to the truth`,
        async () => {
          const { byHour, sources } = await served();
          const hours = [...new Set([...truth.keys(), ...byHour.keys()])].sort((a, b) => a - b);
          const wrong = hours.filter(
            (hour) =>
              JSON.stringify([...(byHour.get(hour) ?? new Map()).entries()].sort()) !==
              JSON.stringify([...(truth.get(hour) ?? new Map()).entries()].sort()),
          );
          last = wrong
            .map((hour) => {
              const sum = (m?: Map<string, number>) => [...(m?.values() ?? [])].reduce((a, b) => a + b, 0);
              return `${new Date(hour).toISOString()}: served ${sum(byHour.get(hour))}, truth ${sum(truth.get(hour))}`;
            })
            .join('; ');
          return wrong.length === 0 ? sources : undefined;
        },
        150_000,
        1_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; last difference: ${last}`);
    }
  }

  it('Redis killed and restarted twice: the views are rebuilt exactly', async () => {
    for (let round = 0; round < 2; round++) {
      await sendSlice();
      await sleep(2_000);
      kill('redis');
      await sleep(2_000);
      stack.up();
      await expectExact(`after Redis restart ${round + 1}`);
      expect(await probe('/readyz')).toBe(200);
      await expectHealthy();
    }
  }, 420_000);

  it('the Kafka broker killed and restarted: consumption resumes with nothing lost or doubled', async () => {
    await sendSlice();
    await sleep(1_000);
    kill('kafka');
    await sleep(3_000);
    stack.up();
    await expectExact('after the Kafka restart');
    await expectHealthy();
  }, 240_000);

  it('the S3 server killed during archiver uploads and batch publishes: both resume, sealed hours exact', async () => {
    await sendSlice();
    await sleep(3_000);
    kill('s3proxy');
    await sleep(5_000);
    stack.up();
    await sendSlice();
    const sources = await expectExact('after the S3 restart');
    // The oldest hour is complete and archived long before the end: the batch layer sealed it.
    await eventually('the oldest hour to be served from batch', async () =>
      (await served()).sources[0] === 'batch' ? true : undefined,
    );
    expect(sources).toHaveLength(3);
    await expectExact('with the oldest hour sealed');
    expect(sent).toBe(sliceCount);
  }, 300_000);
});

// The real platform for the dashboard test, run as a user would, through the `tandem` command:
// generated traffic into the lake and Kafka, batch hours published with `tandem recompute` /
// `tandem batch run`, and `tandem serve` + `tandem speed` as separate processes so the speed layer
// can be stopped on its own. Everything lives under a fresh topic, Redis prefix and lake directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HOUR_MS } from '@tandem/core';
import { Redis } from 'ioredis';
import { deleteTopics, topicWithSideTopics } from '../../support/kafka.ts';
import { freePort } from '../../support/net.ts';
import { deleteKeys } from '../../support/redis.ts';
import { kafkaClient, redisUrl } from '../../support/stack.ts';
import { apiClient, type DashboardBackend } from './backend.ts';

const tandemBin = resolve(fileURLToPath(new URL('../../../packages/cli/bin/tandem', import.meta.url)));

function delay(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

interface Proc {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** Seeds and starts the platform; see the file comment. */
export async function startLiveBackend(
  options: { rate?: number; seed?: number; sealedHours?: number } = {},
): Promise<DashboardBackend> {
  const rate = options.rate ?? 2;
  const seed = options.seed ?? 20_240_501;
  const sealedHours = options.sealedHours ?? 3;
  const id = randomUUID().slice(0, 8);
  const dir = await mkdtemp(join(tmpdir(), `tandem-dashboard-${id}-`));
  const apiKey = `dash-${randomUUID()}`;
  const port = await freePort();
  const topic = `test-dashboard-${id}`;
  const prefix = `test-dashboard-${id}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TANDEM_TOPIC: topic,
    REDIS_PREFIX: prefix,
    LAKE_URL: `file://${dir}/lake`,
    SPEED_GROUP_ID: `${prefix}-speed`,
    TANDEM_API_KEYS: `dashboard:read:${apiKey}`,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    NO_COLOR: '1',
  };
  const processes: Proc[] = [];
  const logFiles: string[] = [];

  function start(name: string, args: string[]): Proc {
    const logFile = join(dir, `${name}.log`);
    logFiles.push(logFile);
    const log = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(tandemBin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const proc = { name, child, exited };
    processes.push(proc);
    return proc;
  }

  /** Runs one `tandem` command to completion; throws with its output when it fails. */
  async function run(name: string, args: string[]): Promise<void> {
    const proc = start(name, args);
    const code = await proc.exited;
    processes.splice(processes.indexOf(proc), 1);
    if (code !== 0) {
      const output = await readFile(join(dir, `${name}.log`), 'utf8').catch(() => '');
      throw new Error(`tandem ${args.join(' ')} exited with ${code}:\n${output.slice(-4000)}`);
    }
  }

  async function stop(proc: Proc, timeoutMs = 15_000): Promise<void> {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    proc.child.kill('SIGTERM');
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
    await proc.exited;
    clearTimeout(timer);
    processes.splice(processes.indexOf(proc), 1);
  }

  const url = `http://127.0.0.1:${port}`;
  const api = apiClient(url, apiKey);
  const currentHour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  const firstHour = currentHour - (sealedHours + 2) * HOUR_MS;
  let traffic: Proc | null = null;
  let speed: Proc | null = null;
  let trafficRuns = 0;

  const backend: DashboardBackend = {
    live: true,
    url,
    apiKey,
    api,
    async publishNextHour() {
      const before = (await api('/v1/status', {})).views.find(
        (v: { view: string }) => v.view === 'endpoint_hourly',
      ).sealedThrough as string;
      const hour = Date.parse(before);
      await run(`batch-run-${hour}`, [
        'batch',
        'run',
        '--view',
        'endpoint_hourly',
        '--hour',
        new Date(hour).toISOString(),
      ]);
      return hour + HOUR_MS;
    },
    async stopSpeed() {
      if (speed) await stop(speed);
      speed = null;
    },
    startTraffic(trafficRate) {
      trafficRuns += 1;
      traffic = start(`traffic-${trafficRuns}`, [
        'generate',
        '--to',
        'kafka',
        '--rate',
        String(trafficRate),
        '--duration',
        '1h',
        '--seed',
        String(seed + trafficRuns),
        '--diurnal',
        '0',
      ]);
    },
    async stopTraffic() {
      if (traffic) await stop(traffic);
      traffic = null;
    },
    async waitForSpeedIdle(timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      let last = -1;
      while (Date.now() < deadline) {
        const status = (await api('/v1/status', {})).speed;
        const lag = (status.partitions as Array<{ lag: number | null }>).reduce(
          (s, p) => s + (p.lag ?? 1),
          0,
        );
        if (status.partitions.length > 0 && lag === 0 && status.eventsApplied === last) return;
        last = status.eventsApplied;
        await delay(1000);
      }
      throw new Error(`the speed layer did not catch up within ${timeoutMs} ms:\n${await backend.logs()}`);
    },
    async logs() {
      const parts = await Promise.all(
        logFiles.map(async (file) => {
          const text = await readFile(file, 'utf8').catch(() => '');
          return text === '' ? '' : `--- ${file}\n${text.slice(-3000)}`;
        }),
      );
      return parts.filter(Boolean).join('\n');
    },
    async close() {
      const errors: unknown[] = [];
      for (const proc of [...processes].reverse())
        await stop(proc).catch((error: unknown) => errors.push(error));
      await cleanUp(topic, prefix).catch((error: unknown) => errors.push(error));
      await rm(dir, { recursive: true, force: true }).catch((error: unknown) => errors.push(error));
      if (errors.length > 0) throw new AggregateError(errors, 'stopping the dashboard test stack failed');
    },
  };

  const began = Date.now();
  const timings: string[] = [];
  const step = async (name: string, work: () => Promise<void>) => {
    const at = Date.now();
    await work();
    timings.push(`${name} ${((Date.now() - at) / 1000).toFixed(1)}s`);
  };
  try {
    // Past hours: the same stream (same seed and start) into the lake for the batch layer and into
    // Kafka for the speed layer, so both layers hold the same events and agree.
    const trafficArgs = ['--rate', String(rate), '--seed', String(seed), '--diurnal', '0'];
    const seedStart = new Date(firstHour).toISOString();
    // Two lanes at once (each `tandem` start costs seconds): lake → batch seal, and Kafka → the
    // speed worker. The server starts meanwhile; it reads whatever the layers have when asked.
    const serveReady = step('serve', async () => {
      start('serve', ['serve']);
      const deadline = Date.now() + 90_000;
      for (;;) {
        const ok = await fetch(`${url}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`tandem serve did not answer on ${url}`);
        await delay(250);
      }
    });
    const batchLane = (async () => {
      await step('lake', () =>
        run('seed-lake', [
          'generate',
          '--to',
          'lake',
          '--start',
          seedStart,
          '--duration',
          `${sealedHours + 1}h`,
          ...trafficArgs,
        ]),
      );
      await step('seal', () =>
        run('seal', [
          'recompute',
          '--view',
          'endpoint_hourly',
          '--from',
          seedStart,
          '--to',
          new Date(firstHour + sealedHours * HOUR_MS).toISOString(),
        ]),
      );
    })();
    const speedLane = (async () => {
      // Creates the topics too, before the speed worker looks for them.
      await step('kafka', () =>
        run('seed-kafka', [
          'generate',
          '--to',
          'kafka',
          '--burst',
          '--start',
          seedStart,
          '--duration',
          `${Math.floor((Date.now() - firstHour) / 1000) - 5}s`,
          ...trafficArgs,
        ]),
      );
      speed = start('speed', ['speed']);
    })();
    const lanes = await Promise.allSettled([serveReady, batchLane, speedLane]);
    const failed = lanes.find((lane) => lane.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    await step('speed caught up', () => backend.waitForSpeedIdle());
    console.log(
      `dashboard test stack ready in ${((Date.now() - began) / 1000).toFixed(1)}s: ${timings.join(', ')}`,
    );
  } catch (error) {
    const logs = await backend.logs();
    await backend.close().catch(() => {});
    throw new Error(`starting the dashboard test stack failed: ${String(error)}\n${logs}`);
  }
  return backend;
}

/** Deletes the test's topics and Redis keys. */
async function cleanUp(topic: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true });
  const admin = kafkaClient('tandem-dashboard-test').admin();
  const errors: unknown[] = [];
  try {
    await redis.connect();
    await deleteKeys(redis, `${prefix}*`);
  } catch (error) {
    errors.push(error);
  } finally {
    redis.disconnect();
  }
  try {
    await admin.connect();
    await deleteTopics(admin, topicWithSideTopics(topic));
  } catch (error) {
    errors.push(error);
  } finally {
    await admin.disconnect().catch(() => {});
  }
  if (errors.length > 0) throw new AggregateError(errors, 'cleaning up the dashboard test stack failed');
}

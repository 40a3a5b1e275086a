// A second local stack (Kafka, Redis, S3Proxy) for tests that kill services: its own data directory
// and ports, started and stopped by `scripts/stack` itself, so a test can SIGKILL a broker or a
// Redis without touching the shared stack that the other test files are using at the same time.
// The Kafka and S3Proxy jars are the shared stack's (linked, not downloaded again).
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './net.ts';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const stackScript = join(repoRoot, 'scripts/stack');
/** Where the shared stack keeps its data and cached jars (scripts/lib.sh's default). */
const sharedData = process.env.TANDEM_DATA ?? join(repoRoot, '.data');

export type StackService = 'kafka' | 'redis' | 's3proxy';

export class PrivateStack {
  readonly dataDir: string;
  /** The variables every `tandem` component and `scripts/stack` read to reach this stack. */
  readonly env: Record<string, string>;

  private constructor(dataDir: string, ports: { kafka: number; redis: number; s3: number }) {
    this.dataDir = dataDir;
    this.env = {
      TANDEM_DATA: dataDir,
      KAFKA_BROKERS: `localhost:${ports.kafka}`,
      REDIS_URL: `redis://127.0.0.1:${ports.redis}`,
      S3_ENDPOINT: `http://127.0.0.1:${ports.s3}`,
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'tandem',
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'tandemsecret',
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    };
  }

  /** Starts a new stack on free ports; `stop()` ends it and deletes its data. */
  static async start(): Promise<PrivateStack> {
    const dataDir = mkdtempSync(join(tmpdir(), 'tandem-private-stack-'));
    for (const service of ['kafka', 's3proxy']) {
      const jars = join(sharedData, service, 'lib');
      mkdirSync(join(dataDir, service), { recursive: true });
      if (existsSync(jars)) symlinkSync(jars, join(dataDir, service, 'lib'));
    }
    // Kafka's controller takes the broker's port + 1: find a free pair.
    let kafka = await freePort();
    while (kafka >= 65535 || !(await portIsFree(kafka + 1))) kafka = await freePort();
    const stack = new PrivateStack(dataDir, { kafka, redis: await freePort(), s3: await freePort() });
    stack.up();
    return stack;
  }

  /** `scripts/stack up`: starts whatever is down and waits until everything is healthy. */
  up(): void {
    this.#stack('up');
  }

  /** SIGKILL one service, as a crash or an OOM kill would. */
  kill(service: StackService): void {
    killService(this.dataDir, service);
  }

  /** Stops every service of this stack and deletes its data. */
  stop(): void {
    try {
      this.#stack('down');
    } finally {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }

  #stack(command: string): void {
    const result = spawnSync(stackScript, [command], {
      env: { ...process.env, ...this.env },
      encoding: 'utf8',
      timeout: 180_000,
    });
    if (result.status !== 0) {
      throw new Error(
        `scripts/stack ${command} failed (${result.status ?? result.signal}):\n${result.stderr}`,
      );
    }
  }
}

/** Whether a local port can be bound right now. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.once('error', () => resolvePromise(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePromise(true)));
  });
}

/**
 * SIGKILLs a service of a stack data dir by its pid file, as a crash or an OOM kill would, and
 * waits (up to 10 s) until it is gone, so a following `scripts/stack up` sees it down.
 */
export function killService(dataDir: string, service: string): void {
  const pid = Number(readFileSync(join(dataDir, 'run', `${service}.pid`), 'utf8').trim());
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    spawnSync('sleep', ['0.1']);
  }
  throw new Error(`${service} (pid ${pid}) still runs 10 s after SIGKILL`);
}

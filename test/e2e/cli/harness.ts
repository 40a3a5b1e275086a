// The cli end-to-end harness: every test gets its own topic, Redis prefix, consumer groups and lake
// directory, and drives the platform only through the built `tandem` command in child processes,
// as an operator would. Whatever it starts it stops in teardown.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type TandemConfig } from '@tandem/core';
import { Cluster, Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const tandemBin = join(repoRoot, 'packages/cli/bin/tandem');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One isolated world on the shared stack. */
export class World {
  readonly id = `t${randomUUID().slice(0, 8)}`;
  readonly lakeDir = mkdtempSync(join(tmpdir(), `tandem-e2e-${this.id}-`));
  readonly env: Record<string, string>;
  readonly #children = new Set<ChildProcess>();
  #redis: Redis | Cluster | null = null;

  constructor(extraEnv: Record<string, string> = {}) {
    this.env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? 'localhost:9092',
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      ...(process.env.REDIS_CLUSTER_NODES ? { REDIS_CLUSTER_NODES: process.env.REDIS_CLUSTER_NODES } : {}),
      TANDEM_TOPIC: `e2e-${this.id}`,
      REDIS_PREFIX: `e2e-${this.id}`,
      SPEED_GROUP_ID: `e2e-${this.id}-speed`,
      LAKE_URL: `file://${this.lakeDir}`,
      LOG_LEVEL: 'warn',
      NO_COLOR: '1',
      ...(process.env.NODE_OPTIONS ? { NODE_OPTIONS: process.env.NODE_OPTIONS } : {}),
      ...extraEnv,
    };
  }

  get config(): TandemConfig {
    return loadConfig(this.env);
  }

  /** A client of the world's Redis: its cluster when REDIS_CLUSTER_NODES is set, else REDIS_URL. */
  async redis(): Promise<Redis | Cluster> {
    const nodes = this.env.REDIS_CLUSTER_NODES;
    this.#redis ??= nodes
      ? new Cluster(
          nodes.split(',').map((node) => {
            const at = node.lastIndexOf(':');
            return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
          }),
        )
      : new Redis(this.env.REDIS_URL!);
    return this.#redis;
  }

  /** Runs `tandem …` to completion. */
  run(
    args: string[],
    options: { env?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<CliResult> {
    const child = this.#spawn(args, options.env);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`tandem ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
      }, options.timeoutMs ?? 90_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        this.#children.delete(child);
        resolvePromise({ code, stdout, stderr });
      });
    });
  }

  /** Runs `tandem … --json` and parses stdout; throws with stderr on a non-zero exit. */
  async json<T = unknown>(
    args: string[],
    options: { env?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<T> {
    const result = await this.run([...args, '--json'], options);
    if (result.code !== 0) {
      throw new Error(`tandem ${args.join(' ')} exited ${result.code}\n${result.stderr}\n${result.stdout}`);
    }
    return JSON.parse(result.stdout) as T;
  }

  /** Starts a long-running `tandem …`; `stop()` sends SIGTERM and waits for a clean exit. */
  start(
    args: string[],
    env: Record<string, string> = {},
  ): {
    stop(): Promise<number | null>;
    signal(name: NodeJS.Signals): void;
    output(): string;
    /** Settles when the process exits, with its exit code (null when a signal ended it). */
    exited: Promise<number | null>;
    pid: number | undefined;
  } {
    const child = this.#spawn(args, env);
    let output = '';
    const debugLog = process.env.DEBUG_E2E ? `/tmp/e2e-${this.id}-${child.pid}.log` : null;
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (debugLog) appendFileSync(debugLog, chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (debugLog) appendFileSync(debugLog, chunk);
    });
    const exited = new Promise<number | null>((resolvePromise) =>
      child.on('exit', (code) => resolvePromise(code)),
    );
    let signalled = false;
    return {
      exited,
      pid: child.pid,
      output: () => output,
      signal: (name) => {
        signalled = true;
        child.kill(name);
      },
      /** SIGTERM (unless a signal was already sent), then wait; SIGKILL after 30 s. */
      stop: async () => {
        if (child.exitCode === null && !signalled) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        const code = await exited;
        clearTimeout(timer);
        this.#children.delete(child);
        return code;
      },
    };
  }

  #spawn(args: string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn(tandemBin, args, {
      cwd: repoRoot,
      env: { ...this.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#children.add(child);
    return child;
  }

  /** Stops every child, deletes the world's Redis keys, Kafka topics and lake directory. */
  async cleanup(): Promise<void> {
    for (const child of this.#children) if (child.exitCode === null) child.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const redis = await this.redis();
    // every master of a cluster; one key at a time, as keys of one node span many slots
    for (const node of redis instanceof Cluster ? redis.nodes('master') : [redis]) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${this.env.REDIS_PREFIX}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await node.pipeline(keys.map((key) => ['unlink', key])).exec();
      } while (cursor !== '0');
    }
    redis.disconnect();
    rmSync(this.lakeDir, { recursive: true, force: true });
    const admin = new Kafka({
      brokers: this.env.KAFKA_BROKERS!.split(','),
      logLevel: logLevel.NOTHING,
    }).admin();
    try {
      await admin.connect();
      const topic = this.env.TANDEM_TOPIC!;
      const mine = (await admin.listTopics()).filter(
        (t) => t === topic || t === `${topic}.dlq` || t === `${topic}.late`,
      );
      if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    } catch {
      // A topic left behind costs disk, not correctness: every world uses its own names.
    } finally {
      await admin.disconnect();
    }
  }
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: last });
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

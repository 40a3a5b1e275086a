// A private Redis Cluster and a private multi-broker Kafka for tests that need real clusters: each
// is started by `scripts/stack up --redis-cluster` / `--kafka-brokers N` itself, in its own data
// directory and on free ports, so a suite never depends on (or disturbs) the shared stack, and its
// processes end with the suite. The Kafka jars are the shared stack's (linked, not downloaded again).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster } from 'ioredis';
import { freePort } from './net.ts';
import { killService } from './private-stack.ts';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const stackScript = join(repoRoot, 'scripts/stack');
const sharedData = process.env.TANDEM_DATA ?? join(repoRoot, '.data');

/** A 3-master Redis Cluster of Debian's redis-server on loopback. `stop()` ends it and deletes its data. */
export class PrivateRedisCluster {
  readonly dataDir: string;
  readonly ports: number[];
  /** `REDIS_CLUSTER_NODES` of this cluster: `127.0.0.1:<port>,…`. */
  readonly nodes: string;

  private constructor(dataDir: string, ports: number[]) {
    this.dataDir = dataDir;
    this.ports = ports;
    this.nodes = ports.map((port) => `127.0.0.1:${port}`).join(',');
  }

  static async start(masters = 3): Promise<PrivateRedisCluster> {
    const dataDir = mkdtempSync(join(tmpdir(), 'tandem-redis-cluster-'));
    const ports: number[] = [];
    while (ports.length < masters) {
      const port = await freePort();
      // each node's cluster bus listens on its port ± 10000 (scripts/stack's rule)
      const bus = port <= 55535 ? port + 10000 : port - 10000;
      if (!ports.includes(port) && (await portIsFree(bus))) ports.push(port);
    }
    const cluster = new PrivateRedisCluster(dataDir, ports);
    try {
      stack(['up', '--redis-cluster'], { TANDEM_DATA: dataDir, REDIS_CLUSTER_NODES: cluster.nodes });
    } catch (error) {
      cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** A plain ioredis Cluster client of it, for a test's own checks; the caller quits it. */
  client(): Cluster {
    return new Cluster(
      this.ports.map((port) => ({ host: '127.0.0.1', port })),
      { redisOptions: { maxRetriesPerRequest: 3 } },
    );
  }

  /**
   * SIGKILLs master `index` (1-based), as a crash or an OOM kill would, and waits until it is gone.
   * It has no persistence: restarted by `up()`, it rejoins with its slots (its nodes.conf is kept)
   * and none of its keys.
   */
  kill(index: number): Promise<void> {
    killService(this.dataDir, `redis-cluster-${index}`);
    return Promise.resolve();
  }

  /** `scripts/stack up --redis-cluster`: restarts the nodes that are down and waits for cluster_state:ok. */
  up(): Promise<void> {
    return stackAsync(['up', '--redis-cluster'], {
      TANDEM_DATA: this.dataDir,
      REDIS_CLUSTER_NODES: this.nodes,
    });
  }

  stop(): void {
    try {
      stack(['down', '--redis-cluster'], { TANDEM_DATA: this.dataDir, REDIS_CLUSTER_NODES: this.nodes });
    } finally {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }
}

/** N KRaft brokers on loopback, topics replicated 3 times with min.insync.replicas 2. */
export class PrivateKafkaCluster {
  readonly dataDir: string;
  readonly firstPort: number;
  readonly brokerCount: number;
  /** `KAFKA_BROKERS` of this cluster. */
  readonly brokers: string;

  private constructor(dataDir: string, firstPort: number, brokerCount: number) {
    this.dataDir = dataDir;
    this.firstPort = firstPort;
    this.brokerCount = brokerCount;
    this.brokers = Array.from({ length: brokerCount }, (_, i) => `localhost:${firstPort + 2 * i}`).join(',');
  }

  static async start(brokerCount = 3): Promise<PrivateKafkaCluster> {
    const dataDir = mkdtempSync(join(tmpdir(), 'tandem-kafka-cluster-'));
    const jars = join(sharedData, 'kafka', 'lib');
    mkdirSync(join(dataDir, 'kafka'), { recursive: true });
    if (existsSync(jars)) symlinkSync(jars, join(dataDir, 'kafka', 'lib'));
    // broker i on firstPort + 2i, its controller on the next port: find 2N free ports in a row
    let firstPort = 0;
    for (let attempt = 0; attempt < 50 && firstPort === 0; attempt++) {
      const candidate = 20_000 + 2 * Math.floor(Math.random() * 5_000);
      const ports = Array.from({ length: 2 * brokerCount }, (_, i) => candidate + i);
      if ((await Promise.all(ports.map(portIsFree))).every(Boolean)) firstPort = candidate;
    }
    if (firstPort === 0) throw new Error(`no ${2 * brokerCount} free ports in a row for the Kafka cluster`);
    const cluster = new PrivateKafkaCluster(dataDir, firstPort, brokerCount);
    try {
      stack(['up', '--kafka-brokers', String(brokerCount)], cluster.#env());
    } catch (error) {
      cluster.stop();
      throw error;
    }
    return cluster;
  }

  #env(): Record<string, string> {
    return { TANDEM_DATA: this.dataDir, KAFKA_CLUSTER_PORT: String(this.firstPort) };
  }

  /** SIGKILLs broker `index` (1-based) and waits until it is gone; `up()` starts it again on its data. */
  kill(index: number): Promise<void> {
    killService(this.dataDir, `kafka-cluster-${index}`);
    return Promise.resolve();
  }

  /** `scripts/stack up --kafka-brokers N`: restarts the brokers that are down and waits until all N are seen. */
  up(): Promise<void> {
    return stackAsync(['up', '--kafka-brokers', String(this.brokerCount)], this.#env());
  }

  stop(): void {
    try {
      stack(['down', '--kafka-brokers'], this.#env());
    } finally {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }
}

function stack(args: string[], env: Record<string, string>): void {
  const result = spawnSync(stackScript, args, {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 240_000,
  });
  if (result.status !== 0) {
    throw new Error(
      `scripts/stack ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stderr}`,
    );
  }
}

/**
 * `scripts/stack` without blocking the event loop, for restarts while a test keeps working (traffic,
 * polling) meanwhile.
 */
function stackAsync(args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(stackScript, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise();
      else reject(new Error(`scripts/stack ${args.join(' ')} failed (${code ?? signal}):\n${stderr}`));
    });
  });
}

/** Whether a local port can be bound right now. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.once('error', () => resolvePromise(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePromise(true)));
  });
}

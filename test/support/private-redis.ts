// A throwaway redis-server on a free port, for tests that kill and restart Redis or flush its
// script cache: the shared instance of the local stack is never restarted or flushed.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from './net.ts';

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /**
   * Kills the server (SIGKILL) and starts it again on the same port with the same arguments. By
   * default it keeps nothing on disk, like the stack's Redis, so every key is gone; with a `dir`
   * it loads whatever the last `SAVE` wrote there.
   */
  restart(): Promise<void>;
  /** Kills the server (SIGKILL); a no-op when it is not running. */
  stop(): Promise<void>;
  /** Starts it again on the same port after `stop`; resolves once it accepts connections. */
  start(): Promise<void>;
}

export interface PrivateRedisOptions {
  /** Extra redis-server arguments, e.g. `['--maxmemory-policy', 'allkeys-lru']`. */
  args?: string[];
  /** A directory for dump.rdb: an explicit `SAVE` persists, and a restart loads it back. */
  dir?: string;
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const { Socket } = await import('node:net');
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server did not listen on ${port}`);
}

export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (options.dir !== undefined) args.push('--dir', options.dir, '--dbfilename', 'dump.rdb');
  args.push(...(options.args ?? []));
  const launch = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    await waitForPort(port, child);
  };
  const kill = async () => {
    const running = child;
    child = null;
    if (running === null || running.exitCode !== null) return;
    running.kill('SIGKILL');
    await once(running, 'exit');
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    restart: async () => {
      await kill();
      await launch();
    },
    stop: kill,
    start: async () => {
      if (child === null) await launch();
    },
  };
}

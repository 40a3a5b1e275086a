// Starts the speed worker fixture as a child process, and stops it gracefully or with SIGKILL.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { SpeedTuning } from '../../src/options.ts';

const runner = fileURLToPath(new URL('../fixtures/speed-worker-runner.ts', import.meta.url));

export interface WorkerProcess {
  readonly child: ChildProcess;
  /** The worker's log lines (stderr), also forwarded to this process's stderr. */
  readonly logs: string[];
  /** SIGSTOP: the process freezes with its connections open, like a long GC pause or a VM stall. */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<number | null>;
  /** SIGKILL: no cleanup of any kind, like a crashed machine. */
  kill(): Promise<void>;
}

export async function startWorkerProcess(options: {
  brokers: string[];
  redisUrl: string;
  tuning: Partial<SpeedTuning>;
}): Promise<WorkerProcess> {
  // kafkajs 2.2.4 schedules timers with negative delays on Node ≥ 22: harmless, only noisy
  const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', runner], {
    env: { ...process.env, SPEED_RUNNER_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let partial = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) logs.push(line);
  });
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready\n')) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`speed worker exited with ${code} before it was ready`)));
  });
  child.stdout!.resume();
  return {
    child,
    logs,
    freeze: () => child.kill('SIGSTOP'),
    thaw: () => child.kill('SIGCONT'),
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      child.kill('SIGCONT');
      await exited;
    },
  };
}

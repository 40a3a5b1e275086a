// Runs the `tandem` command in-process with captured stdout/stderr (bytes kept, so raw messages
// written by `generate --to stdout` can be checked as they were sent), and temp config files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli.ts';

export interface CliRun {
  code: number;
  out: string;
  err: string;
  /** Stdout as bytes. */
  outBytes: Buffer;
}

export async function runTandem(
  argv: string[],
  env: Record<string, string> = {},
  now?: () => number,
): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const outChunks: Buffer[] = [];
  let err = '';
  stdout.on('data', (chunk: Buffer) => outChunks.push(chunk));
  stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const code = await runCli(argv, {
    stdout,
    stderr,
    env: { NO_COLOR: '1', ...env },
    signal: new AbortController().signal,
    ...(now === undefined ? {} : { now }),
  });
  const outBytes = Buffer.concat(outChunks);
  return { code, out: outBytes.toString(), err, outBytes };
}

/** A temp directory for config files, removed by `cleanup`. */
export function tempDir(): { dir: string; write(name: string, content: unknown): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-cli-test-'));
  return {
    dir,
    write(name, content) {
      const file = join(dir, name);
      writeFileSync(file, typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
      return file;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The IoT stream of examples/iot as JSON (without the boolean filter, so it stands alone). */
export const iotStreamSpec = {
  name: 'iot',
  topic: 'iot-readings',
  schema: {
    type: 'object',
    properties: {
      reading_id: { type: 'string', minLength: 1, maxLength: 64 },
      ts: { type: 'integer', description: 'epoch milliseconds' },
      site: { type: 'string', minLength: 1, maxLength: 64 },
      device: { type: 'string', minLength: 1, maxLength: 64 },
      kind: { type: 'string', enum: ['thermo', 'hygro', 'combo'], default: 'thermo' },
      temperature_c: { type: 'number', minimum: -90, maximum: 150 },
      humidity: { type: ['number', 'null'], minimum: 0, maximum: 100 },
      battery_low: { type: 'boolean', default: false },
    },
    required: ['reading_id', 'ts', 'site', 'device', 'temperature_c'],
  },
  time: { field: 'ts', encoding: 'epoch_ms' },
  idField: 'reading_id',
};

export const iotViewSpec = {
  name: 'site_minutely',
  stream: 'iot',
  bucket: '1m',
  dimensions: ['site'],
  measures: {
    readings: { kind: 'count' },
    avg_temperature_c: { kind: 'avg', field: 'temperature_c' },
    max_temperature_c: { kind: 'max', field: 'temperature_c' },
    temperature_c: { kind: 'quantiles', field: 'temperature_c', qs: [0.95] },
    devices: { kind: 'distinct', field: 'device' },
  },
};

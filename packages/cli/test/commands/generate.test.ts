// `tandem generate --stream S`: every line it prints to stdout is a message of that stream, and
// the validator agrees with what the generator meant — valid ones parse, `--bad` ones fail.
import { compileStreamValidator, defineStream, parseEvent, webStreamSpec, webViewSpecs } from '@tandem/core';
import { gunzipSync } from 'node:zlib';
import { openObjectStore } from '@tandem/lake';
import { afterAll, describe, expect, it } from 'vitest';
import { iotStreamSpec, iotViewSpec, runTandem, tempDir } from '../support/run-cli.ts';

const temp = tempDir();
afterAll(() => temp.cleanup());
const config = temp.write('tandem.config.json', {
  streams: [webStreamSpec, iotStreamSpec],
  views: [...webViewSpecs, iotViewSpec],
});
const env = { TANDEM_CONFIG: config };
const iot = compileStreamValidator(defineStream(iotStreamSpec as never));
const now = Date.UTC(2025, 0, 31, 14, 25);
const clock = () => now;

/** Stdout split into messages (one per line, as bytes). */
function lines(out: Buffer): Buffer[] {
  const result: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < out.length; i++) {
    if (out[i] === 0x0a) {
      result.push(out.subarray(start, i));
      start = i + 1;
    }
  }
  expect(start).toBe(out.length);
  return result;
}

describe('tandem generate --stream', () => {
  it('prints exactly --count valid events of the stream to stdout, deterministic with --seed', async () => {
    const run = await runTandem(
      ['generate', '--stream', 'iot', '--count', '40', '--to', 'stdout', '--seed', '3'],
      env,
      clock,
    );
    expect(run.code).toBe(0);
    const messages = lines(run.outBytes);
    expect(messages).toHaveLength(40);
    const ids = new Set<string>();
    for (const message of messages) {
      const verdict = iot.parse(message, { now: clock });
      expect(verdict.ok).toBe(true);
      if (verdict.ok) {
        ids.add(verdict.event.reading_id as string);
        // The range ends now (stdout's default): events of the last 40 / 50 s.
        expect(verdict.event.ts).toBeGreaterThanOrEqual(now - 800 - 5_000);
        expect(verdict.event.ts).toBeLessThanOrEqual(now);
      }
    }
    expect(ids.size).toBe(40);
    expect(run.err).toContain('wrote to stdout: 40 messages of stream iot (seed 3)');
    const again = await runTandem(
      ['generate', '--stream', 'iot', '--count', '40', '--to', 'stdout', '--seed', '3'],
      env,
      clock,
    );
    expect(again.out).toBe(run.out);
  });

  it('--bad alone prints only invalid events, each refused for the rule it breaks', async () => {
    const run = await runTandem(
      ['generate', '--stream', 'iot', '--bad', '--count', '34', '--to', 'stdout'],
      env,
      clock,
    );
    expect(run.code).toBe(0);
    const messages = lines(run.outBytes);
    expect(messages).toHaveLength(34);
    const rules = new Set<string>();
    for (const message of messages) {
      const verdict = iot.parse(message, { now: clock });
      expect(verdict.ok).toBe(false);
      if (!verdict.ok) rules.add(verdict.error.rule);
    }
    // 17 kinds, twice over: every rule the IoT schema has.
    expect([...rules].sort()).toEqual(
      [
        'enum',
        'finite',
        'format',
        'future',
        'integer',
        'json',
        'maxLength',
        'maximum',
        'minLength',
        'minimum',
      ]
        .concat(['object', 'required', 'size', 'type', 'utf8'])
        .sort(),
    );
    expect(run.err).toMatch(/bad {3}\(dead-letter queue\) {8}34/);
  });

  it('--bad <ratio> mixes invalid events in, and the summary counts every label', async () => {
    const run = await runTandem(
      [
        'generate',
        '--stream',
        'iot',
        '--count',
        '200',
        '--bad',
        '10%',
        '--duplicates',
        '5%',
        '--to',
        'stdout',
        '--seed',
        '9',
      ],
      env,
      clock,
    );
    expect(run.code).toBe(0);
    const messages = lines(run.outBytes);
    const refused = messages.filter((m) => !iot.parse(m, { now: clock }).ok).length;
    const counted = (label: string) => Number(new RegExp(`${label}[^\\n]*?(\\d+)\\n`).exec(run.err)![1]);
    expect(counted('valid')).toBe(200);
    expect(counted('bad')).toBe(refused);
    expect(refused).toBeGreaterThan(5);
    expect(messages.length).toBe(200 + refused + counted('duplicates'));
  });

  it('--to lake writes the stream’s hours under its lake prefix, invalid events left out', async () => {
    const lake = `file://${temp.dir}/lake`;
    const run = await runTandem(
      [
        'generate',
        '--stream',
        'iot',
        '--to',
        'lake',
        '--count',
        '300',
        '--rate',
        '0.1',
        '--bad',
        '5%',
        '--duplicates',
        '5%',
        '--seed',
        '2',
        '--json',
      ],
      { ...env, LAKE_URL: lake },
      clock,
    );
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.out) as {
      files: Array<{ key: string; hour: string; lines: number }>;
      truth: {
        valid: number;
        duplicates: number;
        late: number;
        bad: number;
        hours: Array<{ hour: number; valid: number }>;
      };
    };
    // 300 events 10 s apart: the 50 minutes before the current hour, in one or two hours.
    expect(summary.truth.valid).toBe(300);
    expect(summary.files.every((file) => file.key.startsWith('streams/iot/logs/dt=2025-01-31/hour=1'))).toBe(
      true,
    );
    const store = openObjectStore({ url: lake });
    try {
      let lines = 0;
      const ids = new Set<string>();
      for (const file of summary.files) {
        const body = gunzipSync((await store.get(file.key))!).toString();
        for (const line of body.trimEnd().split('\n')) {
          const verdict = iot.parse(line, { now: clock });
          expect(verdict.ok).toBe(true);
          if (verdict.ok) {
            ids.add(verdict.event.reading_id as string);
            expect(file.hour).toBe(
              `${new Date(Math.floor((verdict.event.ts as number) / 3_600_000) * 3_600_000).toISOString().slice(0, 16)}Z`,
            );
          }
          lines += 1;
        }
      }
      expect(lines).toBe(summary.truth.valid + summary.truth.late + summary.truth.duplicates);
      expect(ids.size).toBe(summary.truth.valid + summary.truth.late);
    } finally {
      await store.close();
    }
  });

  it('keeps the web stream’s shop simulation: --count and --bad alone work there too', async () => {
    const run = await runTandem(['generate', '--count', '25', '--to', 'stdout', '--seed', '4'], env, clock);
    expect(run.code).toBe(0);
    const messages = lines(run.outBytes);
    expect(messages).toHaveLength(25);
    for (const message of messages) expect(parseEvent(message, { now: clock }).ok).toBe(true);
    expect(run.err).toContain('wrote to stdout: 25 messages of stream events (seed 4)');
    const bad = await runTandem(
      ['generate', '--stream', 'events', '--bad', '--count', '12', '--to', 'stdout'],
      env,
      clock,
    );
    const verdicts = lines(bad.outBytes).map((m) => parseEvent(m, { now: clock }));
    expect(verdicts).toHaveLength(12);
    expect(verdicts.every((verdict) => !verdict.ok)).toBe(true);
  });

  it('exits 2 naming the stream, a web-only flag, or --json beside --to stdout', async () => {
    const unknown = await runTandem(['generate', '--stream', 'payments', '--to', 'stdout'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain(
      '--stream "payments" is not a stream of the config; expected one of events, iot',
    );
    const webOnly = await runTandem(
      ['generate', '--stream', 'iot', '--endpoints', '5', '--to', 'stdout'],
      env,
    );
    expect(webOnly.code).toBe(2);
    expect(webOnly.err).toContain('--endpoints applies to the web stream (events) only');
    const json = await runTandem(['generate', '--stream', 'iot', '--to', 'stdout', '--json'], env);
    expect(json.code).toBe(2);
    expect(json.err).toContain('--json can not share stdout with --to stdout');
    const burst = await runTandem(['generate', '--to', 'stdout', '--burst'], env);
    expect(burst.code).toBe(2);
  });
});

// Terminal manners of the whole command, in-process: every command has --help with examples, every
// reporting command takes --json, usage errors exit 2 and name what was wrong, bad config exits 1.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.ts';
import { commands } from '../src/commands/index.ts';

async function run(argv: string[], env: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const code = await runCli(argv, {
    stdout,
    stderr,
    env: { NO_COLOR: '1', ...env },
    signal: new AbortController().signal,
  });
  return { code, out, err };
}

describe('tandem', () => {
  it('lists every command in --help and exits 0; bare `tandem` is a usage error', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const command of commands) expect(help.out).toContain(command.path.join(' '));
    const bare = await run([]);
    expect(bare.code).toBe(2);
    expect(bare.err).toContain('Usage: tandem <command>');
    expect((await run(['batch'])).code).toBe(2);
    expect((await run(['help', 'dlq'])).out).toMatch(/dlq list[\s\S]*dlq show[\s\S]*dlq replay/);
  });

  it.each(commands.map((command) => [command.path.join(' '), command] as const))(
    '%s --help shows usage, every flag and runnable examples',
    async (name, command) => {
      const { code, out } = await run([...command.path, '--help']);
      expect(code).toBe(0);
      expect(out).toContain(`Usage: tandem ${name}`);
      for (const flag of Object.keys(command.options)) expect(out).toContain(`--${flag}`);
      expect(out).toContain(command.reports ? '--json' : '-h, --help');
      expect(command.examples.length).toBeGreaterThan(0);
      for (const example of command.examples) expect(example).toMatch(/(^|[ /])tandem /);
    },
  );

  it('exits 2 naming the wrong word, flag or value and what is accepted', async () => {
    const unknown = await run(['recompte']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "recompte"; did you mean "recompute"?');
    const flag = await run(['status', '--jsn']);
    expect(flag.code).toBe(2);
    expect(flag.err).toContain('unknown flag --jsn for tandem status; did you mean --json?');
    const view = await run(['verify', '--view', 'nope', '--hour', '-2h']);
    expect(view.code).toBe(2);
    expect(view.err).toContain(
      '--view "nope" is not a view; expected one of endpoint_hourly, sessions_hourly, trending_pages',
    );
    const missing = await run(['recompute', '--view', 'endpoint_hourly', '--from', '-3h']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('needs --to <time>');
    const range = await run(['recompute', '--view', 'endpoint_hourly', '--from', '-1h', '--to', '-3h']);
    expect(range.code).toBe(2);
    expect(range.err).toContain('--to must be after --from');
    const noJson = await run(['serve', '--json']);
    expect(noJson.code).toBe(2);
    expect(noJson.err).toContain('does not report anything, so it has no --json flag');
  });

  it('exits 1 with the variable and accepted forms when the configuration is invalid', async () => {
    const bad = await run(['status'], { REDIS_URL: 'http://x' });
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('REDIS_URL="http://x" is not valid; expected redis://');
  });
});

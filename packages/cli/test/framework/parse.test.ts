// The parser's promises: a wrong flag or value names itself and what is accepted, relative times
// pass as values, required flags are enforced, and help is always reachable.
import { describe, expect, it } from 'vitest';
import {
  defineCommand,
  flag,
  option,
  required,
  withDefault,
  withOptionalValue,
} from '../../src/framework/command.ts';
import { commandHelp } from '../../src/framework/help.ts';
import { parseInvocation, resolveCommand } from '../../src/framework/parse.ts';
import { parseTimeValue } from '../../src/framework/time.ts';
import * as v from '../../src/framework/values.ts';

const now = Date.UTC(2025, 0, 31, 14, 25);
const run = defineCommand({
  path: ['batch', 'run'],
  summary: 'run',
  options: {
    view: required(v.oneOf(['endpoint_hourly', 'sessions_hourly'] as const), {
      description: 'view',
      placeholder: 'view',
    }),
    hour: required(
      v.hour(() => now),
      { description: 'hour', placeholder: 'hour' },
    ),
    'dry-run': flag('dry'),
    limit: withDefault(v.integer(1, 10), 3, { description: 'limit' }),
    from: option(
      v.time(() => now),
      { description: 'from' },
    ),
  },
  reports: true,
  examples: [],
  run: async () => 0,
});
const schedule = defineCommand({
  path: ['batch', 'schedule'],
  summary: 's',
  options: {},
  reports: false,
  examples: [],
  run: async () => 0,
});
const commands = [run, schedule];

describe('resolveCommand', () => {
  it('finds nested commands, groups, and suggests near misses', () => {
    const resolved = resolveCommand(commands, ['batch', 'run', '--view', 'x']);
    expect(resolved.kind === 'command' && resolved.command.path).toEqual(['batch', 'run']);
    expect(resolveCommand(commands, ['batch'])).toEqual({ kind: 'group', path: ['batch'], help: false });
    expect(resolveCommand(commands, ['help', 'batch'])).toEqual({
      kind: 'group',
      path: ['batch'],
      help: true,
    });
    expect(() => resolveCommand(commands, ['batch', 'rnu'])).toThrow(
      /unknown command "batch rnu"; did you mean "batch run"\?/,
    );
  });
});

describe('parseInvocation', () => {
  const parse = (...args: string[]) => parseInvocation(run, args);

  it('parses typed values, defaults, switches and relative times', () => {
    const parsed = parse(
      '--view',
      'endpoint_hourly',
      '--hour',
      '2025-01-31T10',
      '--dry-run',
      '--from',
      '-3h',
      '--json',
    );
    expect(parsed.options).toEqual({
      view: 'endpoint_hourly',
      hour: Date.UTC(2025, 0, 31, 10),
      'dry-run': true,
      limit: 3,
      from: now - 3 * 3_600_000,
    });
    expect(parsed.json).toBe(true);
    expect(parse('--view=sessions_hourly', '--hour=-1h').options.hour).toBe(Date.UTC(2025, 0, 31, 13));
  });

  it('names the wrong flag or value and what is accepted', () => {
    expect(() => parse('--veiw', 'x')).toThrow(/unknown flag --veiw .*did you mean --view\?/);
    expect(() => parse('--view', 'nope', '--hour', 'now')).toThrow(
      /--view "nope" is not accepted; expected one of endpoint_hourly, sessions_hourly/,
    );
    expect(() => parse('--view', 'endpoint_hourly', '--hour', '2025-01-31T10:30Z')).toThrow(
      /not on an hour boundary; give the hour's start, e.g. 2025-01-31T10/,
    );
    expect(() => parse('--view', 'endpoint_hourly')).toThrow(/needs --hour <hour>/);
    expect(() => parse('--view', '--hour', 'now')).toThrow(/--view needs a value: one of/);
    expect(() => parse('--view', 'endpoint_hourly', '--hour', 'now', '--limit', '11')).toThrow(
      /--limit "11" is not valid; expected an integer from 1 to 10/,
    );
    expect(() => parse('--view', 'endpoint_hourly', '--hour', 'now', 'extra')).toThrow(
      /takes no arguments; got "extra"/,
    );
    expect(() => parse('--view', 'endpoint_hourly', '--hour', 'now', '--dry-run=yes')).toThrow(/is a switch/);
    expect(() => parseInvocation(schedule, ['--json'])).toThrow(/has no --json flag/);
  });

  it('answers --help even when required flags are missing', () => {
    expect(parse('--help').help).toBe(true);
    expect(parse('-h').help).toBe(true);
  });
});

describe('a flag whose value is optional', () => {
  const generate = defineCommand({
    path: ['generate'],
    summary: 'g',
    options: {
      bad: withOptionalValue<number | 'only'>(v.ratio(), 0, 'only', {
        description: 'bad',
        placeholder: 'ratio',
        implicitText: 'only bad ones',
      }),
      count: option(v.integer(1), { description: 'count', placeholder: 'n' }),
    },
    positionals: { name: 'file', description: 'a file', min: 0, max: 1 },
    reports: true,
    examples: [],
    run: async () => 0,
  });
  const parse = (...args: string[]) => parseInvocation(generate, args);

  it('is its default when absent, the implicit value alone, and the value when one follows', () => {
    expect(parse().options.bad).toBe(0);
    expect(parse('--bad').options.bad).toBe('only');
    expect(parse('--bad', '--count', '3').options).toEqual({ bad: 'only', count: 3 });
    expect(parse('--count', '3', '--bad').options).toEqual({ bad: 'only', count: 3 });
    expect(parse('--bad', '1%').options.bad).toBe(0.01);
    expect(parse('--bad=0.5').options.bad).toBe(0.5);
    // A word that is not a ratio is the command's argument, not the flag's value.
    expect(parse('--bad', 'events.json')).toMatchObject({
      options: { bad: 'only' },
      positionals: ['events.json'],
    });
    expect(() => parse('--bad=lots')).toThrow(/--bad "lots" is not valid; expected a ratio/);
  });

  it('shows the value as optional in help, with what the flag alone means', () => {
    const help = commandHelp(generate);
    expect(help).toContain('[--bad [<ratio>]]');
    expect(help).toContain('--bad [<ratio>]');
    expect(help).toContain('alone: only bad ones');
  });
});

describe('parseTimeValue', () => {
  it('reads ISO with and without zone (UTC), hours, dates, epoch ms, now and offsets', () => {
    expect(parseTimeValue('2025-01-31T14:00:00+02:00', now)).toBe(Date.UTC(2025, 0, 31, 12));
    expect(parseTimeValue('2025-01-31T14:30', now)).toBe(Date.UTC(2025, 0, 31, 14, 30));
    expect(parseTimeValue('2025-01-31T14', now)).toBe(Date.UTC(2025, 0, 31, 14));
    expect(parseTimeValue('2025-01-31', now)).toBe(Date.UTC(2025, 0, 31));
    expect(parseTimeValue(String(now), now)).toBe(now);
    expect(parseTimeValue('now', now)).toBe(now);
    expect(parseTimeValue('-90m', now)).toBe(now - 90 * 60_000);
    expect(parseTimeValue('yesterday', now)).toBeNull();
    expect(parseTimeValue('2025-13-45', now)).toBeNull();
  });
});

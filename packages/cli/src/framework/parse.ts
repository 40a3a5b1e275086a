// Finds the subcommand in argv and parses its flags with Node's util.parseArgs. Errors name the
// flag or word that was wrong, what is accepted, and the nearest valid spelling.
import { parseArgs } from 'node:util';
import type { AnyOptionSpec, Command, OptionSpecs } from './command.ts';
import { usageError } from './usage-error.ts';

// biome-ignore lint/suspicious/noExplicitAny: commands with different option types live in one list
export type AnyCommand = Command<any>;

/** Flags every command accepts; `--json` only where the command reports something. */
export const globalFlags = {
  help: { short: 'h', description: 'show this help' },
  json: { short: null, description: 'print the result as JSON on stdout' },
} as const;

export type Resolution =
  | { kind: 'command'; command: AnyCommand; rest: string[] }
  /** A group name like `batch` or `dlq`, or nothing at all: show the group's help. */
  | { kind: 'group'; path: string[]; help: boolean };

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

export function closest(word: string, candidates: string[]): string | null {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

/** Resolves the longest command path that prefixes argv. */
export function resolveCommand(commands: AnyCommand[], argv: string[]): Resolution {
  const words: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith('-')) break;
    words.push(arg);
  }
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  if (words[0] === 'help') return resolveCommand(commands, [...words.slice(1), '--help']);
  let best: AnyCommand | null = null;
  for (const command of commands) {
    const matches = command.path.every((word, i) => words[i] === word);
    if (matches && (best === null || command.path.length > best.path.length)) best = command;
  }
  if (best) return { kind: 'command', command: best, rest: argv.slice(best.path.length) };
  // A group prefix (`tandem batch`) or nothing (`tandem`): help for what is below.
  for (let length = words.length; length >= 0; length--) {
    const prefix = words.slice(0, length);
    const below = commands.filter((command) => prefix.every((word, i) => command.path[i] === word));
    if (below.length === 0) continue;
    if (length === words.length) return { kind: 'group', path: prefix, help: wantsHelp };
    const wrong = words[length]!;
    const next = [...new Set(below.map((command) => command.path[length]).filter((w) => w !== undefined))];
    const suggestion = closest(wrong, next);
    const where = prefix.length > 0 ? `tandem ${prefix.join(' ')}` : 'tandem';
    throw usageError(
      `unknown command "${[...prefix, wrong].join(' ')}"${suggestion ? `; did you mean "${[...prefix, suggestion].join(' ')}"?` : ''} ` +
        `Commands of ${where}: ${next.join(', ')}`,
      { command: [...prefix, wrong].join(' ') },
    );
  }
  return { kind: 'group', path: [], help: wantsHelp };
}

export interface ParsedInvocation {
  options: Record<string, unknown>;
  positionals: string[];
  help: boolean;
  json: boolean;
}

/** Parses a command's flags: unknown flags, missing values and bad values are usage errors. */
export function parseInvocation(command: AnyCommand, rest: string[]): ParsedInvocation {
  const specs = command.options as OptionSpecs;
  const parseOptions: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    parseOptions[name] = {
      // A flag with an optional value is read as a switch; a value after it is taken below.
      type: spec.value && spec.implicitValue === undefined ? 'string' : 'boolean',
      ...(spec.short ? { short: spec.short } : {}),
    };
  }
  parseOptions.help = { type: 'boolean', short: 'h' };
  if (command.reports) parseOptions.json = { type: 'boolean' };
  // strict: false so values that start with "-" (relative times like -3h) are taken as values;
  // the checks strict mode would do are done below, with better messages.
  const { tokens } = parseArgs({
    args: rest,
    options: parseOptions,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const known = Object.keys(parseOptions);
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  let help = false;
  let json = false;
  const taken = new Set<number>();
  for (const [index, token] of tokens.entries()) {
    if (taken.has(index)) continue;
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === 'option-terminator') continue;
    const { name, rawName } = token;
    if (!(name in parseOptions)) {
      const suggestion = closest(name, known);
      if (name === 'json' && !command.reports) {
        throw usageError(
          `tandem ${command.path.join(' ')} does not report anything, so it has no --json flag`,
        );
      }
      throw usageError(
        `unknown flag ${rawName} for tandem ${command.path.join(' ')}` +
          (suggestion ? `; did you mean --${suggestion}?` : '') +
          ` Accepted: ${known.map((flagName) => `--${flagName}`).join(', ')}`,
        { flag: rawName },
      );
    }
    if (name === 'help') {
      help = true;
      continue;
    }
    if (name === 'json') {
      json = true;
      continue;
    }
    const spec = specs[name] as AnyOptionSpec;
    if (spec.value !== null && spec.implicitValue !== undefined) {
      // `--bad=1%`, `--bad 1%` (the next word, when it is a value of the flag), or `--bad` alone.
      if (token.value !== undefined) {
        values[name] = spec.value.parse(token.value, name);
        continue;
      }
      const next = tokens[index + 1];
      if (next?.kind === 'positional') {
        try {
          values[name] = spec.value.parse(next.value, name);
          taken.add(index + 1);
          continue;
        } catch {
          // Not a value of this flag: a positional argument of the command.
        }
      }
      values[name] = spec.implicitValue;
      continue;
    }
    if (spec.value === null) {
      if (token.value !== undefined)
        throw usageError(`${rawName} is a switch and takes no value (got "${token.value}")`);
      values[name] = true;
      continue;
    }
    // `--view --hour 3`: parseArgs took "--hour" as the view; a value never starts with "--".
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) {
      throw usageError(`${rawName} needs a value: ${spec.value.accepted}`, { flag: rawName });
    }
    const parsed = spec.value.parse(token.value, name);
    const previous = values[name];
    values[name] =
      spec.repeatable && Array.isArray(previous) && Array.isArray(parsed) ? [...previous, ...parsed] : parsed;
  }
  if (help) return { options: values, positionals, help, json };
  for (const [name, spec] of Object.entries(specs)) {
    if (values[name] !== undefined) continue;
    if (spec.required) {
      throw usageError(
        `tandem ${command.path.join(' ')} needs --${name} <${spec.placeholder}>: ${spec.value?.accepted ?? ''}`,
        { flag: `--${name}` },
      );
    }
    values[name] = spec.defaultValue;
  }
  const arity = command.positionals ?? { name: '', description: '', min: 0, max: 0 };
  if (positionals.length > arity.max) {
    const extra = positionals[arity.max]!;
    throw usageError(
      arity.max === 0
        ? `tandem ${command.path.join(' ')} takes no arguments; got "${extra}" (flags start with --)`
        : `too many arguments for tandem ${command.path.join(' ')}: "${extra}"`,
    );
  }
  if (positionals.length < arity.min) {
    throw usageError(`tandem ${command.path.join(' ')} needs <${arity.name}>: ${arity.description}`);
  }
  return { options: values, positionals, help, json };
}

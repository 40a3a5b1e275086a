// The `tandem` command as a function of argv and streams, so tests can drive it in-process; main.ts
// binds it to the real process. Exit codes: 0 ok, 1 failure, 2 usage, 130 interrupted.
import { dirname, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type Catalog, isTandemError, loadConfig, type TandemConfig } from '@tandem/core';
import { loadCatalog } from './wiring/config-file.ts';
import { commands } from './commands/index.ts';
import type { CommandContext } from './framework/command.ts';
import { commandHelp, groupHelp, usageLine } from './framework/help.ts';
import { Output } from './framework/output.ts';
import { parseInvocation, resolveCommand } from './framework/parse.ts';
import { isUsageError } from './framework/usage-error.ts';

/** The repository root: the default lake lives under it, as in every other component. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

export interface CliIo {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  env: Record<string, string | undefined>;
  signal: AbortSignal;
  now?: () => number;
}

/** Prints an error and its causes, one per line, each with its code when it has one. */
function describeError(error: unknown, verbose: boolean): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    if (current instanceof AggregateError) {
      lines.push(`${depth === 0 ? '' : 'caused by: '}${current.message}`);
      for (const inner of current.errors)
        lines.push(`  - ${describeError(inner, verbose).replace(/\n/g, '\n    ')}`);
      break;
    }
    if (current instanceof Error) {
      // A usage error's code adds nothing for the person who typed the command.
      const code = isTandemError(current)
        ? current.code === 'TANDEM_ERR_USAGE'
          ? ''
          : ` (${current.code})`
        : 'code' in current
          ? ` (${String(current.code)})`
          : '';
      lines.push(`${depth === 0 ? '' : 'caused by: '}${current.message}${code}`);
      if (verbose && current.stack) lines.push(current.stack.split('\n').slice(1).join('\n'));
      current = current.cause;
    } else {
      lines.push(`${depth === 0 ? '' : 'caused by: '}${String(current)}`);
      break;
    }
  }
  return lines.join('\n');
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const verbose = io.env.TANDEM_DEBUG === '1' || io.env.TANDEM_DEBUG === 'true';
  const json = argv.includes('--json');
  const out = new Output({ stdout: io.stdout, stderr: io.stderr, json, env: io.env });
  let resolution: ReturnType<typeof resolveCommand>;
  try {
    resolution = resolveCommand(commands, argv);
  } catch (error) {
    out.error(describeError(error, false));
    out.info('Run `tandem --help` for the list of commands.');
    return EXIT_USAGE;
  }
  if (resolution.kind === 'group') {
    const text = groupHelp(commands, resolution.path);
    // `tandem --help` is a request; bare `tandem` or `tandem batch` is a usage error.
    if (resolution.help) {
      io.stdout.write(text);
      return EXIT_OK;
    }
    io.stderr.write(text);
    return EXIT_USAGE;
  }
  const { command, rest } = resolution;
  let parsed: ReturnType<typeof parseInvocation>;
  try {
    parsed = parseInvocation(command, rest);
  } catch (error) {
    out.error(describeError(error, false));
    out.info(
      `Usage: ${usageLine(command)}\nRun \`tandem ${command.path.join(' ')} --help\` for details and examples.`,
    );
    return EXIT_USAGE;
  }
  if (parsed.help) {
    io.stdout.write(commandHelp(command, Math.min(110, io.stdout.columns ?? 100)));
    return EXIT_OK;
  }
  let config: TandemConfig | null = null;
  let catalog: Promise<Catalog> | null = null;
  const context: CommandContext = {
    out: new Output({ stdout: io.stdout, stderr: io.stderr, json: parsed.json, env: io.env }),
    signal: io.signal,
    env: io.env,
    now: io.now ?? Date.now,
    root: repoRoot,
    config: () => {
      config ??= loadConfig(io.env, { lakeDir: `${repoRoot}/.data/lake` });
      return config;
    },
    catalog: () => {
      catalog ??= loadCatalog(io.env, context.config()).then((loaded) => loaded.catalog);
      return catalog;
    },
  };
  try {
    const code = await command.run(context, parsed.options, parsed.positionals);
    return code ?? EXIT_OK;
  } catch (error) {
    if (io.signal.aborted && isAbortLike(error)) {
      context.out.error(`interrupted; ${describeError(error, false)}`);
      return EXIT_INTERRUPTED;
    }
    if (isUsageError(error)) {
      context.out.error(describeError(error, false));
      context.out.info(`Usage: ${usageLine(command)}`);
      return EXIT_USAGE;
    }
    context.out.error(describeError(error, verbose));
    if (!verbose) context.out.info('(set TANDEM_DEBUG=1 for stack traces)');
    return EXIT_FAILURE;
  }
}

function isAbortLike(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name === 'AbortError' || /interrupted by SIG/.test(error.message) || isAbortLike(error.cause);
}

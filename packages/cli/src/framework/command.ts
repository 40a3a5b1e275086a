// How a `tandem` subcommand is declared: its path, flags (with typed value parsers), examples and
// the function that runs it. The parser, the help printer and the tests all read this one shape.
import type { Catalog, TandemConfig } from '@tandem/core';
import type { Output } from './output.ts';
import type { Described } from './values.ts';

/** A declared flag. `R` records whether the parsed value is always present. */
export interface OptionSpec<T, R extends boolean> {
  /** Absent for boolean flags. */
  value: Described<T> | null;
  description: string;
  /** Name of the value in help, like `<view>`. */
  placeholder: string;
  short: string | null;
  required: boolean;
  defaultValue: T | undefined;
  /** How the default is shown in help when it is computed (e.g. "the current hour"). */
  defaultText: string | null;
  /**
   * The value of the flag given without one (`--bad` alone), for flags whose value is optional;
   * undefined when the value is mandatory. See {@link withOptionalValue}.
   */
  implicitValue?: T;
  /** How the implicit value is shown in help, e.g. "every event invalid". */
  implicitText?: string;
  /** The flag may be given several times; its (array) values are concatenated. See {@link repeatable}. */
  repeatable?: boolean;
  /** Phantom marker for typing; never set. */
  readonly __required?: R;
}

// biome-ignore lint/suspicious/noExplicitAny: a heterogeneous record of specs needs an open element type
export type AnyOptionSpec = OptionSpec<any, boolean>;
export type OptionSpecs = Record<string, AnyOptionSpec>;

/** The parsed values of a command's options, typed from their specs. */
export type OptionValues<O extends OptionSpecs> = {
  [K in keyof O]: O[K] extends OptionSpec<infer T, true>
    ? T
    : O[K] extends OptionSpec<infer T, false>
      ? T | undefined
      : never;
};

/** A boolean flag. */
export function flag(description: string, short: string | null = null): OptionSpec<boolean, true> {
  return {
    value: null,
    description,
    placeholder: '',
    short,
    required: false,
    defaultValue: false,
    defaultText: null,
  };
}

interface ValueOptionInit {
  description: string;
  placeholder?: string;
  short?: string;
  defaultText?: string;
}

/** A flag with a value that may be absent. */
export function option<T>(value: Described<T>, init: ValueOptionInit): OptionSpec<T, false> {
  return {
    value,
    description: init.description,
    placeholder: init.placeholder ?? 'value',
    short: init.short ?? null,
    required: false,
    defaultValue: undefined,
    defaultText: init.defaultText ?? null,
  };
}

/** A flag with a value that must be given. */
export function required<T>(value: Described<T>, init: ValueOptionInit): OptionSpec<T, true> {
  return { ...option(value, init), required: true } as OptionSpec<T, true>;
}

/** A flag with a value and a default. */
export function withDefault<T>(
  value: Described<T>,
  defaultValue: T,
  init: ValueOptionInit,
): OptionSpec<T, true> {
  return {
    ...option(value, init),
    defaultValue,
    defaultText: init.defaultText ?? String(defaultValue),
  } as OptionSpec<T, true>;
}

/** A flag that may be given several times (`--stream a --stream b`); absent it is undefined. */
export function repeatable<T>(value: Described<T[]>, init: ValueOptionInit): OptionSpec<T[], false> {
  return { ...option(value, init), repeatable: true };
}

/**
 * A flag whose value may be left out: absent it is `defaultValue`, alone (`--bad`) it is
 * `implicitValue`, with a value (`--bad 1%`, `--bad=1%`) it is that value.
 */
export function withOptionalValue<T>(
  value: Described<T>,
  defaultValue: T,
  implicitValue: T,
  init: ValueOptionInit & { implicitText: string },
): OptionSpec<T, true> {
  return {
    ...withDefault(value, defaultValue, init),
    implicitValue,
    implicitText: init.implicitText,
  } as OptionSpec<T, true>;
}

/** What a running command gets besides its options. */
export interface CommandContext {
  out: Output;
  /** Aborted on the first SIGINT/SIGTERM; long work stops at the next safe point. */
  signal: AbortSignal;
  env: Record<string, string | undefined>;
  now: () => number;
  /** The validated configuration, loaded on first use (so `--help` never needs a valid env). */
  config(): TandemConfig;
  /**
   * The deployment's streams and views from its config file (or the built-in web catalog), loaded
   * and validated on first use.
   */
  catalog(): Promise<Catalog>;
  /** The repository root (default lake dir, scripts). */
  root: string;
}

/** A declared subcommand. */
export interface Command<O extends OptionSpecs = OptionSpecs> {
  /** Words after `tandem`, e.g. `['batch', 'run']`. */
  path: string[];
  summary: string;
  /** Paragraphs shown in `--help` after the summary. */
  description?: string;
  options: O;
  /** Name and description of positional arguments, when the command takes them. */
  positionals?: { name: string; description: string; min: number; max: number };
  /** Whether the command reports something and so accepts `--json`. */
  reports: boolean;
  examples: string[];
  run(context: CommandContext, options: OptionValues<O>, positionals: string[]): Promise<number | undefined>;
}

/** Declares a command with its option types inferred from the specs. */
export function defineCommand<O extends OptionSpecs>(command: Command<O>): Command<O> {
  return command;
}

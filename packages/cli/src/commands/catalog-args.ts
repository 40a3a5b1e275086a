// Flags that name streams and views of the deployment's config. Their values are only read at parse
// time; they are checked against `context.catalog()` when the command runs (the config file is
// loaded then, not for `--help`), with a usage error that names the flag and the known names.
import { type Catalog, type Stream, type View, webStream } from '@tandem/core';
import { usageError } from '../framework/usage-error.ts';
import type * as v from '../framework/values.ts';

/** `--view`: a view of the config, checked by {@link resolveView} when the command runs. */
export const viewValue = (): v.Described<string> => ({
  accepted: 'a view of the config (tandem views lists them)',
  parse: (raw, flagName) => {
    if (raw === '') throw usageError(`--${flagName} needs a value: a view of the config`);
    return raw;
  },
});

/** `--stream`: a stream of the config, checked by {@link resolveStream} when the command runs. */
export const streamValue = (): v.Described<string> => ({
  accepted: 'a stream of the config (tandem views lists them)',
  parse: (raw, flagName) => {
    if (raw === '') throw usageError(`--${flagName} needs a value: a stream of the config`);
    return raw;
  },
});

/** `--stream a,b` (repeatable): streams of the config, checked by {@link resolveStreams}. */
export const streamListValue = (): v.Described<string[]> => ({
  accepted: 'streams of the config, comma-separated or the flag repeated (tandem views lists them)',
  parse: (raw, flagName) => {
    const names = raw
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== '');
    if (names.length === 0) throw usageError(`--${flagName} needs a value: a stream of the config`);
    return names;
  },
});

/** The view named by a flag, or a usage error naming the config's views. */
export function resolveView(catalog: Catalog, name: string, flagName = 'view'): View {
  const view = catalog.views.find((candidate) => candidate.name === name);
  if (view === undefined) {
    const known = catalog.views.map((candidate) => candidate.name);
    throw usageError(`--${flagName} "${name}" is not a view; expected one of ${known.join(', ')}`, {
      flag: `--${flagName}`,
      known,
    });
  }
  return view;
}

/**
 * The stream named by a flag; without one the web stream `events`, or the config's only stream (a
 * usage error when the config has several and none is the web stream).
 */
export function resolveStream(catalog: Catalog, name: string | undefined, flagName = 'stream'): Stream {
  const known = catalog.streams.map((stream) => stream.name);
  if (name === undefined) {
    const fallback =
      catalog.streams.find((stream) => stream.name === webStream.name) ??
      (catalog.streams.length === 1 ? catalog.streams[0] : undefined);
    if (fallback === undefined) {
      throw usageError(
        `the config declares several streams; name one with --${flagName}: ${known.join(', ')}`,
        { flag: `--${flagName}`, known },
      );
    }
    return fallback;
  }
  const stream = catalog.streams.find((candidate) => candidate.name === name);
  if (stream === undefined) {
    throw usageError(
      `--${flagName} "${name}" is not a stream of the config; expected one of ${known.join(', ')}`,
      { flag: `--${flagName}`, known },
    );
  }
  return stream;
}

/** The streams named (each checked, repeats dropped); every stream of the config when none is. */
export function resolveStreams(catalog: Catalog, names: readonly string[] | undefined): Stream[] {
  if (names === undefined || names.length === 0) return [...catalog.streams];
  return [...new Set(names)].map((name) => resolveStream(catalog, name));
}

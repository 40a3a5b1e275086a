// Every problem of a config file, not just the first: core's resolveCatalog stops at the first bad
// entry, so the entry it names is set aside and the rest is resolved again, until what is left is
// valid. Paths keep the entries' original positions. Views of a stream set aside can not be
// checked (they are listed as such, not reported as "stream not declared").
import {
  type Catalog,
  isTandemError,
  type RegistryVersion,
  resolveCatalog,
  type TandemError,
} from '@tandem/core';

/** One problem: its error code, the JSON path of the offending entry, and what is wrong. */
export interface ConfigProblem {
  code: string;
  /** JSON path from the config's root `$`, e.g. `$.streams[1].schema.properties.site.pattern`. */
  path: string;
  /** The message without the path in front. */
  message: string;
}

export interface ConfigCheck {
  /** The catalog, when there is no problem. */
  catalog: Catalog | null;
  problems: ConfigProblem[];
  /** Entries that could not be checked because of an earlier problem, with why. */
  unchecked: Array<{ path: string; reason: string }>;
}

export const CONFIG_ROOT = '$';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Rewrites `$.streams[k]` / `$.views[k]` of the working arrays to the entries' original positions. */
function remap(text: string, streams: number[], views: number[]): string {
  return text.replace(/\$\.(streams|views)\[(\d+)\]/g, (whole, list: string, index: string) => {
    const original = (list === 'streams' ? streams : views)[Number(index)];
    return original === undefined ? whole : `$.${list}[${original}]`;
  });
}

/** The stream name a view reads, as written (or the only stream's, when it names none). */
function viewStreamName(view: unknown, streams: unknown[]): unknown {
  if (isPlainObject(view) && view.stream !== undefined) return view.stream;
  if (streams.length === 1 && isPlainObject(streams[0])) return streams[0].name;
  return undefined;
}

/**
 * Checks what a config file exports. Never throws for a bad config: every problem core reports is
 * collected with its code and path. `registryVersions`: the versions of the subjects registry-backed
 * streams name (see fetchRegistryVersions).
 */
export function checkConfigValue(
  raw: unknown,
  registryVersions?: ReadonlyMap<string, readonly RegistryVersion[]>,
): ConfigCheck {
  const problems: ConfigProblem[] = [];
  const unchecked: ConfigCheck['unchecked'] = [];
  if (!isPlainObject(raw)) {
    try {
      resolveCatalog(raw, CONFIG_ROOT, registryVersions);
    } catch (error) {
      if (!isTandemError(error)) throw error;
      problems.push(problemOf(error, [], []));
    }
    return { catalog: null, problems, unchecked };
  }
  const top: Record<string, unknown> = { ...raw };
  const streams: unknown[] | null = Array.isArray(raw.streams) ? [...raw.streams] : null;
  const views: unknown[] | null = Array.isArray(raw.views) ? [...raw.views] : null;
  // Original positions of the entries still in the working arrays.
  const streamIndex = streams?.map((_, i) => i) ?? [];
  const viewIndex = views?.map((_, i) => i) ?? [];
  const originalStreams = streams === null ? [] : [...streams];
  const maxRounds = 4 + Object.keys(raw).length + (streams?.length ?? 0) + (views?.length ?? 0);
  for (let round = 0; round < maxRounds; round++) {
    const working = { ...top, ...(streams ? { streams } : {}), ...(views ? { views } : {}) };
    let error: TandemError;
    try {
      const catalog = resolveCatalog(working, CONFIG_ROOT, registryVersions);
      return { catalog: problems.length === 0 ? catalog : null, problems, unchecked };
    } catch (caught) {
      if (!isTandemError(caught)) throw caught;
      error = caught;
    }
    problems.push(problemOf(error, streamIndex, viewIndex));
    const raisedPath = typeof error.details.path === 'string' ? error.details.path : CONFIG_ROOT;
    const entry = /^\$\.(streams|views)\[(\d+)\]/.exec(raisedPath);
    if (entry !== null && streams !== null && views !== null) {
      const at = Number(entry[2]);
      if (entry[1] === 'views') {
        views.splice(at, 1);
        viewIndex.splice(at, 1);
      } else {
        streams.splice(at, 1);
        streamIndex.splice(at, 1);
        // Views of a stream that is gone can not be checked (unless another entry has its name).
        const names = new Set(streams.map((s) => (isPlainObject(s) ? s.name : undefined)));
        for (let i = views.length - 1; i >= 0; i--) {
          const name = viewStreamName(views[i], originalStreams);
          if (name !== undefined && names.has(name)) continue;
          if (name === undefined && streams.length === 1) continue;
          unchecked.unshift({
            path: `$.views[${viewIndex[i]}]`,
            reason: `its stream ${JSON.stringify(name ?? null)} has a problem`,
          });
          views.splice(i, 1);
          viewIndex.splice(i, 1);
        }
      }
      if (streams.length === 0 || views.length === 0) {
        // Nothing left to check them against (or with): the rest is unchecked, not wrong.
        if (streams.length === 0) {
          for (const [i] of views.entries())
            unchecked.push({
              path: `$.views[${viewIndex[i]}]`,
              reason: 'no valid stream is left to check it against',
            });
        }
        return { catalog: null, problems, unchecked };
      }
      continue;
    }
    const key = /^\$\.([A-Za-z_$][A-Za-z0-9_$]*)$/.exec(raisedPath);
    if (key !== null && key[1] !== 'streams' && key[1] !== 'views' && Object.hasOwn(top, key[1]!)) {
      delete top[key[1]!];
      continue;
    }
    // The root, or the streams / views lists themselves: nothing below can be checked.
    return { catalog: null, problems, unchecked };
  }
  return { catalog: null, problems, unchecked };
}

function problemOf(error: TandemError, streams: number[], views: number[]): ConfigProblem {
  const rawPath = typeof error.details.path === 'string' ? error.details.path : CONFIG_ROOT;
  const path = remap(rawPath, streams, views);
  let message = error.message;
  if (message.startsWith(`${rawPath}: `)) message = message.slice(rawPath.length + 2);
  return { code: error.code, path, message: remap(message, streams, views) };
}

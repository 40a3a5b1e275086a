// The catalog of a deployment: the streams and views its config file declares, validated together
// (views against their stream's fields, names and topics unique), and the built-in web catalog used
// when there is no config file. Reading the file is the cli's job (core does no I/O); this module
// turns what the file exports into checked streams and views, or a coded error naming the JSON path.
import { TandemError } from './errors.ts';
import { type RegistryVersion, withRegistryViews } from './registry-stream.ts';
import { defineStream, type RegistryStreamSpec, type Stream, type StreamSpec } from './stream.ts';
import { configPathError, jsonPath } from './stream-schema.ts';
import { defineView, type View, type ViewSpec } from './view.ts';

/** A view as a config file declares it: like `defineView`'s spec, naming the stream it reads. */
export type ConfigViewSpec = ViewSpec & {
  /** The stream it reads. @defaultValue the only stream, when the file declares one */
  stream?: string;
};

/** What `tandem.config.ts` exports (default export) or `tandem.config.json` holds. */
export interface TandemConfigSpec {
  streams: readonly (StreamSpec | RegistryStreamSpec)[];
  views: readonly ConfigViewSpec[];
}

/**
 * Types a config file, as `vite.config.ts` and `vitest.config.ts` do; returns its argument. The
 * file is validated when a component loads it, not here.
 */
export function defineConfig<const T extends TandemConfigSpec>(config: T): T {
  return config;
}

/** Validated streams and views of one deployment. */
export interface Catalog {
  readonly streams: readonly Stream[];
  readonly views: readonly View[];
  /** The stream of that name; throws `TANDEM_ERR_STREAM_UNKNOWN` listing the known ones. */
  stream(name: string): Stream;
  /** The view of that name; throws `TANDEM_ERR_VIEW_UNKNOWN` listing the known ones. */
  view(name: string): View;
  /** The views that read a stream, in declaration order. */
  viewsOf(stream: string): View[];
}

/** Builds a catalog from streams and views that are already valid (names unique, views bound). */
export function createCatalog(streams: readonly Stream[], views: readonly View[]): Catalog {
  const streamsByName = new Map(streams.map((stream) => [stream.name, stream]));
  const viewsByName = new Map(views.map((view) => [view.name, view]));
  return {
    streams,
    views,
    stream(name) {
      const stream = streamsByName.get(name);
      if (stream === undefined) {
        throw new TandemError(
          'TANDEM_ERR_STREAM_UNKNOWN',
          `stream "${name}" does not exist; known streams: ${[...streamsByName.keys()].join(', ')}`,
          { details: { stream: name } },
        );
      }
      return stream;
    },
    view(name) {
      const view = viewsByName.get(name);
      if (view === undefined) {
        throw new TandemError(
          'TANDEM_ERR_VIEW_UNKNOWN',
          `view "${name}" does not exist; known views: ${[...viewsByName.keys()].join(', ')}`,
          { details: { view: name } },
        );
      }
      return view;
    },
    viewsOf: (stream) => views.filter((view) => view.stream === stream),
  };
}

/**
 * The registry subjects a config file's streams name (`streams[i].registry.subject`), with the first
 * stream naming each: what a loader fetches before `resolveCatalog`. Malformed entries are left for
 * `resolveCatalog` to report.
 */
export function registrySubjectsOf(raw: unknown): Map<string, string> {
  const subjects = new Map<string, string>();
  if (!isPlainObject(raw) || !Array.isArray(raw.streams)) return subjects;
  for (const spec of raw.streams) {
    if (!isPlainObject(spec) || !isPlainObject(spec.registry)) continue;
    const subject = spec.registry.subject;
    if (typeof subject === 'string' && !subjects.has(subject)) subjects.set(subject, String(spec.name));
  }
  return subjects;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Re-raises a view's own coded error with the JSON path of its declaration in front. */
function atPath(path: string, error: unknown): unknown {
  if (!(error instanceof TandemError)) return error;
  if (typeof error.details.path === 'string') return error;
  return new TandemError(error.code, `${path}: ${error.message}`, {
    cause: error.cause,
    details: { ...error.details, path },
  });
}

function uniqueBy<T>(
  items: readonly T[],
  key: (item: T) => string,
  what: string,
  pathOf: (i: number) => string,
): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const k = key(item);
    const first = seen.get(k);
    if (first !== undefined) {
      throw configPathError(pathOf(i), `${what} ${JSON.stringify(k)} is already used by ${pathOf(first)}`);
    }
    seen.set(k, i);
  });
}

/**
 * Validates what a config file exports and returns its catalog. Every problem is a coded error
 * (`TANDEM_ERR_CONFIG_INVALID`, or the view's own `TANDEM_ERR_VIEW_*` / `TANDEM_ERR_MEASURE_INVALID`)
 * whose message starts with the JSON path of the offending entry, and whose details carry it.
 * @param source - names the file in messages (`tandem.config.ts`).
 * @param registryVersions - every version of each subject that registry-backed streams name, by
 * subject (the cli's loader fetches them; see `registrySubjectsOf`).
 */
export function resolveCatalog(
  raw: unknown,
  source = 'config',
  registryVersions?: ReadonlyMap<string, readonly RegistryVersion[]>,
): Catalog {
  // A registry-backed stream that follows its subject's latest version takes the newest version its
  // views can read: a producer's bad version must not stop every component from loading. That
  // version's messages are dead-lettered (schema_compat), and `tandem config check` reports it.
  let versions = registryVersions;
  for (;;) {
    try {
      return resolveCatalogOnce(raw, source, versions);
    } catch (error) {
      const fallback = versions === undefined ? null : withoutFailedLatest(raw, source, versions, error);
      if (fallback === null) throw error;
      versions = fallback;
    }
  }
}

/**
 * When `error` is about a stream that follows its subject's latest version (or a view over one), the
 * versions with that latest usable one marked unusable; null when there is nothing older to take.
 */
function withoutFailedLatest(
  raw: unknown,
  source: string,
  versions: ReadonlyMap<string, readonly RegistryVersion[]>,
  error: unknown,
): Map<string, readonly RegistryVersion[]> | null {
  if (!(error instanceof TandemError) || !isPlainObject(raw) || !Array.isArray(raw.streams)) return null;
  const path = typeof error.details.path === 'string' ? error.details.path : '';
  const streams = raw.streams as unknown[];
  let spec: unknown;
  const streamAt = new RegExp(`^${escapeRegExp(jsonPath(source, 'streams'))}\\[(\\d+)\\]`).exec(path);
  const viewAt = new RegExp(`^${escapeRegExp(jsonPath(source, 'views'))}\\[(\\d+)\\]`).exec(path);
  if (streamAt !== null) {
    spec = streams[Number(streamAt[1])];
  } else if (viewAt !== null && Array.isArray(raw.views)) {
    const view = raw.views[Number(viewAt[1])];
    const name =
      isPlainObject(view) && view.stream !== undefined
        ? view.stream
        : streams.length === 1
          ? (streams[0] as { name?: unknown })?.name
          : undefined;
    spec = streams.find((s) => isPlainObject(s) && s.name === name);
  }
  if (!isPlainObject(spec) || !isPlainObject(spec.registry) || spec.registry.version !== undefined)
    return null;
  const subject = spec.registry.subject;
  const list = typeof subject === 'string' ? versions.get(subject) : undefined;
  if (list === undefined) return null;
  const usable = list.filter((entry) => entry.unusable === undefined).sort((a, b) => a.version - b.version);
  const latest = usable.at(-1);
  if (latest === undefined || usable.length < 2) return null;
  const marked = new Map(versions);
  marked.set(
    subject as string,
    list.map((entry) => (entry === latest ? { ...entry, unusable: error.message } : entry)),
  );
  return marked;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function resolveCatalogOnce(
  raw: unknown,
  source: string,
  registryVersions: ReadonlyMap<string, readonly RegistryVersion[]> | undefined,
): Catalog {
  if (!isPlainObject(raw)) {
    throw configPathError(
      source,
      'the config must be an object { streams: [...], views: [...] } (the default export of a .ts file)',
    );
  }
  for (const key of Object.keys(raw)) {
    if (key !== 'streams' && key !== 'views' && key !== '$schema' && key !== '$comment') {
      throw configPathError(jsonPath(source, key), 'unknown setting; a config has streams and views');
    }
  }
  const streamsPath = jsonPath(source, 'streams');
  if (!Array.isArray(raw.streams) || raw.streams.length === 0) {
    throw configPathError(streamsPath, 'must be a non-empty array of streams');
  }
  const streams = raw.streams.map((spec, i) =>
    defineStream(spec as StreamSpec, jsonPath(streamsPath, i), registryVersions),
  );
  uniqueBy(
    streams,
    (s) => s.name,
    'stream name',
    (i) => jsonPath(jsonPath(streamsPath, i), 'name'),
  );
  const topics = streams.flatMap((s, i) => [s.topic, s.dlqTopic, s.lateTopic].map((topic) => ({ topic, i })));
  uniqueBy(
    topics,
    (t) => t.topic,
    'topic',
    (i) => jsonPath(streamsPath, (topics[i] as { i: number }).i),
  );
  uniqueBy(
    streams,
    (s) => s.lakePrefix,
    'lake prefix',
    (i) => jsonPath(jsonPath(streamsPath, i), 'lakePrefix'),
  );
  for (const [i, a] of streams.entries()) {
    for (const b of streams.slice(0, i)) {
      if (a.lakePrefix.startsWith(`${b.lakePrefix}/`) || b.lakePrefix.startsWith(`${a.lakePrefix}/`)) {
        throw configPathError(
          jsonPath(jsonPath(streamsPath, i), 'lakePrefix'),
          `lake prefixes "${a.lakePrefix}" and "${b.lakePrefix}" nest; each stream needs its own directory`,
        );
      }
    }
  }

  const viewsPath = jsonPath(source, 'views');
  if (!Array.isArray(raw.views) || raw.views.length === 0) {
    throw configPathError(viewsPath, 'must be a non-empty array of views');
  }
  const byName = new Map(streams.map((s) => [s.name, s]));
  const views = raw.views.map((spec, i) => {
    const path = jsonPath(viewsPath, i);
    if (!isPlainObject(spec))
      throw configPathError(path, 'a view must be an object with name, stream, bucket and measures');
    const streamName = spec.stream ?? (streams.length === 1 ? (streams[0] as Stream).name : undefined);
    if (streamName === undefined) {
      throw configPathError(jsonPath(path, 'stream'), `is required when the config declares several streams`);
    }
    const stream = byName.get(streamName as string);
    if (stream === undefined) {
      throw configPathError(
        jsonPath(path, 'stream'),
        `stream ${JSON.stringify(streamName)} is not declared; declared: ${[...byName.keys()].join(', ')}`,
      );
    }
    try {
      return defineView({ ...(spec as unknown as ViewSpec), stream: stream.name }, stream);
    } catch (error) {
      throw atPath(path, error);
    }
  });
  uniqueBy(
    views,
    (v) => v.name,
    'view name',
    (i) => jsonPath(jsonPath(viewsPath, i), 'name'),
  );
  return createCatalog(
    streams.map((stream) => withRegistryViews(stream, views)),
    views,
  );
}

// What a config changes against what is deployed, two ways:
//  - against another config file (the one deployed, e.g. from the last release): exact — streams by
//    fingerprint, topics and lake prefix, views by their definition;
//  - against the lake: each stream's newest archive manifest records the fingerprint the archiver
//    validated with (`validator`), and `views/<name>/v<version>/` shows which views and versions the
//    batch layer has built. The lake records no view definitions and no lake prefix of a stream that
//    left the config, so this side sees versions, not definitions, and no removed streams.
import type { Catalog, Stream, View } from '@tandem/core';
import type { ObjectStore } from '@tandem/lake';
import { viewDefinition } from './catalog-report.ts';

export type ChangeStatus = 'new' | 'removed' | 'changed' | 'unchanged';

export interface StreamChange {
  name: string;
  status: ChangeStatus;
  /** What differs: `schema` (fingerprint), `topic`, `dlqTopic`, `lateTopic`, `lakePrefix`. */
  changes: string[];
  fingerprint: string | null;
  /** The fingerprint deployed (the other config's, or the newest manifest's `validator`). */
  deployedFingerprint: string | null;
  /** Lake only: the manifest the deployed fingerprint was read from. */
  manifest?: string;
}

export interface ViewChange {
  name: string;
  stream: string | null;
  status: ChangeStatus;
  /** What differs: `version`, `stream`, `bucket`, `dimensions`, `filter`, `sessionize`, `measures`. */
  changes: string[];
  version: number | null;
  /** Versions deployed: the other config's, or those the lake has built. */
  deployedVersions: number[];
  /** The derived version (what the numbers mean) of this config's definition, and of the deployed one when known (config files only). */
  fingerprint: string | null;
  deployedFingerprint: string | null;
}

export interface CatalogDiff {
  /** What the config was compared with: a file, or the lake URL. */
  against: string;
  streams: StreamChange[];
  views: ViewChange[];
  /** Caveats of this comparison (what it can not see). */
  notes: string[];
  /** Changes that need attention, e.g. a view whose definition changed but not its version. */
  warnings: string[];
}

function streamPlacement(stream: Stream): Record<string, string> {
  return {
    topic: stream.topic,
    dlqTopic: stream.dlqTopic,
    lateTopic: stream.lateTopic,
    lakePrefix: stream.lakePrefix,
  };
}

/** The config `current` against the deployed config `deployed` (both valid catalogs). */
export function diffCatalogs(current: Catalog, deployed: Catalog, against: string): CatalogDiff {
  const diff: CatalogDiff = { against, streams: [], views: [], notes: [], warnings: [] };
  const before = new Map(deployed.streams.map((stream) => [stream.name, stream]));
  for (const stream of current.streams) {
    const old = before.get(stream.name);
    if (old === undefined) {
      diff.streams.push({
        name: stream.name,
        status: 'new',
        changes: [],
        fingerprint: stream.fingerprint,
        deployedFingerprint: null,
      });
      continue;
    }
    const changes: string[] = [];
    if (old.fingerprint !== stream.fingerprint) changes.push('schema');
    const now = streamPlacement(stream);
    const then = streamPlacement(old);
    for (const key of Object.keys(now)) if (now[key] !== then[key]) changes.push(key);
    diff.streams.push({
      name: stream.name,
      status: changes.length === 0 ? 'unchanged' : 'changed',
      changes,
      fingerprint: stream.fingerprint,
      deployedFingerprint: old.fingerprint,
    });
    if (changes.includes('lakePrefix')) {
      diff.warnings.push(
        `stream ${stream.name}: the lake prefix moves from ${old.lakePrefix} to ${stream.lakePrefix}; the raw logs archived under the old one are not read any more`,
      );
    }
  }
  const names = new Set(current.streams.map((stream) => stream.name));
  for (const old of deployed.streams) {
    if (names.has(old.name)) continue;
    diff.streams.push({
      name: old.name,
      status: 'removed',
      changes: [],
      fingerprint: null,
      deployedFingerprint: old.fingerprint,
    });
  }

  const oldViews = new Map(deployed.views.map((view) => [view.name, view]));
  for (const view of current.views) {
    const old = oldViews.get(view.name);
    if (old === undefined) {
      diff.views.push({
        name: view.name,
        stream: view.stream,
        status: 'new',
        changes: [],
        version: view.version,
        deployedVersions: [],
        fingerprint: view.fingerprint,
        deployedFingerprint: null,
      });
      continue;
    }
    // The fingerprint decides whether the meaning changed: a cosmetic edit (key or measure order,
    // a description) changes none of it. The parts only name what did.
    const changes: string[] = view.version === old.version ? [] : ['version'];
    if (view.fingerprint !== old.fingerprint) {
      const a = viewDefinition(view);
      const b = viewDefinition(old);
      changes.push(...Object.keys(a).filter((key) => key !== 'version' && a[key] !== b[key]));
      // Same definition, different fingerprint: a rule of a stream field the view reads changed.
      if (changes.length === 0) changes.push('fields');
    }
    diff.views.push({
      name: view.name,
      stream: view.stream,
      status: changes.length === 0 ? 'unchanged' : 'changed',
      changes,
      version: view.version,
      deployedVersions: [old.version],
      fingerprint: view.fingerprint,
      deployedFingerprint: old.fingerprint,
    });
    if (changes.length > 0 && !changes.includes('version')) {
      diff.warnings.push(
        `view ${view.name}: its ${changes.join(', ')} changed but its version is still ${view.version}; ` +
          'bump the version so the new definition is built afresh instead of mixing with states of the old one',
      );
    }
  }
  const viewNames = new Set(current.views.map((view) => view.name));
  for (const old of deployed.views) {
    if (viewNames.has(old.name)) continue;
    diff.views.push({
      name: old.name,
      stream: old.stream,
      status: 'removed',
      changes: [],
      version: null,
      deployedVersions: [old.version],
      fingerprint: null,
      deployedFingerprint: old.fingerprint,
    });
  }
  return diff;
}

const DAY = 86_400_000;
/** The fingerprint the web stream's manifests carried before streams had fingerprints. */
const LEGACY_WEB_VALIDATOR = 'tandem-events/1';

/** The newest archive manifest of a stream: recent days first, then the whole manifest tree. */
async function newestManifest(store: ObjectStore, stream: Stream, now: number): Promise<string | null> {
  const root = `${stream.lakePrefix}/_manifests/`;
  const last = async (prefix: string): Promise<string | null> => {
    let key: string | null = null;
    for await (const object of store.list(prefix)) if (object.key.endsWith('.json')) key = object.key;
    return key;
  };
  for (let day = 0; day < 3; day++) {
    const date = new Date(now - day * DAY).toISOString().slice(0, 10);
    const key = await last(`${root}dt=${date}/`);
    if (key !== null) return key;
  }
  return last(root);
}

/** The `validator` a manifest records, or null when it is not one. */
async function manifestValidator(store: ObjectStore, key: string): Promise<string | null> {
  const body = await store.get(key);
  if (body === null) return null;
  try {
    const manifest = JSON.parse(Buffer.from(body).toString('utf8')) as { validator?: unknown };
    return typeof manifest.validator === 'string' ? manifest.validator : null;
  } catch {
    return null;
  }
}

/** Every view name and version the batch layer has built: `views/<name>/v<version>/…` keys. */
async function builtViews(store: ObjectStore): Promise<Map<string, Set<number>>> {
  const built = new Map<string, Set<number>>();
  for await (const object of store.list('views/')) {
    const match = /^views\/([^/]+)\/v(\d+)\//.exec(object.key);
    if (match === null) continue;
    const versions = built.get(match[1]!) ?? new Set<number>();
    versions.add(Number(match[2]));
    built.set(match[1]!, versions);
  }
  return built;
}

/** The config against what the lake holds (see the file comment for what it can and can not see). */
export async function diffAgainstLake(
  catalog: Catalog,
  store: ObjectStore,
  now: number,
): Promise<CatalogDiff> {
  const diff: CatalogDiff = {
    against: store.url,
    streams: [],
    views: [],
    notes: [
      'streams: the fingerprint of each stream’s newest archive manifest; a stream no longer in the config is not seen (its lake prefix is only in the old config: compare with --against)',
      'views: the versions built under views/<name>/v<version>/; the lake keeps no view definitions, so a definition changed without a new version shows as unchanged (compare with --against)',
    ],
    warnings: [],
  };
  for (const stream of catalog.streams) {
    const key = await newestManifest(store, stream, now);
    const deployed = key === null ? null : await manifestValidator(store, key);
    const change: StreamChange = {
      name: stream.name,
      status: deployed === null ? 'new' : deployed === stream.fingerprint ? 'unchanged' : 'changed',
      changes: deployed === null || deployed === stream.fingerprint ? [] : ['schema'],
      fingerprint: stream.fingerprint,
      deployedFingerprint: deployed,
      ...(key === null ? {} : { manifest: key }),
    };
    diff.streams.push(change);
    if (deployed === LEGACY_WEB_VALIDATOR) {
      diff.warnings.push(
        `stream ${stream.name}: its newest manifest was written before streams had fingerprints (${LEGACY_WEB_VALIDATOR}); the batch layer validates such files again, line by line`,
      );
    }
  }
  const built = await builtViews(store);
  const byName = new Map<string, View>(catalog.views.map((view) => [view.name, view]));
  for (const view of catalog.views) {
    const versions = [...(built.get(view.name) ?? [])].sort((a, b) => a - b);
    const status: ChangeStatus =
      versions.length === 0 ? 'new' : versions.includes(view.version) ? 'unchanged' : 'changed';
    diff.views.push({
      name: view.name,
      stream: view.stream,
      status,
      changes: status === 'changed' ? ['version'] : [],
      version: view.version,
      deployedVersions: versions,
      // The lake keeps no view definitions, so no deployed fingerprint to compare with.
      fingerprint: view.fingerprint,
      deployedFingerprint: null,
    });
  }
  for (const [name, versions] of [...built.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (byName.has(name)) continue;
    diff.views.push({
      name,
      stream: null,
      status: 'removed',
      changes: [],
      version: null,
      deployedVersions: [...versions].sort((a, b) => a - b),
      fingerprint: null,
      deployedFingerprint: null,
    });
  }
  return diff;
}

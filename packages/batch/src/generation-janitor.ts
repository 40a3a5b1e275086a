// Collects the versions of a view nobody can serve any more. A previous version stays for the
// retention period (the rollback window) and is then retired; a retired version's lake tree
// (`views/<view>/v<n>/`) is deleted once it has been retired for the retention period too, and then
// its registry entry is forgotten, so the same definition later is built again. Its speed keys are
// not deleted here: nothing writes them once it is retired, and they expire with the speed layer's
// bucket TTL. The active and building versions are never touched.
import type { ObjectStore } from '@tandem/lake';
import type { Logger } from 'pino';
import { viewVersionPrefix } from './layout.ts';
import type { GenerationRegistry } from './view-generations.ts';

/** How long a previous version stays for rollback, and a retired one's data before it is collected. */
export const DEFAULT_VERSION_RETENTION_MS = 7 * 24 * 3_600_000;

export interface CollectedVersions {
  view: string;
  /** Previous versions retired now (their rollback window ended). */
  retired: number[];
  /** Retired versions whose lake tree was deleted and whose entry was forgotten. */
  collected: Array<{ n: number; objects: number }>;
}

export async function collectVersions(
  deps: { registry: GenerationRegistry; store: ObjectStore; logger: Logger },
  view: string,
  now: number,
  retentionMs: number = DEFAULT_VERSION_RETENTION_MS,
): Promise<CollectedVersions> {
  const { registry, store, logger } = deps;
  const result: CollectedVersions = { view, retired: [], collected: [] };
  const list = await registry.list(view);
  for (const gen of list.generations) {
    if (gen.state === 'previous' && (await registry.retireIfOlder(view, gen.n, now - retentionMs, now))) {
      result.retired.push(gen.n);
    }
  }
  for (const gen of list.generations) {
    if (gen.state !== 'retired' || gen.n === list.active || now - gen.since < retentionMs) continue;
    let objects = 0;
    for await (const info of store.list(viewVersionPrefix(view, gen.n))) {
      await store.delete(info.key);
      objects++;
    }
    // Forgotten last: a crash in between leaves it retired, and the next pass deletes what is left.
    if (await registry.forget(view, gen.n)) result.collected.push({ n: gen.n, objects });
  }
  if (result.retired.length > 0 || result.collected.length > 0) {
    logger.info({ ...result }, 'old view versions retired or collected');
  }
  return result;
}

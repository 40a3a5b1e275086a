// Bounded-parallel helpers: many small objects move fastest with a few requests in flight, and an
// unbounded Promise.all over thousands of keys exhausts sockets and file descriptors.
import { join } from 'node:path';
import { TandemError } from '@tandem/core';
import type { ObjectStore } from './object-store.ts';

/**
 * Maps `items` through `task` with at most `concurrency` calls in flight; results keep input order.
 * On the first failure no new task starts, the running ones finish, and the first error is thrown.
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new TandemError('TANDEM_ERR_LAKE_IO', `concurrency must be an integer ≥ 1, got ${concurrency}`);
  }
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index] as T, index);
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failed) throw firstError;
  return results;
}

export interface DownloadAllOptions {
  /** Downloads in flight at once. @defaultValue 8 */
  concurrency?: number;
  /** Local file name for a key. @defaultValue the key's path segments joined with `__` */
  fileName?: (key: string) => string;
}

/**
 * Downloads `keys` into `dir` with bounded parallelism and returns the local paths in key order.
 * The default file names flatten the key (`logs/dt=…/hour=…/a.json.gz` →
 * `logs__dt=…__hour=…__a.json.gz`), so files of different partitions never collide and keep their
 * extension (DuckDB picks the reader by it).
 */
export async function downloadAll(
  store: ObjectStore,
  keys: readonly string[],
  dir: string,
  options: DownloadAllOptions = {},
): Promise<string[]> {
  const fileName = options.fileName ?? ((key: string) => key.split('/').join('__'));
  return mapWithConcurrency(keys, options.concurrency ?? 8, async (key) => {
    const path = join(dir, fileName(key));
    await store.download(key, path);
    return path;
  });
}

/** Collects a store listing into an array (listings of one partition are small). */
export async function listAll(
  store: ObjectStore,
  prefix: string,
): Promise<import('./object-store.ts').ObjectInfo[]> {
  const infos = [];
  for await (const info of store.list(prefix)) infos.push(info);
  return infos;
}

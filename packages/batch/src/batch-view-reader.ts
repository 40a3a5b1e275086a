// The serving layer's window into the batch layer: which hours are sealed (by following pointers
// only), and the partial rows of exactly the runs those pointers named. Run files are immutable, so
// decoded rows are cached by run id (LRU by size) and states are decoded lazily, only for the rows a
// filter keeps. Listings and pointers are cached too, each in an LRU bounded by entry count, so a
// reader serving years of hours for months keeps a fixed amount of them. The exporter reads a run
// once as text instead (`readRunText`), past this cache.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import {
  type BatchViewReader,
  type Catalog,
  type Cells,
  type DimensionFilter,
  decodeStates,
  DAY_MS,
  HOUR_MS,
  hourStart,
  type PartialRow,
  type RunRecord,
  type RunText,
  type RunTextOptions,
  type SealedHour,
  type SealedRunTextReader,
  type Stream,
  TandemError,
  type TimeRange,
  type View,
} from '@tandem/core';
import { mapWithConcurrency, type ObjectInfo, type ObjectStore } from '@tandem/lake';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { BatchOptions } from './batch-options.ts';
import type { DuckDbEngine } from './duckdb-engine.ts';
import { partitionHoursFor } from './hour-compute.ts';
import { listInputs } from './input-staging.ts';
import {
  POINTER_FILE,
  parseViewKey,
  pointerKey,
  runParquetKey,
  viewDayPrefix,
  viewVersionPrefix,
} from './layout.ts';
import { type HourPointer, inputFingerprint, parsePointer, sameFingerprint } from './pointer.ts';
import { type EncodedPartialRow, readRunParquets } from './run-files.ts';
import type { RunHistory } from './run-history.ts';
import { readRunText } from './run-text.ts';

export interface LakeBatchViewReaderDeps {
  store: ObjectStore;
  engine: DuckDbEngine;
  /** Null when the reader runs without Redis: `runHistory` is then empty. */
  history: RunHistory | null;
  options: Pick<
    BatchOptions,
    'pointerCacheTtlMs' | 'maxCachedStateBytes' | 'tempDirectory' | 'downloadConcurrency' | 'catchUpMaxHours'
  >;
  now: () => number;
  logger: Logger;
  /** Resolves view names and each view's stream (its lake prefix, for staleness). */
  catalog: Catalog;
  /**
   * Most day listings and parsed pointers kept.
   * @defaultValue `{ listings: MAX_CACHED_LISTINGS, pointers: MAX_CACHED_POINTERS }`
   */
  cacheEntries?: { listings?: number; pointers?: number };
}

interface CachedRow {
  bucket: number;
  dims: PartialRow['dims'];
  /** The encoded states until first read; dropped once decoded. */
  text: string | null;
  decoded: PartialRow | null;
}

interface CachedRun {
  rows: CachedRow[];
  weight: number;
}

/**
 * Decoded states cost about this many times their JSON in V8 heap (measured ~6.5x) (cells are dictionary-mode
 * objects keyed by register or bin); the budget counts them so.
 */
const DECODED_WEIGHT = 7;

/**
 * Day listings kept (each a day's pointer infos of one view version, at most 24): a dashboard polling
 * a few views over 93 days needs a few hundred. Past the bound the oldest listing is read again.
 */
export const MAX_CACHED_LISTINGS = 5_000;

/**
 * Parsed pointers kept, by key (each a few KiB with its input fingerprint): 20,000 are about 2 years
 * of hours of one view, or the longest range (93 days) of nine views at once.
 */
export const MAX_CACHED_POINTERS = 20_000;

export class LakeBatchViewReader implements BatchViewReader, SealedRunTextReader {
  readonly #deps: LakeBatchViewReaderDeps;
  readonly #listings: LRUCache<string, { at: number; infos: Promise<ObjectInfo[]> }>;
  readonly #pointers: LRUCache<string, { etag: string; pointer: HourPointer }>;
  // One entry per view version of the catalog: bounded by the catalog itself.
  readonly #sealedThrough = new Map<string, { at: number; value: Promise<number | null> }>();
  readonly #runs = new Map<string, CachedRun>();
  readonly #loading = new Map<string, Promise<CachedRun>>();
  #cachedWeight = 0;

  constructor(deps: LakeBatchViewReaderDeps) {
    this.#deps = deps;
    this.#listings = new LRUCache({ max: deps.cacheEntries?.listings ?? MAX_CACHED_LISTINGS });
    this.#pointers = new LRUCache({ max: deps.cacheEntries?.pointers ?? MAX_CACHED_POINTERS });
  }

  /** How many entries each cache holds now (for metrics and tests). */
  cachedEntries(): { listings: number; pointers: number; runs: number; runBytes: number } {
    return {
      listings: this.#listings.size,
      pointers: this.#pointers.size,
      runs: this.#runs.size,
      runBytes: this.#cachedWeight,
    };
  }

  /** Forgets cached listings (run files stay cached: they never change). */
  invalidate(): void {
    this.#listings.clear();
    this.#sealedThrough.clear();
  }

  /** The current pointer of an hour, read now (no cache). */
  async pointer(viewName: string, hour: number): Promise<HourPointer | null> {
    const view = this.#deps.catalog.view(viewName);
    const key = pointerKey(view.name, view.version, hour);
    const bytes = await this.#deps.store.get(key);
    return bytes === null ? null : parsePointer(key, bytes);
  }

  async sealedHours(viewName: string, range: TimeRange): Promise<SealedHour[]> {
    const view = this.#deps.catalog.view(viewName);
    const pointers = await this.#pointersIn(view, range);
    return pointers.map(({ info, pointer }) => ({
      hour: pointer.hour,
      runId: pointer.runId,
      pointerVersion: info.etag,
    }));
  }

  /** The pointers of the hours in `range`, with the listing info they were found under. */
  async pointersIn(
    viewName: string,
    range: TimeRange,
  ): Promise<Array<{ info: ObjectInfo; pointer: HourPointer }>> {
    return this.#pointersIn(this.#deps.catalog.view(viewName), range);
  }

  async #pointersIn(
    view: View,
    range: TimeRange,
  ): Promise<Array<{ info: ObjectInfo; pointer: HourPointer }>> {
    const from = hourStart(range.from);
    const to = range.to;
    if (!(to > from)) return [];
    const days: number[] = [];
    for (let day = from - (from % DAY_MS); day < to; day += DAY_MS) days.push(day);
    const listings = await mapWithConcurrency(days, 8, (day) => this.#listDay(view, day));
    const infos = listings
      .flat()
      .filter((info) => {
        const parsed = parseViewKey(info.key);
        return parsed !== null && parsed.file === POINTER_FILE && parsed.hour >= from && parsed.hour < to;
      })
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    return mapWithConcurrency(infos, 16, async (info) => ({ info, pointer: await this.#pointerAt(info) }));
  }

  async #listDay(view: View, day: number): Promise<ObjectInfo[]> {
    const prefix = viewDayPrefix(view.name, view.version, day);
    const now = this.#deps.now();
    const cached = this.#listings.get(prefix);
    if (cached !== undefined && now - cached.at < this.#deps.options.pointerCacheTtlMs) return cached.infos;
    const infos = (async () => {
      const found: ObjectInfo[] = [];
      for await (const info of this.#deps.store.list(prefix)) {
        if (info.key.endsWith(`/${POINTER_FILE}`)) found.push(info);
      }
      return found;
    })();
    const entry = { at: now, infos };
    this.#listings.set(prefix, entry);
    // A failed listing is forgotten, unless a newer one has replaced it meanwhile.
    infos.catch(() => {
      if (this.#listings.peek(prefix) === entry) this.#listings.delete(prefix);
    });
    return infos;
  }

  async #pointerAt(info: ObjectInfo): Promise<HourPointer> {
    const cached = this.#pointers.get(info.key);
    if (cached !== undefined && cached.etag === info.etag) return cached.pointer;
    const bytes = await this.#deps.store.get(info.key);
    if (bytes === null) {
      throw new TandemError(
        'TANDEM_ERR_LAKE_NOT_FOUND',
        `batch pointer "${info.key}" vanished while being read; retry`,
        {
          retryable: true,
          details: { key: info.key },
        },
      );
    }
    const pointer = parsePointer(info.key, bytes);
    this.#pointers.set(info.key, { etag: info.etag, pointer });
    return pointer;
  }

  /**
   * The end of the run of consecutive sealed hours that starts at the view's earliest sealed hour:
   * every hour before it is sealed (hours before the first one hold no data, since catch-up
   * proceeds oldest first from the earliest archived hour). Stale hours still count as sealed.
   */
  async sealedThrough(viewName: string): Promise<number | null> {
    const view = this.#deps.catalog.view(viewName);
    const key = `${view.name}/${view.version}`;
    const now = this.#deps.now();
    const cached = this.#sealedThrough.get(key);
    if (cached !== undefined && now - cached.at < this.#deps.options.pointerCacheTtlMs) return cached.value;
    const value = this.#scanSealedThrough(view);
    this.#sealedThrough.set(key, { at: now, value });
    value.catch(() => this.#sealedThrough.delete(key));
    return value;
  }

  async #scanSealedThrough(view: View): Promise<number | null> {
    // Keys list in time order, and an hour's pointer sorts before its run files ('_' < 'q' < 'r'),
    // so the scan stops at the first gap without reading the rest of the history.
    let next: number | null = null;
    for await (const info of this.#deps.store.list(viewVersionPrefix(view.name, view.version))) {
      const parsed = parseViewKey(info.key);
      if (parsed === null) continue;
      if (parsed.file !== POINTER_FILE) {
        if (next !== null && parsed.hour >= next) break;
        continue;
      }
      if (next === null || parsed.hour === next) next = parsed.hour + HOUR_MS;
      else if (parsed.hour > next) break;
    }
    return next;
  }

  async readPartials(viewName: string, hours: SealedHour[], filter: DimensionFilter): Promise<PartialRow[]> {
    const view = this.#deps.catalog.view(viewName);
    const matchers = compileFilter(view, filter);
    const runs = await this.#loadRuns(view, hours);
    const out: PartialRow[] = [];
    for (const sealed of hours) {
      const run = runs.get(sealed.runId)!;
      for (const row of run.rows) {
        if (!matchers.every(([index, value]) => dimText(row.dims[index]) === value)) continue;
        if (row.decoded === null) {
          const text = row.text ?? '';
          row.decoded = freezeRow({ bucket: row.bucket, dims: row.dims, states: decodeStates(view, text) });
          row.text = null;
          run.weight += text.length * (DECODED_WEIGHT - 1);
          this.#cachedWeight += text.length * (DECODED_WEIGHT - 1);
        }
        out.push(row.decoded);
      }
    }
    this.#evict();
    return out;
  }

  async #loadRuns(view: View, hours: SealedHour[]): Promise<Map<string, CachedRun>> {
    const result = new Map<string, CachedRun>();
    const missing: SealedHour[] = [];
    const waiting: Array<Promise<void>> = [];
    for (const sealed of hours) {
      const cached = this.#runs.get(sealed.runId);
      if (cached !== undefined) {
        // Refresh LRU position.
        this.#runs.delete(sealed.runId);
        this.#runs.set(sealed.runId, cached);
        result.set(sealed.runId, cached);
        continue;
      }
      const loading = this.#loading.get(sealed.runId);
      if (loading !== undefined) {
        waiting.push(loading.then((run) => void result.set(sealed.runId, run)));
        continue;
      }
      if (!missing.some((other) => other.runId === sealed.runId)) missing.push(sealed);
    }
    if (missing.length > 0) {
      const batch = this.#readRunFiles(view, missing);
      for (const sealed of missing) {
        const one = batch.then((runs) => runs.get(sealed.runId)!);
        this.#loading.set(sealed.runId, one);
        one.then(
          (run) => {
            this.#loading.delete(sealed.runId);
            this.#runs.set(sealed.runId, run);
            this.#cachedWeight += run.weight;
          },
          () => this.#loading.delete(sealed.runId),
        );
        waiting.push(one.then((run) => void result.set(sealed.runId, run)));
      }
    }
    await Promise.all(waiting);
    return result;
  }

  async #readRunFiles(view: View, hours: SealedHour[]): Promise<Map<string, CachedRun>> {
    const keys = hours.map((sealed) => runParquetKey(view.name, view.version, sealed.hour, sealed.runId));
    const { paths, result: byPath } = await this.#withRunFiles(keys, (connection, local) =>
      readRunParquets(connection, local),
    );
    const runs = new Map<string, CachedRun>();
    hours.forEach((sealed, index) => {
      const rows = (byPath.get(paths[index]!) ?? []).map(toCachedRow);
      runs.set(sealed.runId, {
        rows,
        weight: rows.reduce((sum, row) => sum + (row.text?.length ?? 0) + 64, 0),
      });
    });
    return runs;
  }

  /**
   * One sealed run finished into COPY text for the exporter (core's `SealedRunTextReader`): read
   * once from its file, column-wise by DuckDB, without building or caching a row object. The
   * serving path (`readPartials`) and its cache are untouched.
   */
  async readRunText(viewName: string, run: SealedHour, options: RunTextOptions): Promise<RunText> {
    const view = this.#deps.catalog.view(viewName);
    const key = runParquetKey(view.name, view.version, run.hour, run.runId);
    const { result } = await this.#withRunFiles([key], (connection, [path]) =>
      readRunText(connection, view, path!, options),
    );
    return result;
  }

  /** Runs `work` over local copies of the run files (the store's own, or downloaded for it). */
  async #withRunFiles<T>(
    keys: string[],
    work: (connection: DuckDBConnection, paths: string[]) => Promise<T>,
  ): Promise<{ paths: string[]; result: T }> {
    const { store, engine, options } = this.#deps;
    const local = keys.map((key) => store.localPath(key));
    let dir: string | null = null;
    try {
      let paths: string[];
      if (local.every((path) => path !== null)) {
        paths = local as string[];
      } else {
        await mkdir(options.tempDirectory, { recursive: true });
        dir = await mkdtemp(join(options.tempDirectory, 'reader-'));
        const target = dir;
        paths = await mapWithConcurrency(keys, options.downloadConcurrency, async (key, index) => {
          const path = join(target, `${index}.parquet`);
          await store.download(key, path);
          return path;
        });
      }
      const result = await engine.withConnection((connection) => work(connection, paths));
      return { paths, result };
    } catch (error) {
      throw notFoundOr(error, keys);
    } finally {
      if (dir !== null) await rm(dir, { recursive: true, force: true });
    }
  }

  #evict(): void {
    for (const [runId, run] of this.#runs) {
      if (this.#cachedWeight <= this.#deps.options.maxCachedStateBytes) break;
      this.#runs.delete(runId);
      this.#cachedWeight -= run.weight;
    }
  }

  /**
   * Sealed hours (within the catch-up window) whose inputs changed since their run: an object
   * added, removed or rewritten. An hour whose partitions are now empty is not stale: raw logs
   * past their retention are gone, and recomputing would erase the hour.
   */
  async staleHours(viewName: string): Promise<number[]> {
    const { catalog } = this.#deps;
    const view = catalog.view(viewName);
    const now = this.#deps.now();
    const pointers = await this.#pointersIn(view, {
      from: hourStart(now) - this.#deps.options.catchUpMaxHours * HOUR_MS,
      to: hourStart(now) + HOUR_MS,
    });
    return staleAmong(
      this.#deps.store,
      view,
      catalog.stream(view.stream),
      pointers.map(({ pointer }) => pointer),
    );
  }

  async runHistory(viewName: string, limit: number): Promise<RunRecord[]> {
    const view = this.#deps.catalog.view(viewName);
    return this.#deps.history === null ? [] : this.#deps.history.list(view.name, limit);
  }
}

/**
 * The hours among these pointers whose current input listing (under the view's stream's raw-log
 * root) differs from their fingerprint.
 */
export async function staleAmong(
  store: ObjectStore,
  view: View,
  stream: Stream,
  pointers: readonly HourPointer[],
): Promise<number[]> {
  const partitionHours = new Set(pointers.flatMap((pointer) => partitionHoursFor(view, pointer.hour)));
  const listed = await listInputs(store, partitionHours, { lakePrefix: stream.lakePrefix });
  const stale: number[] = [];
  for (const pointer of pointers) {
    const current = inputFingerprint(
      partitionHoursFor(view, pointer.hour).flatMap((hour) => listed.get(hour) ?? []),
    );
    if (current.length === 0 && pointer.inputs.length > 0) continue;
    if (!sameFingerprint(pointer.inputs, current)) stale.push(pointer.hour);
  }
  return stale.sort((a, b) => a - b);
}

function toCachedRow(row: EncodedPartialRow): CachedRow {
  return { bucket: row.bucket, dims: row.dims, text: row.states, decoded: null };
}

function dimText(value: PartialRow['dims'][number] | undefined): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** Filter entries as (dimension index, value); an unknown dimension is a query error. */
function compileFilter(view: View, filter: DimensionFilter): Array<[number, string]> {
  return Object.entries(filter).map(([name, value]) => {
    const index = view.dimensions.indexOf(name as View['dimensions'][number]);
    if (index < 0) {
      throw new TandemError(
        'TANDEM_ERR_QUERY_INVALID',
        `"${name}" is not a dimension of view ${view.name}; filter on ${view.dimensions.join(', ') || '(none)'}`,
        { details: { view: view.name, parameter: name } },
      );
    }
    return [index, String(value)];
  });
}

/** Cached rows are shared by every caller, so they are frozen: a merge must build new objects. */
function freezeRow(row: PartialRow): PartialRow {
  for (const cells of Object.values(row.states)) Object.freeze(cells as Cells);
  Object.freeze(row.states);
  Object.freeze(row.dims);
  return Object.freeze(row);
}

function notFoundOr(error: unknown, keys: string[]): unknown {
  if (error instanceof TandemError) {
    if (error.code === 'TANDEM_ERR_LAKE_NOT_FOUND') {
      return new TandemError(
        'TANDEM_ERR_LAKE_NOT_FOUND',
        `a batch run file is gone (a newer run replaced it and GC removed it); list the sealed hours again and retry`,
        { cause: error, retryable: true, details: { keys: keys.slice(0, 5) } },
      );
    }
    return error;
  }
  const message = (error as Error)?.message ?? String(error);
  if (/No files found|does not exist|No such file/i.test(message)) {
    return new TandemError(
      'TANDEM_ERR_LAKE_NOT_FOUND',
      `a batch run file is gone (a newer run replaced it and GC removed it); list the sealed hours again and retry`,
      { cause: error, retryable: true, details: { keys: keys.slice(0, 5) } },
    );
  }
  return new TandemError('TANDEM_ERR_LAKE_IO', `could not read batch run files: ${message}`, {
    cause: error,
    details: { keys: keys.slice(0, 5) },
  });
}

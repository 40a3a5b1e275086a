// The hour pointer: the one mutable object per (view, version, hour). Readers follow it and only it,
// so an hour is published exactly when its pointer names a run whose Parquet file already exists.
import { TandemError, type TimeRange } from '@tandem/core';
import type { ObjectStore } from '@tandem/lake';

export const POINTER_FORMAT = 'tandem.batch.pointer/1';

/** One input object as the run saw it; an hour is stale when today's listing differs. */
export interface InputFingerprintEntry {
  key: string;
  size: number;
  etag: string;
}

/** A run a pointer names: the current one, or an older one kept for readers mid-read. */
export interface PointedRun {
  runId: string;
  parquetKey: string;
  quarantineKey: string | null;
  fencingToken: number;
  finishedAt: number;
}

/** Contents of `_pointer.json`. */
export interface HourPointer extends PointedRun {
  format: typeof POINTER_FORMAT;
  view: string;
  viewVersion: number;
  /** Start of the hour, epoch ms. */
  hour: number;
  /** Input lines read (valid, duplicate and bad). */
  rowsIn: number;
  /** Lines that failed parsing or the schema (see the quarantine report). */
  badRows: number;
  /** Valid lines dropped as repeats of an `event_id`. */
  duplicateRows: number;
  /** Partial rows (bucket x dimensions) in the Parquet file. */
  rowsOut: number;
  /** Event-time range of the partitions read (wider than the hour for sessionized views). */
  inputRange: TimeRange;
  /** Every input object, sorted by key. */
  inputs: InputFingerprintEntry[];
  startedAt: number;
  owner: string;
  /** Earlier runs still on disk, newest first (at most keepVersions - 1). */
  previous: PointedRun[];
}

function corrupt(key: string, why: string, cause?: unknown): TandemError {
  return new TandemError(
    'TANDEM_ERR_LAKE_IO',
    `batch pointer "${key}" is not valid (${why}); recompute the hour with \`tandem recompute\` to rewrite it`,
    { cause, details: { key } },
  );
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

function isPointedRun(value: unknown): value is PointedRun {
  const run = value as Partial<PointedRun> | null;
  return (
    typeof run === 'object' &&
    run !== null &&
    typeof run.runId === 'string' &&
    typeof run.parquetKey === 'string' &&
    (run.quarantineKey === null || typeof run.quarantineKey === 'string') &&
    isNumber(run.fencingToken) &&
    isNumber(run.finishedAt)
  );
}

/** Parses and checks a pointer's JSON. */
export function parsePointer(key: string, bytes: Uint8Array | string): HourPointer {
  let value: unknown;
  try {
    value = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch (cause) {
    throw corrupt(key, 'not JSON', cause);
  }
  const pointer = value as Partial<HourPointer> | null;
  if (pointer === null || typeof pointer !== 'object' || pointer.format !== POINTER_FORMAT) {
    throw corrupt(key, `format is not ${POINTER_FORMAT}`);
  }
  const counts = [pointer.hour, pointer.viewVersion, pointer.rowsIn, pointer.badRows, pointer.rowsOut];
  if (
    !isPointedRun(value) ||
    typeof pointer.view !== 'string' ||
    !counts.every(isNumber) ||
    !isNumber(pointer.duplicateRows) ||
    !Array.isArray(pointer.inputs) ||
    !Array.isArray(pointer.previous) ||
    !pointer.previous.every(isPointedRun)
  ) {
    throw corrupt(key, 'a field is missing or has the wrong type');
  }
  return pointer as HourPointer;
}

/**
 * Reads a pointer with the etag to make the next write conditional on. The etag is taken before the
 * body: if the object changes in between, the body is newer (carries a higher token) and a write
 * conditioned on the older etag fails, so the pair is never used to overwrite a newer pointer.
 */
export async function readPointer(
  store: ObjectStore,
  key: string,
): Promise<{ pointer: HourPointer; etag: string } | null> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const info = await store.head(key);
    if (info === null) return null;
    const bytes = await store.get(key);
    if (bytes === null) continue; // deleted in between: look again
    return { pointer: parsePointer(key, bytes), etag: info.etag };
  }
  return null;
}

/** Sorted, comparable fingerprint of a set of inputs. */
export function inputFingerprint(inputs: readonly InputFingerprintEntry[]): InputFingerprintEntry[] {
  return inputs
    .map(({ key, size, etag }) => ({ key, size, etag }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function sameFingerprint(
  a: readonly InputFingerprintEntry[],
  b: readonly InputFingerprintEntry[],
): boolean {
  if (a.length !== b.length) return false;
  const left = inputFingerprint(a);
  const right = inputFingerprint(b);
  return left.every((entry, index) => {
    const other = right[index]!;
    return entry.key === other.key && entry.size === other.size && entry.etag === other.etag;
  });
}

// Where the batch layer keeps its views in the lake, and how run ids are formed. One directory per
// (view, version, hour); inside it immutable run files and the one mutable object, the pointer:
//
//   views/<view>/v<version>/dt=YYYY-MM-DD/hour=HH/_pointer.json            (written last, conditionally)
//   views/<view>/v<version>/dt=YYYY-MM-DD/hour=HH/run-<runId>.parquet      (partial states of one run)
//   views/<view>/v<version>/dt=YYYY-MM-DD/hour=HH/quarantine-<runId>.json  (bad-row report of one run)
//
// A new view version gets a fresh tree, so every hour of it is "missing" and the catch-up rebuilds it.
import { randomBytes } from 'node:crypto';
import { HOUR_MS, TandemError } from '@tandem/core';

const VIEW_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const RUN_ID = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;
const HOUR_DIR = /dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/([^/]+)$/;

export const POINTER_FILE = '_pointer.json';

function assertViewName(view: string): void {
  if (!VIEW_NAME.test(view)) {
    throw new TandemError(
      'TANDEM_ERR_VIEW_INVALID',
      `view name "${view}" cannot be a lake path; use lowercase letters, digits and _`,
      {
        details: { view },
      },
    );
  }
}

function assertHour(hour: number): void {
  if (!Number.isSafeInteger(hour) || hour % HOUR_MS !== 0) {
    throw new TandemError(
      'TANDEM_ERR_QUERY_INVALID',
      `${hour} is not the start of an hour in epoch ms; pass hourStart(ts)`,
      {
        details: { hour },
      },
    );
  }
}

/** `views/<view>/v<version>/`: everything one version of a view has published. */
export function viewVersionPrefix(view: string, version: number): string {
  assertViewName(view);
  return `views/${view}/v${version}/`;
}

/** `views/<view>/v<version>/dt=YYYY-MM-DD/`: one day of a view, the unit of listing. */
export function viewDayPrefix(view: string, version: number, dayMs: number): string {
  return `${viewVersionPrefix(view, version)}dt=${new Date(dayMs).toISOString().slice(0, 10)}/`;
}

/** `views/<view>/v<version>/dt=YYYY-MM-DD/hour=HH/`. */
export function viewHourPrefix(view: string, version: number, hour: number): string {
  assertHour(hour);
  const iso = new Date(hour).toISOString();
  return `${viewVersionPrefix(view, version)}dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`;
}

export function pointerKey(view: string, version: number, hour: number): string {
  return `${viewHourPrefix(view, version, hour)}${POINTER_FILE}`;
}

export function runParquetKey(view: string, version: number, hour: number, runId: string): string {
  return `${viewHourPrefix(view, version, hour)}run-${runId}.parquet`;
}

export function quarantineKey(view: string, version: number, hour: number, runId: string): string {
  return `${viewHourPrefix(view, version, hour)}quarantine-${runId}.json`;
}

/** What a key under a view's tree is: its hour and file name, or null for foreign keys. */
export function parseViewKey(key: string): { hour: number; file: string } | null {
  const match = HOUR_DIR.exec(key);
  if (match === null) return null;
  const hour = Date.parse(`${match[1]}T${match[2]}:00:00Z`);
  return Number.isNaN(hour) ? null : { hour, file: match[3]! };
}

/** The run id in a run or quarantine file name, or null. */
export function runIdOfFile(file: string): string | null {
  const match = /^(?:run-|quarantine-)(.+)\.(?:parquet|json)$/.exec(file);
  return match !== null && RUN_ID.test(match[1]!) ? match[1]! : null;
}

/**
 * A run id: start time (UTC, ms precision) and 32 random bits, e.g. `20240301T031502123Z-9f2c4e1a`.
 * Sorts by start time, is unique across runners, and is safe in file names and logs.
 */
export function newRunId(nowMs: number): string {
  const iso = new Date(nowMs).toISOString(); // 2024-03-01T03:15:02.123Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}${iso.slice(20, 23)}Z`;
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

export function isRunId(text: string): boolean {
  return RUN_ID.test(text);
}

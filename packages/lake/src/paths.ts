// Where things live in the lake: Hive-style raw-log partitions, archiver file names, watermark
// objects, and the key rules both stores enforce so a key means the same thing on disk and in S3.
import { HOUR_MS, TandemError } from '@tandem/core';

/** The web stream's raw-log root; every stream declares its own (`Stream.lakePrefix`). */
export const DEFAULT_LOGS_PREFIX = 'logs';
// Kafka topic names are limited to [a-zA-Z0-9._-] (max 249 chars), so `+` never occurs inside one
// and a file name splits back into (topic, partition, offset) unambiguously.
const TOPIC_PATTERN = /^[A-Za-z0-9._-]{1,249}$/;
const PARTITION_PATTERN = /(?:^|\/)dt=(\d{4})-(\d{2})-(\d{2})\/hour=(\d{2})\//;
const ARCHIVE_FILE_PATTERN = /^([A-Za-z0-9._-]{1,249})\+(\d{1,10})\+(\d{1,19})\.json\.gz$/;

/** `prefix/` for a stream's raw-log root, checked to be a relative key prefix. */
function logsRoot(logsPrefix: string): string {
  assertObjectKey(logsPrefix);
  return `${logsPrefix}/`;
}

/** The raw-log partition of an hour: `<logsPrefix>/dt=YYYY-MM-DD/hour=HH/` (UTC). */
export function logPartitionPrefix(hourMs: number, logsPrefix: string = DEFAULT_LOGS_PREFIX): string {
  if (!Number.isFinite(hourMs) || hourMs % HOUR_MS !== 0) {
    throw new TandemError(
      'TANDEM_ERR_LAKE_IO',
      `logPartitionPrefix needs the start of an hour in epoch ms, got ${hourMs}; pass hourStart(ts)`,
    );
  }
  const iso = new Date(hourMs).toISOString(); // YYYY-MM-DDTHH:...
  return `${logsRoot(logsPrefix)}${hourPartitionPath(iso)}`;
}

function hourPartitionPath(iso: string): string {
  return `dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`;
}

/**
 * The hour (epoch ms) of the raw-log partition a key lies in, or null when the key has no
 * `dt=YYYY-MM-DD/hour=HH/` segments (under any stream's logs prefix).
 */
export function parseLogPartition(key: string): number | null {
  const match = PARTITION_PATTERN.exec(key);
  if (match === null) return null;
  // Bookkeeping trees beside the partitions (`_manifests/dt=…`) are not partitions.
  if (
    key
      .slice(0, match.index)
      .split('/')
      .some((segment) => segment.startsWith('_'))
  )
    return null;
  const [, year, month, day, hour] = match;
  const hourMs = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour));
  // Reject dates that Date.UTC silently rolls over (2024-02-31, hour=24).
  return Number.isFinite(hourMs) &&
    hourPartitionPath(new Date(hourMs).toISOString()) === `dt=${year}-${month}-${day}/hour=${hour}/`
    ? hourMs
    : null;
}

/** `<topic>+<partition>+<firstOffset>.json.gz`, the name of one archived file. */
export function archiveFileName(
  topic: string,
  partition: number,
  firstOffset: string | bigint | number,
): string {
  assertTopic(topic);
  assertPartition(partition);
  const offset = String(firstOffset);
  if (!/^\d{1,19}$/.test(offset)) {
    throw new TandemError('TANDEM_ERR_LAKE_IO', `Kafka offset "${offset}" is not a non-negative integer`);
  }
  return `${topic}+${partition}+${offset}.json.gz`;
}

/** The parts of an archive file name (the last path segment of a key), or null for other files. */
export function parseArchiveFileName(
  keyOrName: string,
): { topic: string; partition: number; firstOffset: string } | null {
  const name = keyOrName.slice(keyOrName.lastIndexOf('/') + 1);
  const match = ARCHIVE_FILE_PATTERN.exec(name);
  if (match === null) return null;
  return { topic: match[1]!, partition: Number(match[2]), firstOffset: match[3]! };
}

/** `<logsPrefix>/_watermarks/<topic>+<partition>.json`, the archiver's per-partition watermark object. */
export function archiverWatermarkKey(
  topic: string,
  partition: number,
  logsPrefix: string = DEFAULT_LOGS_PREFIX,
): string {
  assertTopic(topic);
  assertPartition(partition);
  return `${archiverWatermarkPrefix(undefined, logsPrefix)}${topic}+${partition}.json`;
}

/** The prefix under which a stream's archiver watermark objects (of one topic, if given) live. */
export function archiverWatermarkPrefix(topic?: string, logsPrefix: string = DEFAULT_LOGS_PREFIX): string {
  const root = `${logsRoot(logsPrefix)}_watermarks/`;
  if (topic === undefined) return root;
  assertTopic(topic);
  return `${root}${topic}+`;
}

function assertTopic(topic: string): void {
  if (!TOPIC_PATTERN.test(topic)) {
    throw new TandemError(
      'TANDEM_ERR_LAKE_IO',
      `Kafka topic "${topic}" is not a valid topic name; use 1-249 characters of [A-Za-z0-9._-]`,
    );
  }
}

function assertPartition(partition: number): void {
  if (!Number.isSafeInteger(partition) || partition < 0) {
    throw new TandemError('TANDEM_ERR_LAKE_IO', `Kafka partition ${partition} is not a non-negative integer`);
  }
}

/** Names the stores keep for their own bookkeeping (temp files, locks); never valid keys. */
export const RESERVED_NAME_PREFIX = '.tandem-';

/**
 * Throws unless `key` is a relative, normalized object key: no leading `/`, no empty, `.` or `..`
 * segment, no backslash or NUL, no reserved name. Both stores apply the same rule, so a key that
 * works on `file://` works on `s3://` and cannot escape the lake directory.
 */
export function assertObjectKey(key: string): void {
  const bad = (why: string): TandemError =>
    new TandemError('TANDEM_ERR_LAKE_IO', `object key "${key}" is not valid: ${why}`, {
      details: { key },
    });
  if (key === '' || key.length > 1024) throw bad('it must be 1-1024 characters');
  if (key.includes('\\') || key.includes('\0')) throw bad('it must not contain a backslash or NUL');
  const segments = key.split('/');
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw bad('it must be relative, without empty, "." or ".." segments');
    }
    if (segment.startsWith(RESERVED_NAME_PREFIX))
      throw bad(`names starting with ${RESERVED_NAME_PREFIX} are reserved`);
  }
}

/** Throws unless `prefix` can be listed: empty, or a key prefix without `.`/`..` segments. */
export function assertListPrefix(prefix: string): void {
  if (prefix === '') return;
  const segments = prefix.split('/');
  // The last segment may be partial ("logs/dt=2024-") or empty ("logs/").
  for (const [index, segment] of segments.entries()) {
    const last = index === segments.length - 1;
    if ((!last && segment === '') || segment === '.' || segment === '..' || prefix.startsWith('/')) {
      throw new TandemError(
        'TANDEM_ERR_LAKE_IO',
        `list prefix "${prefix}" is not valid; use a relative key prefix`,
        {
          details: { prefix },
        },
      );
    }
  }
}

// The Redis key schema of the speed layer, in one place: every key a partition's batch touches
// carries one hash tag per (stream, partition), so one Lua script per batch stays inside one Redis
// Cluster slot. Readers fan out over partitions and merge with the measures' own merge, which commutes.
//
// The web stream (`events`) keeps the names of the first build (`{p<N>}`, `speed:partitions`), so
// the data of existing deployments keeps working; every other stream carries its name in the hash
// tag (`{<stream>:p<N>}`) and in its partition set (`speed:<stream>:partitions`). Stream names are
// lower-case letters, digits and _, so no stream's keys can match another's.

/** The stream whose keys keep the first build's names. */
export const LEGACY_KEYS_STREAM = 'events';

/** Separates the parts of a bucket-hash field; JSON never emits a raw tab, so dims stay unambiguous. */
export const FIELD_SEPARATOR = '\t';

/**
 * A field every bucket hash is created with, which is no cell of any view (its dims and measure are
 * empty). Longer than Redis's `hash-max-listpack-value` (64), it makes the hash a real hash table
 * from its first write: a listpack's lookups scan every field, and buckets gain hundreds per batch.
 * Readers skip it. Keep in step with apply-batch-n.lua.
 */
export const BUCKET_MARKER_FIELD =
  '\t\t(tandem speed: this field keeps the bucket a hash table, not a listpack)';

/** Key names of one stream under one prefix (`REDIS_PREFIX`, `tandem` by default). */
export interface SpeedKeys {
  readonly prefix: string;
  /** The stream the keys belong to. */
  readonly stream: string;
  /** SET of the partition numbers the speed layer has ever claimed (outside any hash tag). */
  partitions(): string;
  /**
   * HASH of the registry versions met that break a view: `<version>` → one sentence saying which
   * view and field (outside any hash tag; written once per version by whichever worker meets it).
   */
  schemaWarnings(): string;
  /** Per-partition meta hash: offset, epoch, owner, maxEventTime, watermark, counters. */
  meta(partition: number): string;
  /** Open sessions of the visitors routed to this partition: sessionize key → serialized state. */
  sessions(partition: number): string;
  /** ZSET of the bucket starts present for a view in this partition (member = score = bucket ms). */
  bucketIndex(partition: number, view: string, version: number | string): string;
  /** One bucket of one view in one partition: field `<dimsJson>\t<measure>\t<cell>` → number. */
  bucket(partition: number, view: string, version: number | string, bucketMs: number): string;
  /**
   * The stream's active-namespace pointer (a string key): which namespace — this prefix, or one of
   * its replay namespaces — the stream's readers and live worker use (namespaces.ts). Only
   * meaningful under the base prefix (`REDIS_PREFIX`); the web stream keeps the first build's name.
   */
  activeNamespace(): string;
  /**
   * A `SCAN MATCH` pattern of every key of one partition (meta, sessions, indexes, buckets) and of
   * no other stream's or partition's, for tools that drop a namespace. Valid when the prefix holds
   * no glob characters (`*`, `?`, `[`, `\`).
   */
  partitionPattern(partition: number): string;
}

/**
 * The keys of `stream` (default the web stream `events`) under `prefix`: `<prefix>:{p<N>}:…`,
 * `<prefix>:speed:partitions` and `<prefix>:speed:active` for `events`; `<prefix>:{<stream>:p<N>}:…`,
 * `<prefix>:speed:<stream>:partitions` and `<prefix>:speed:<stream>:active` for any other stream.
 */
export function speedKeys(prefix: string, stream: string = LEGACY_KEYS_STREAM): SpeedKeys {
  const legacy = stream === LEGACY_KEYS_STREAM;
  const tagPrefix = legacy ? `${prefix}:{p` : `${prefix}:{${stream}:p`;
  const tag = (partition: number) => `${tagPrefix}${partition}}`;
  const speed = legacy ? `${prefix}:speed` : `${prefix}:speed:${stream}`;
  return {
    prefix,
    stream,
    partitions: () => `${speed}:partitions`,
    schemaWarnings: () => `${speed}:schema-warnings`,
    meta: (partition) => `${tag(partition)}:meta`,
    sessions: (partition) => `${tag(partition)}:sessions`,
    bucketIndex: (partition, view, version) => `${tag(partition)}:b:${view}:${version}`,
    bucket: (partition, view, version, bucketMs) => `${tag(partition)}:v:${view}:${version}:${bucketMs}`,
    activeNamespace: () => `${speed}:active`,
    partitionPattern: (partition) => `${tag(partition)}:*`,
  };
}

/** The hash field of one cell of one measure for one dimension tuple. */
export function cellField(dimsJson: string, measure: string, cell: string): string {
  return dimsJson + FIELD_SEPARATOR + measure + FIELD_SEPARATOR + cell;
}

/** Splits a bucket-hash field back into its parts; the cell is last, so it may contain anything. */
export function parseCellField(field: string): { dimsJson: string; measure: string; cell: string } | null {
  const first = field.indexOf(FIELD_SEPARATOR);
  if (first < 0) return null;
  const second = field.indexOf(FIELD_SEPARATOR, first + 1);
  if (second < 0) return null;
  return {
    dimsJson: field.slice(0, first),
    measure: field.slice(first + 1, second),
    cell: field.slice(second + 1),
  };
}

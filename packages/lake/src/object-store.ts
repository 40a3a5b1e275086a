// The lake's object-store contract (docs/contracts.md) and the one entry point that opens a store
// for a LAKE_URL: `file:///dir` or `s3://bucket/prefix` over any S3-compatible endpoint.
import type { S3Config } from '@tandem/core';
import { parseLakeUrl, TandemError } from '@tandem/core';
import { FileObjectStore } from './file-store.ts';
import { S3ObjectStore } from './s3-store.ts';

/** One stored object. `key` is relative to the lake root. */
export interface ObjectInfo {
  key: string;
  size: number;
  /** Opaque version tag: changes whenever the object is rewritten; use it for `ifMatch`. */
  etag: string;
  /** Epoch ms. */
  lastModified: number;
}

/** Preconditions and metadata of a `put`. */
export interface PutOptions {
  /** `'*'`: write only if no object exists under the key. */
  ifNoneMatch?: '*';
  /** Write only if the current object's etag equals this one. */
  ifMatch?: string;
  contentType?: string;
}

export interface ObjectStore {
  /** The lake URL this store was opened for. */
  readonly url: string;
  /**
   * Whether `ifNoneMatch` / `ifMatch` hold even between racing writers. Always true for `file://`;
   * for S3 only with `conditionalWrites: 'atomic'`. When false, preconditions still hold against
   * writes that finished earlier, but two concurrent writers may both pass: hold a lease (the batch
   * layer's Redis lease with its fencing token) around writes that must not race.
   */
  readonly atomicConditionalWrites: boolean;
  /** Every object whose key starts with `prefix`, in key order. Keys are relative to the lake root. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  head(key: string): Promise<ObjectInfo | null>;
  /** The object's bytes, or null when missing. */
  get(key: string): Promise<Uint8Array | null>;
  /** Atomic replace (readers see the old or the new object, never a part). Throws `TANDEM_ERR_LAKE_PRECONDITION`. */
  put(key: string, body: Uint8Array | string, options?: PutOptions): Promise<{ etag: string }>;
  /** Uploads a local file; multipart above the store's threshold. */
  putFile(key: string, localPath: string): Promise<{ etag: string }>;
  /** Writes the object to `localPath` (atomically: temp file, then rename). Throws `TANDEM_ERR_LAKE_NOT_FOUND` if missing. */
  download(key: string, localPath: string): Promise<void>;
  /** Removes the object; a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** The object's path on disk for `file://` lakes (so DuckDB can read in place); null for S3. */
  localPath(key: string): string | null;
  close(): Promise<void>;
}

/**
 * How an S3 store enforces `ifNoneMatch` / `ifMatch`:
 * - `atomic`: sends `If-None-Match` / `If-Match` and the server enforces them atomically (AWS S3,
 *   MinIO).
 * - `checked`: sends them and the server checks them, but not atomically under concurrent writers.
 *   S3Proxy 4.x with its filesystem backend: `If-None-Match: *` held in every race we ran, `If-Match`
 *   let two of eight racing writers through in about half the races.
 * - `emulated`: for servers that ignore the headers: HEAD, compare, then PUT.
 */
export type ConditionalWriteMode = 'atomic' | 'checked' | 'emulated';

/**
 * What `openObjectStore` needs: a `LakeConfig` from `loadConfig` fits as is; the rest are tuning
 * knobs with defaults in `defaultLakeOptions`.
 */
export interface LakeOptions {
  url: string;
  s3?: Partial<S3Config>;
  /**
   * See `ConditionalWriteMode`; `probeConditionalWrites` tells whether a server honors the headers
   * at all. The default claims no atomicity, so callers that need it keep their lease unless an
   * operator opts in with `atomic`. @defaultValue 'checked'
   */
  conditionalWrites?: ConditionalWriteMode;
  /** Files at least this large go up as multipart uploads (S3). @defaultValue 64 MiB */
  multipartThresholdBytes?: number;
  /** Part size of multipart uploads; S3 requires ≥ 5 MiB. @defaultValue 16 MiB */
  multipartPartBytes?: number;
  /** Parts of one multipart upload in flight at once. @defaultValue 4 */
  multipartConcurrency?: number;
  /** Concurrent HTTP connections to the S3 endpoint. @defaultValue 64 */
  maxSockets?: number;
  /** Attempts per S3 request (the SDK's retry with backoff). @defaultValue 3 */
  maxAttempts?: number;
  /** `file://`: fsync each written file and its directory before a put returns. @defaultValue true */
  fsync?: boolean;
  /** `file://`: a conditional-write lock older than this is considered abandoned. @defaultValue 30000 */
  lockStaleMs?: number;
  /** A ready S3 client (its owner closes it). Anything whose `send` takes SDK commands fits. */
  s3Client?: import('@aws-sdk/client-s3').S3Client;
}

export type ResolvedLakeOptions = Required<Omit<LakeOptions, 's3' | 's3Client'>> & {
  s3: S3Config;
  s3Client: LakeOptions['s3Client'] | null;
};

export const defaultLakeOptions: Omit<ResolvedLakeOptions, 'url'> = {
  s3: {
    endpoint: null,
    region: 'us-east-1',
    accessKeyId: null,
    secretAccessKey: null,
    forcePathStyle: true,
  },
  conditionalWrites: 'checked',
  multipartThresholdBytes: 64 * 1024 * 1024,
  multipartPartBytes: 16 * 1024 * 1024,
  multipartConcurrency: 4,
  maxSockets: 64,
  maxAttempts: 3,
  fsync: true,
  lockStaleMs: 30_000,
  s3Client: null,
};

const MIN_PART_BYTES = 5 * 1024 * 1024;

function resolveOptions(options: LakeOptions | string): ResolvedLakeOptions {
  const given = typeof options === 'string' ? { url: options } : options;
  const resolved: ResolvedLakeOptions = {
    ...defaultLakeOptions,
    ...Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)),
    url: given.url,
    s3: { ...defaultLakeOptions.s3, ...given.s3 },
    s3Client: given.s3Client ?? null,
  };
  const invalid = (what: string): TandemError =>
    new TandemError('TANDEM_ERR_CONFIG_INVALID', `lake option ${what}`, { details: { option: what } });
  if (!['atomic', 'checked', 'emulated'].includes(resolved.conditionalWrites)) {
    throw invalid(
      `conditionalWrites "${resolved.conditionalWrites}" is not valid; use atomic, checked or emulated`,
    );
  }
  if (!Number.isSafeInteger(resolved.multipartPartBytes) || resolved.multipartPartBytes < MIN_PART_BYTES) {
    throw invalid(`multipartPartBytes must be an integer ≥ ${MIN_PART_BYTES} (S3's minimum part size)`);
  }
  if (resolved.multipartThresholdBytes < resolved.multipartPartBytes) {
    throw invalid('multipartThresholdBytes must be ≥ multipartPartBytes');
  }
  for (const name of ['multipartConcurrency', 'maxSockets', 'maxAttempts'] as const) {
    if (!Number.isSafeInteger(resolved[name]) || resolved[name] < 1)
      throw invalid(`${name} must be an integer ≥ 1`);
  }
  return resolved;
}

/**
 * Opens the object store for a lake URL. Throws `TANDEM_ERR_LAKE_URL` naming the accepted forms for
 * anything but `file:///dir` and `s3://bucket/prefix`. Opening does no I/O; a missing S3 server
 * surfaces on first use as `TANDEM_ERR_SERVICE_UNAVAILABLE`.
 */
export function openObjectStore(lakeConfig: LakeOptions | string): ObjectStore {
  const options = resolveOptions(lakeConfig);
  const location = parseLakeUrl(options.url);
  if (location.kind === 'file') return new FileObjectStore(options, location.dir);
  return new S3ObjectStore(options, location.bucket, location.prefix);
}

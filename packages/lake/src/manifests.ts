// Archive manifests: what the archiver validated, recorded beside each raw-log file it writes, so
// the batch layer can skip re-validating files it can prove are exactly those the archiver wrote.
// A manifest lives outside the partition tree (`logs/_manifests/dt=…/hour=…/<file>.json`): raw-log
// listings never see it, and a file without one (foreign, or a crash between the two writes) is
// simply validated line by line.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { DEFAULT_LOGS_PREFIX, parseLogPartition } from './paths.ts';

/** One archive file's manifest. */
export interface ArchiveManifest {
  version: 1;
  /** Key of the archive file it describes. */
  key: string;
  /** Lines of the decompressed file: each the canonical serialization of one validated event. */
  lines: number;
  /** Size of the stored (gzipped) object in bytes. */
  bytes: number;
  /** SHA-256 (hex) of the stored object's bytes. */
  sha256: string;
  /** The stream's validator fingerprint (core's `Stream.fingerprint`) the lines passed. */
  validator: string;
  /** The largest event (UTF-8 bytes) the archiver accepted. */
  maxEventBytes: number;
  /**
   * A registry-backed stream's schema the lines were decoded and normalized to: its subject, version
   * and schema id (absent for other streams).
   */
  registry?: ArchiveManifestRegistry;
}

/** The registry schema of a registry-backed stream's archive file. */
export interface ArchiveManifestRegistry {
  subject: string;
  version: number;
  schemaId: number;
}

/**
 * The manifest key of the raw-log file `fileKey` (`<logsPrefix>/dt=…/hour=…/<name>`):
 * `<logsPrefix>/_manifests/dt=…/hour=…/<name>.json`; null for other keys.
 */
export function archiveManifestKey(fileKey: string, logsPrefix: string = DEFAULT_LOGS_PREFIX): string | null {
  const root = `${logsPrefix}/`;
  if (!fileKey.startsWith(root) || parseLogPartition(fileKey.slice(root.length - 1)) === null) return null;
  return `${root}_manifests/${fileKey.slice(root.length)}.json`;
}

/** SHA-256 (hex) of a body, as manifests record it. */
export function manifestDigest(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

/** `manifestDigest` of a local file's bytes, streamed (a staged copy of an archive file). */
export async function manifestDigestOfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The manifest of `body`, stored as `fileKey`, holding `lines` validated events. */
export function buildArchiveManifest(
  fileKey: string,
  body: Uint8Array,
  lines: number,
  validator: string,
  maxEventBytes: number,
  registry: ArchiveManifestRegistry | null = null,
): ArchiveManifest {
  return {
    version: 1,
    key: fileKey,
    lines,
    bytes: body.byteLength,
    sha256: manifestDigest(body),
    validator,
    maxEventBytes,
    ...(registry === null ? {} : { registry }),
  };
}

/** The manifest stored as `text` for `fileKey`, or null when it is not one (wrong shape or file). */
export function parseArchiveManifest(text: string, fileKey: string): ArchiveManifest | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const m = value as Record<string, unknown>;
  const count = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (
    m.version !== 1 ||
    m.key !== fileKey ||
    !count(m.lines) ||
    !count(m.bytes) ||
    typeof m.sha256 !== 'string' ||
    !/^[0-9a-f]{64}$/.test(m.sha256) ||
    typeof m.validator !== 'string' ||
    !count(m.maxEventBytes)
  ) {
    return null;
  }
  return m as unknown as ArchiveManifest;
}

// Which staged inputs need no line-by-line validation: NDJSON files whose archive manifest proves
// they are byte for byte what the stream's archiver wrote after validating every event with the
// stream's current rules. The proof is the manifest's SHA-256 of the stored bytes, recomputed here
// from the staged copy; a file without a manifest, validated under another fingerprint, with a looser
// size limit or any other bytes (a foreign writer, a hand edit, a rewrite) keeps the full validation.
import type { Stream } from '@tandem/core';
import {
  archiveManifestKey,
  type ObjectStore,
  mapWithConcurrency,
  manifestDigestOfFile,
  parseArchiveManifest,
} from '@tandem/lake';
import type { StagedFile } from './input-staging.ts';

/**
 * What manifests named the web validator before streams existed (the hand-written `parseEvent`,
 * then `EVENT_VALIDATOR_VERSION`); archivers now write the stream's fingerprint.
 */
export const LEGACY_WEB_VALIDATOR = 'tandem-events/1';

/**
 * The web stream's fingerprint as first declared: its schema reproduces the rules of
 * `LEGACY_WEB_VALIDATOR` verdict for verdict, with the same normalized events (core's parity tests
 * against the hand-written oracle), so files archived before streams existed stay trusted without a
 * migration. Pinned, not read from `webStream`: once the web stream's rules change, its fingerprint
 * moves away from this value and the old manifests lose their trust.
 */
export const LEGACY_WEB_FINGERPRINT = 'events/f3d75fc64347811b';

export interface TrustOptions {
  /** The stream the files belong to: its lake prefix locates manifests, its fingerprint must match. */
  stream: Stream;
  /** The batch layer's own event size limit: a file validated under a larger one is not trusted. */
  maxEventBytes: number;
  /** Manifest reads and file hashes in flight. */
  concurrency: number;
}

/** Whether a manifest's `validator` names the stream's current rules. */
export function validatorMatches(stream: Stream, validator: string): boolean {
  if (validator === stream.fingerprint) return true;
  return stream.fingerprint === LEGACY_WEB_FINGERPRINT && validator === LEGACY_WEB_VALIDATOR;
}

/** `files` with `trusted` set on those whose manifest holds (the array is returned for chaining). */
export async function markTrustedFiles(
  store: ObjectStore,
  files: StagedFile[],
  options: TrustOptions,
): Promise<StagedFile[]> {
  await mapWithConcurrency(
    files.filter((file) => file.format === 'ndjson'),
    options.concurrency,
    async (file) => {
      file.trusted = await manifestHolds(store, file, options);
    },
  );
  return files;
}

async function manifestHolds(store: ObjectStore, file: StagedFile, options: TrustOptions): Promise<boolean> {
  const key = archiveManifestKey(file.key, options.stream.lakePrefix);
  if (key === null) return false;
  const body = await store.get(key);
  if (body === null) return false;
  const manifest = parseArchiveManifest(Buffer.from(body).toString('utf8'), file.key);
  if (
    manifest === null ||
    !validatorMatches(options.stream, manifest.validator) ||
    manifest.maxEventBytes > options.maxEventBytes ||
    manifest.bytes !== file.size
  ) {
    return false;
  }
  return (await manifestDigestOfFile(file.path)) === manifest.sha256;
}

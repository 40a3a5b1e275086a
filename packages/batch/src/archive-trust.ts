// Which staged inputs need no line-by-line validation: NDJSON files whose archive manifest proves
// they are byte for byte what the archiver wrote after validating every event with today's rules.
// The proof is the manifest's SHA-256 of the stored bytes, recomputed here from the staged copy; a
// file without a manifest, with another validator version, a looser size limit or any other bytes
// (a foreign writer, a hand edit, a rewrite) keeps the full validation.
import { EVENT_VALIDATOR_VERSION } from '@tandem/core';
import {
  archiveManifestKey,
  type ObjectStore,
  mapWithConcurrency,
  manifestDigestOfFile,
  parseArchiveManifest,
} from '@tandem/lake';
import type { StagedFile } from './input-staging.ts';

export interface TrustOptions {
  /** The batch layer's own event size limit: a file validated under a larger one is not trusted. */
  maxEventBytes: number;
  /** Manifest reads and file hashes in flight. */
  concurrency: number;
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
  const key = archiveManifestKey(file.key);
  if (key === null) return false;
  const body = await store.get(key);
  if (body === null) return false;
  const manifest = parseArchiveManifest(Buffer.from(body).toString('utf8'), file.key);
  if (
    manifest === null ||
    manifest.validator !== EVENT_VALIDATOR_VERSION ||
    manifest.maxEventBytes > options.maxEventBytes ||
    manifest.bytes !== file.size
  ) {
    return false;
  }
  return (await manifestDigestOfFile(file.path)) === manifest.sha256;
}

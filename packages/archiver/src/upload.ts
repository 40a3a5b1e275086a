// Uploading a closed segment's files: each gzipped on the libuv pool and put into the lake with
// its manifest, at most `uploadConcurrency` at a time over all partitions, retried with backoff.
//
// Not @aws-sdk/lib-storage: a file is at most `maxSegmentBytes` (16 MiB) of NDJSON before gzip,
// one PUT through the ObjectStore (which also serves file:// lakes), so multipart buys nothing.
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { defaultEventParseOptions, isRetryable, TandemError } from '@tandem/core';
import { archiveFileName, archiveManifestKey, buildArchiveManifest, logPartitionPrefix } from '@tandem/lake';
import type { ArchiverContext } from './archiver-context.ts';
import { Limiter } from './limiter.ts';
import type { SealedFile } from './segment-builder.ts';

const gzip = promisify(gzipCallback);
const MAX_BACKOFF_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Writes segments' files into the lake, bounded by the archiver's upload concurrency. */
export class SegmentUploader {
  readonly #context: ArchiverContext;
  readonly #limiter: Limiter;

  constructor(context: ArchiverContext) {
    this.#context = context;
    this.#limiter = new Limiter(context.options.uploadConcurrency);
  }

  /** Uploads one segment's files (and their manifests); resolves with the files' keys. */
  uploadFiles(partition: number, files: readonly SealedFile[]): Promise<string[]> {
    return Promise.all(files.map((file) => this.#limiter.run(() => this.#uploadFile(partition, file))));
  }

  async #uploadFile(partition: number, file: SealedFile): Promise<string> {
    const { options, metrics, counters } = this.#context;
    const { topic, stream } = options;
    const key =
      logPartitionPrefix(file.hour, stream.lakePrefix) + archiveFileName(topic, partition, file.firstOffset);
    const started = performance.now();
    const body = await gzip(file.ndjson, { level: options.gzipLevel });
    await this.#putWithRetries(key, body, 'application/gzip');
    // The manifest goes second: a crash between the two leaves a file without one, which the batch
    // layer validates line by line; a rewrite after a crash replaces both under the same names.
    const manifest = buildArchiveManifest(
      key,
      body,
      file.events,
      // Names the stream's rules: a schema change re-validates old files instead of trusting them.
      stream.fingerprint,
      options.events.maxBytes ?? defaultEventParseOptions.maxBytes,
      // A registry-backed stream's lines are decoded to this version's schema.
      stream.registry === null
        ? null
        : {
            subject: stream.registry.subject,
            version: stream.registry.version,
            schemaId: stream.registry.schemaId,
          },
    );
    await this.#putWithRetries(
      archiveManifestKey(key, stream.lakePrefix)!,
      JSON.stringify(manifest),
      'application/json',
    );
    counters.filesWritten++;
    metrics.files.inc({ topic });
    metrics.bytes.inc({ topic, stage: 'ndjson' }, file.ndjson.byteLength);
    metrics.bytes.inc({ topic, stage: 'gzip' }, body.byteLength);
    metrics.uploadSeconds.observe({ topic }, (performance.now() - started) / 1000);
    return key;
  }

  // Not p-retry: the loop also stops once the archiver has stopped and wraps the last error in a
  // coded TandemError; p-retry would need both as hooks for the same twenty lines.
  async #putWithRetries(key: string, body: Uint8Array | string, contentType: string): Promise<void> {
    const { options, store, logger } = this.#context;
    for (let attempt = 0; ; attempt++) {
      try {
        await store.put(key, body, { contentType });
        return;
      } catch (error) {
        if (!isRetryable(error) || attempt >= options.uploadRetries || this.#context.stopped()) {
          throw new TandemError(
            'TANDEM_ERR_ARCHIVER_UPLOAD',
            `could not upload "${key}" to ${store.url} after ${attempt + 1} attempt(s); ` +
              'the archiver stopped without committing it, so it is re-read on restart',
            { cause: error, details: { key, attempts: attempt + 1 } },
          );
        }
        const delay = Math.min(MAX_BACKOFF_MS, options.retryBackoffMs * 2 ** attempt);
        logger.warn({ err: error, key, attempt: attempt + 1, delay }, 'upload failed; retrying');
        await sleep(delay);
      }
    }
  }
}

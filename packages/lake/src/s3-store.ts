// The `s3://bucket/prefix` object store over any S3-compatible endpoint (AWS, MinIO, S3Proxy) with
// path-style addressing. Keys are relative to the prefix. Large files go up as hand-rolled
// multipart uploads (bounded parallel parts, aborted on failure) so no extra SDK package is needed.
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { serviceUnavailable, TandemError } from '@tandem/core';
import type { ObjectInfo, ObjectStore, PutOptions, ResolvedLakeOptions } from './object-store.ts';
import { mapWithConcurrency } from './parallel.ts';
import { assertListPrefix, assertObjectKey, RESERVED_NAME_PREFIX } from './paths.ts';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
]);

interface SdkError {
  name?: string;
  code?: string;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number };
  $fault?: 'client' | 'server';
}

function statusOf(error: unknown): number | undefined {
  return (error as SdkError | null)?.$metadata?.httpStatusCode;
}

function isNetworkError(error: unknown): boolean {
  const candidate = error as SdkError | null;
  if (candidate === null || typeof candidate !== 'object') return false;
  if (candidate.code !== undefined && NETWORK_CODES.has(candidate.code)) return true;
  if (candidate.name === 'TimeoutError') return true;
  // Node's happy-eyeballs connect reports ECONNREFUSED for ::1 and 127.0.0.1 as an AggregateError.
  return Array.isArray(candidate.errors) && candidate.errors.some(isNetworkError);
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^(W\/)?"|"$/g, '');
}

export class S3ObjectStore implements ObjectStore {
  readonly url: string;
  readonly atomicConditionalWrites: boolean;
  readonly #client: S3Client;
  readonly #ownsClient: boolean;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #endpoint: string;
  readonly #options: ResolvedLakeOptions;

  constructor(options: ResolvedLakeOptions, bucket: string, prefix: string) {
    this.url = options.url;
    this.#options = options;
    this.#bucket = bucket;
    this.#prefix = prefix === '' ? '' : `${prefix}/`;
    this.atomicConditionalWrites = options.conditionalWrites === 'atomic';
    const { s3 } = options;
    this.#endpoint = s3.endpoint ?? `https://s3.${s3.region}.amazonaws.com`;
    if (options.s3Client !== null && options.s3Client !== undefined) {
      this.#client = options.s3Client;
      this.#ownsClient = false;
    } else {
      this.#client = new S3Client({
        region: s3.region,
        ...(s3.endpoint === null ? {} : { endpoint: s3.endpoint }),
        forcePathStyle: s3.forcePathStyle,
        ...(s3.accessKeyId !== null && s3.secretAccessKey !== null
          ? { credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } }
          : {}),
        maxAttempts: options.maxAttempts,
        // Flexible checksums (CRC32 trailers) are on by default in recent SDKs and not every
        // S3-compatible server understands them; send them only where the API requires them.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestHandler: {
          connectionTimeout: 5_000,
          requestTimeout: 120_000,
          httpAgent: new HttpAgent({ keepAlive: true, maxSockets: options.maxSockets }),
          httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: options.maxSockets }),
        },
      });
      this.#ownsClient = true;
    }
  }

  localPath(key: string): null {
    assertObjectKey(key);
    return null;
  }

  #objectKey(key: string): string {
    assertObjectKey(key);
    return this.#prefix + key;
  }

  /** Maps an SDK failure to a Tandem error that says what to do. */
  #fail(action: string, key: string, error: unknown): TandemError {
    if (error instanceof TandemError) return error;
    if (isNetworkError(error)) return serviceUnavailable('S3', this.#endpoint, error);
    const name = (error as SdkError | null)?.name;
    const status = statusOf(error);
    if (name === 'NoSuchBucket') {
      return new TandemError(
        'TANDEM_ERR_LAKE_NOT_FOUND',
        `bucket "${this.#bucket}" does not exist at ${this.#endpoint}; create it or fix LAKE_URL`,
        { cause: error, details: { bucket: this.#bucket, key } },
      );
    }
    if (
      status === 403 ||
      name === 'AccessDenied' ||
      name === 'InvalidAccessKeyId' ||
      name === 'SignatureDoesNotMatch'
    ) {
      return new TandemError(
        'TANDEM_ERR_LAKE_IO',
        `S3 at ${this.#endpoint} refused to ${action} "${key}" (${name ?? status}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY`,
        { cause: error, details: { key, status } },
      );
    }
    const retryable = (status !== undefined && (status >= 500 || status === 429)) || name === 'SlowDown';
    return new TandemError(
      'TANDEM_ERR_LAKE_IO',
      `could not ${action} "${key}" in ${this.url}: ${(error as Error)?.message ?? String(error)}`,
      { cause: error, retryable, details: { key, status } },
    );
  }

  #preconditionFailed(key: string, condition: string, cause?: unknown): TandemError {
    return new TandemError(
      'TANDEM_ERR_LAKE_PRECONDITION',
      `precondition ${condition} failed for "${key}": another writer changed it; re-read and retry`,
      // 409 ConditionalRequestConflict: a concurrent conditional write is in progress; may pass later.
      { cause, retryable: statusOf(cause) === 409, details: { key, condition } },
    );
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const response = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#objectKey(key) }),
      );
      return {
        key,
        size: response.ContentLength ?? 0,
        etag: unquote(response.ETag),
        lastModified: response.LastModified?.getTime() ?? 0,
      };
    } catch (error) {
      if (statusOf(error) === 404 && (error as SdkError).name !== 'NoSuchBucket') return null;
      throw this.#fail('head', key, error);
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const response = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#objectKey(key) }),
      );
      if (response.Body === undefined) return new Uint8Array();
      return await response.Body.transformToByteArray();
    } catch (error) {
      const name = (error as SdkError | null)?.name;
      if (name === 'NoSuchKey' || (statusOf(error) === 404 && name !== 'NoSuchBucket')) return null;
      throw this.#fail('get', key, error);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertListPrefix(prefix);
    let continuationToken: string | undefined;
    do {
      let response: ListObjectsV2CommandOutput;
      try {
        response = await this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: this.#prefix + prefix,
            ContinuationToken: continuationToken,
          }),
        );
      } catch (error) {
        throw this.#fail('list', prefix, error);
      }
      for (const item of response.Contents ?? []) {
        if (item.Key === undefined || !item.Key.startsWith(this.#prefix)) continue;
        const key = item.Key.slice(this.#prefix.length);
        if (key.split('/').some((segment) => segment.startsWith(RESERVED_NAME_PREFIX))) continue;
        yield {
          key,
          size: item.Size ?? 0,
          etag: unquote(item.ETag),
          lastModified: item.LastModified?.getTime() ?? 0,
        };
      }
      continuationToken = response.IsTruncated ? response.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  }

  async put(key: string, body: Uint8Array | string, options: PutOptions = {}): Promise<{ etag: string }> {
    const objectKey = this.#objectKey(key);
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const conditional = options.ifNoneMatch !== undefined || options.ifMatch !== undefined;
    if (conditional && this.#options.conditionalWrites === 'emulated') {
      // Checked against finished writes only (HEAD, then PUT): racing writers need a lease.
      const current = await this.head(key);
      if (options.ifNoneMatch === '*' && current !== null)
        throw this.#preconditionFailed(key, 'If-None-Match: *');
      if (options.ifMatch !== undefined && (current === null || current.etag !== unquote(options.ifMatch))) {
        throw this.#preconditionFailed(key, `If-Match: ${options.ifMatch}`);
      }
    }
    if (!conditional && bytes.byteLength >= this.#options.multipartThresholdBytes) {
      return this.#multipart(key, objectKey, bytes.byteLength, options.contentType, async (start, end) =>
        bytes.subarray(start, end),
      );
    }
    const native = this.#options.conditionalWrites !== 'emulated';
    try {
      const response = await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: objectKey,
          Body: bytes,
          ContentLength: bytes.byteLength,
          ContentType: options.contentType,
          ...(native && options.ifNoneMatch !== undefined ? { IfNoneMatch: options.ifNoneMatch } : {}),
          ...(native && options.ifMatch !== undefined ? { IfMatch: `"${unquote(options.ifMatch)}"` } : {}),
        }),
      );
      return { etag: unquote(response.ETag) || ((await this.head(key))?.etag ?? '') };
    } catch (error) {
      const status = statusOf(error);
      // If-Match on a missing key answers 404 NoSuchKey (AWS and S3Proxy alike): the precondition failed.
      const missingForIfMatch =
        options.ifMatch !== undefined &&
        native &&
        (status === 404 || (error as SdkError).name === 'NoSuchKey') &&
        (error as SdkError).name !== 'NoSuchBucket';
      if (
        status === 412 ||
        status === 409 ||
        missingForIfMatch ||
        (error as SdkError).name === 'PreconditionFailed'
      ) {
        const condition =
          options.ifNoneMatch !== undefined ? 'If-None-Match: *' : `If-Match: ${options.ifMatch}`;
        throw this.#preconditionFailed(key, condition, error);
      }
      throw this.#fail('put', key, error);
    }
  }

  async putFile(key: string, localPath: string): Promise<{ etag: string }> {
    const objectKey = this.#objectKey(key);
    let size: number;
    try {
      size = (await stat(localPath)).size;
    } catch (error) {
      throw new TandemError(
        'TANDEM_ERR_LAKE_IO',
        `cannot upload "${localPath}": ${(error as Error).message}`,
        {
          cause: error,
          details: { key, localPath },
        },
      );
    }
    const handle = await open(localPath, 'r');
    try {
      const readRange = async (start: number, end: number): Promise<Uint8Array> => {
        const buffer = Buffer.allocUnsafe(end - start);
        let filled = 0;
        while (filled < buffer.byteLength) {
          const { bytesRead } = await handle.read(buffer, filled, buffer.byteLength - filled, start + filled);
          if (bytesRead === 0)
            throw new TandemError('TANDEM_ERR_LAKE_IO', `"${localPath}" shrank while it was uploaded`);
          filled += bytesRead;
        }
        return buffer;
      };
      if (size < this.#options.multipartThresholdBytes) return await this.put(key, await readRange(0, size));
      return await this.#multipart(key, objectKey, size, undefined, readRange);
    } finally {
      await handle.close();
    }
  }

  async #multipart(
    key: string,
    objectKey: string,
    size: number,
    contentType: string | undefined,
    readRange: (start: number, end: number) => Promise<Uint8Array>,
  ): Promise<{ etag: string }> {
    const partBytes = this.#options.multipartPartBytes;
    let uploadId: string | undefined;
    try {
      const created = await this.#client.send(
        new CreateMultipartUploadCommand({ Bucket: this.#bucket, Key: objectKey, ContentType: contentType }),
      );
      uploadId = created.UploadId;
      if (uploadId === undefined)
        throw new TandemError('TANDEM_ERR_LAKE_IO', 'the S3 server returned no UploadId');
      const partCount = Math.ceil(size / partBytes);
      const parts = await mapWithConcurrency(
        Array.from({ length: partCount }, (_, index) => index),
        this.#options.multipartConcurrency,
        async (index) => {
          const start = index * partBytes;
          const body = await readRange(start, Math.min(size, start + partBytes));
          const response = await this.#client.send(
            new UploadPartCommand({
              Bucket: this.#bucket,
              Key: objectKey,
              UploadId: uploadId,
              PartNumber: index + 1,
              Body: body,
              ContentLength: body.byteLength,
            }),
          );
          return { PartNumber: index + 1, ETag: response.ETag };
        },
      );
      const completed = await this.#client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.#bucket,
          Key: objectKey,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
      return { etag: unquote(completed.ETag) || ((await this.head(key))?.etag ?? '') };
    } catch (error) {
      if (uploadId !== undefined) {
        await this.#client
          .send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: objectKey, UploadId: uploadId }))
          .catch(() => undefined); // the bucket's lifecycle rule reaps what an abort could not
      }
      throw this.#fail('upload (multipart)', key, error);
    }
  }

  async download(key: string, localPath: string): Promise<void> {
    const temp = `${localPath}${RESERVED_NAME_PREFIX}${randomUUID()}`;
    try {
      const response = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#objectKey(key) }),
      );
      await mkdir(dirname(localPath), { recursive: true });
      await pipeline(response.Body as Readable, createWriteStream(temp));
      await rename(temp, localPath);
    } catch (error) {
      await rm(temp, { force: true });
      const name = (error as SdkError | null)?.name;
      if (name === 'NoSuchKey' || (statusOf(error) === 404 && name !== 'NoSuchBucket')) {
        throw new TandemError('TANDEM_ERR_LAKE_NOT_FOUND', `"${key}" does not exist in ${this.url}`, {
          cause: error,
          details: { key },
        });
      }
      throw this.#fail('download', key, error);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#objectKey(key) }));
    } catch (error) {
      if (statusOf(error) === 404 && (error as SdkError).name !== 'NoSuchBucket') return;
      throw this.#fail('delete', key, error);
    }
  }

  async close(): Promise<void> {
    if (this.#ownsClient) this.#client.destroy();
  }
}

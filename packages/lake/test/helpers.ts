// Test helpers: a fresh lake per test, on a temp directory or under a unique prefix of the local
// stack's S3Proxy bucket, with teardown that removes everything the test wrote.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LakeOptions, mapWithConcurrency, type ObjectStore, openObjectStore } from '../src/index.ts';

export type LakeKind = 'file' | 's3';

/** The local stack's S3 endpoint and credentials (overridable by the usual variables). */
export function s3TestSettings(): NonNullable<LakeOptions['s3']> & { bucket: string } {
  return {
    bucket: process.env.TANDEM_TEST_BUCKET ?? 'tandem',
    endpoint: process.env.S3_ENDPOINT ?? 'http://127.0.0.1:9000',
    region: process.env.AWS_REGION ?? 'us-east-1',
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'tandem',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'tandemsecret',
    forcePathStyle: true,
  };
}

export interface TestLake {
  options: LakeOptions;
  store: ObjectStore;
  /** Removes every object of the lake and closes the store. */
  teardown(): Promise<void>;
}

export async function createTestLake(kind: LakeKind, extra: Partial<LakeOptions> = {}): Promise<TestLake> {
  if (kind === 'file') {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-lake-test-'));
    const options: LakeOptions = { url: `file://${dir}`, ...extra };
    const store = openObjectStore(options);
    return {
      options,
      store,
      teardown: async () => {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const { bucket, ...s3 } = s3TestSettings();
  const options: LakeOptions = { url: `s3://${bucket}/test-${randomUUID()}`, s3, ...extra };
  const store = openObjectStore(options);
  return {
    options,
    store,
    teardown: async () => {
      const keys: string[] = [];
      for await (const info of store.list('')) keys.push(info.key);
      const errors: unknown[] = [];
      await mapWithConcurrency(keys, 16, (key) =>
        store.delete(key).catch((error: unknown) => errors.push(error)),
      );
      await store.close();
      if (errors.length > 0)
        throw new AggregateError(errors, `teardown could not delete ${errors.length} objects`);
    },
  };
}

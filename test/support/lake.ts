// A fresh lake per test, on a temp directory or under a unique prefix of the local S3Proxy's bucket,
// with a teardown that removes everything the test wrote.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LakeOptions, mapWithConcurrency, type ObjectStore, openObjectStore } from '@tandem/lake';
import { s3Settings, uniqueName } from './stack.ts';

export type LakeKind = 'file' | 's3';

export interface TestLake {
  kind: LakeKind;
  options: LakeOptions;
  store: ObjectStore;
  /** Removes every object of the lake and closes the store. */
  teardown(): Promise<void>;
}

/** A lake of its own: a temp directory, or `s3://<bucket>/test-<uuid>` on the local S3Proxy. */
export async function createTestLake(kind: LakeKind, extra: Partial<LakeOptions> = {}): Promise<TestLake> {
  let options: LakeOptions;
  let teardown: (store: ObjectStore) => Promise<void>;
  if (kind === 'file') {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-lake-test-'));
    options = { url: `file://${dir}`, ...extra };
    teardown = async (store) => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    };
  } else {
    const { bucket, ...s3 } = s3Settings();
    options = { url: `s3://${bucket}/${uniqueName()}`, s3, ...extra };
    teardown = emptyAndClose;
  }
  const store = openObjectStore(options);
  return { kind, options, store, teardown: () => teardown(store) };
}

async function emptyAndClose(store: ObjectStore): Promise<void> {
  const keys: string[] = [];
  for await (const info of store.list('')) keys.push(info.key);
  // Every delete is tried and the store closed even when some fail, so one bad key neither hides
  // the others nor leaks the store's sockets.
  const errors: unknown[] = [];
  await mapWithConcurrency(keys, 16, (key) =>
    store.delete(key).catch((error: unknown) => errors.push(error)),
  );
  await store.close();
  if (errors.length > 0)
    throw new AggregateError(errors, `teardown could not delete ${errors.length} objects`);
}

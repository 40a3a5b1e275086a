// The ObjectStore contract, run against a temp file:// lake and the local stack's S3Proxy alike.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTandemError, type TandemError } from '@tandem/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  downloadAll,
  listAll,
  type ObjectStore,
  openObjectStore,
  probeConditionalWrites,
} from '../src/index.ts';
import { createTestLake, type LakeKind, type TestLake } from '@tandem/test-support/lake.ts';
import { s3Settings } from '@tandem/test-support/stack.ts';

const text = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : Buffer.from(bytes).toString('utf8');

async function expectCode(promise: Promise<unknown>, code: TandemError['code']): Promise<TandemError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(isTandemError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
  return error as TandemError;
}

describe('openObjectStore', () => {
  it('names the accepted forms for an unsupported LAKE_URL', () => {
    let caught: unknown;
    try {
      openObjectStore('ftp://x');
    } catch (error) {
      caught = error;
    }
    expect(isTandemError(caught, 'TANDEM_ERR_LAKE_URL')).toBe(true);
    expect((caught as Error).message).toBe(
      'LAKE_URL "ftp://x" is not supported; use s3://bucket/prefix or file:///dir',
    );
    expect(() => openObjectStore('s3:///no-bucket')).toThrow(/is not supported/);
    expect(() => openObjectStore('file://host/dir')).toThrow(/is not supported/);
  });

  it('reports a missing S3 server as unavailable, naming the endpoint', async () => {
    const store = openObjectStore({
      url: 's3://tandem/x',
      s3: { ...s3Settings(), endpoint: 'http://127.0.0.1:9' },
      maxAttempts: 1,
    });
    const error = await expectCode(store.get('a'), 'TANDEM_ERR_SERVICE_UNAVAILABLE');
    expect(error.message).toContain('S3 is not reachable at http://127.0.0.1:9');
    expect(error.retryable).toBe(true);
    await store.close();
  });

  it('reports a missing bucket as not found', async () => {
    const store = openObjectStore({ url: `s3://no-such-bucket-${randomUUID()}/x`, s3: s3Settings() });
    const error = await expectCode(store.put('a', 'x'), 'TANDEM_ERR_LAKE_NOT_FOUND');
    expect(error.message).toMatch(/bucket "no-such-bucket-.*" does not exist/);
    await store.close();
  });
});

describe.each<LakeKind>(['file', 's3'])('ObjectStore over %s://', (kind) => {
  let lake: TestLake;
  let store: ObjectStore;
  let scratch: string;

  beforeAll(async () => {
    // Small multipart settings so the multipart path runs on a 12 MiB file.
    lake = await createTestLake(kind, {
      multipartThresholdBytes: 6 * 1024 * 1024,
      multipartPartBytes: 5 * 1024 * 1024,
    });
    store = lake.store;
    scratch = await mkdtemp(join(tmpdir(), 'tandem-lake-scratch-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
    await lake?.teardown();
  });

  it('puts, gets and heads; missing objects are null', async () => {
    const { etag } = await store.put('a/b/c.json', '{"x":1}');
    expect(text(await store.get('a/b/c.json'))).toBe('{"x":1}');
    const info = await store.head('a/b/c.json');
    expect(info).toMatchObject({ key: 'a/b/c.json', size: 7, etag });
    expect(info!.lastModified).toBeGreaterThan(Date.now() - 600_000);
    expect(await store.get('a/b/missing.json')).toBeNull();
    expect(await store.head('a/b/missing.json')).toBeNull();
    expect(await store.get('a/b')).toBeNull(); // a "directory" is not an object
  });

  it('replaces an object on put and changes its etag', async () => {
    const first = await store.put('replace/x', 'one');
    const second = await store.put('replace/x', 'two-two');
    expect(second.etag).not.toBe(first.etag);
    expect(text(await store.get('replace/x'))).toBe('two-two');
    expect((await store.head('replace/x'))!.etag).toBe(second.etag);
  });

  it('keeps the object and its etag when a put rewrites identical bytes', async () => {
    // S3 derives a simple upload's ETag from its bytes; the file store keeps the file itself. An
    // archiver's rewrite after a crash must not look like new input to a sealed hour.
    const first = await store.put('rewrite/x', 'same bytes');
    const again = await store.put('rewrite/x', 'same bytes');
    expect(again.etag).toBe(first.etag);
    expect((await store.head('rewrite/x'))!.etag).toBe(first.etag);
    const changed = await store.put('rewrite/x', 'same bytez');
    expect(changed.etag).not.toBe(first.etag);
    expect(text(await store.get('rewrite/x'))).toBe('same bytez');
  });

  it('honors ifNoneMatch: * against an existing object', async () => {
    await store.put('cond/once', 'first', { ifNoneMatch: '*' });
    await expectCode(store.put('cond/once', 'second', { ifNoneMatch: '*' }), 'TANDEM_ERR_LAKE_PRECONDITION');
    expect(text(await store.get('cond/once'))).toBe('first');
  });

  it('honors ifMatch against the current etag', async () => {
    const { etag } = await store.put('cond/pointer', 'v1');
    const next = await store.put('cond/pointer', 'v2', { ifMatch: etag });
    await expectCode(store.put('cond/pointer', 'v3', { ifMatch: etag }), 'TANDEM_ERR_LAKE_PRECONDITION');
    await expectCode(store.put('cond/absent', 'v1', { ifMatch: etag }), 'TANDEM_ERR_LAKE_PRECONDITION');
    expect(text(await store.get('cond/pointer'))).toBe('v2');
    await store.put('cond/pointer', 'v3', { ifMatch: next.etag });
    expect(text(await store.get('cond/pointer'))).toBe('v3');
  });

  // Only the file store claims atomic conditional writes; S3Proxy checks If-Match, but not
  // atomically (infra/s3proxy/README.md), so there the batch layer's lease is the fence.
  const itWhereAtomic = kind === 'file' ? it : () => undefined;
  itWhereAtomic('lets exactly one of racing conditional writers win where it claims atomicity', async () => {
    expect(store.atomicConditionalWrites).toBe(true);
    const creators = await Promise.allSettled(
      Array.from({ length: 10 }, (_, index) =>
        store.put('race/create', `writer-${index}`, { ifNoneMatch: '*' }),
      ),
    );
    expect(creators.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    for (const result of creators) {
      if (result.status === 'rejected')
        expect(isTandemError(result.reason, 'TANDEM_ERR_LAKE_PRECONDITION')).toBe(true);
    }
    const { etag } = await store.put('race/pointer', 'v1');
    const swaps = await Promise.allSettled(
      Array.from({ length: 8 }, (_, index) => store.put('race/pointer', `v2-${index}`, { ifMatch: etag })),
    );
    expect(swaps.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
  });

  it('lists keys under a prefix in key order, relative to the lake root', async () => {
    const keys = [
      'logs/dt=2024-01-01/hour=00/t+0+0.json.gz',
      'logs/dt=2024-01-01/hour=00/t+0+10.json.gz',
      'logs/dt=2024-01-01/hour=01/t+1+5.json.gz',
      'logs/dt=2024-01-02/hour=00/t+0+20.json.gz',
      'logs/_watermarks/t+0.json',
      'logs.txt',
    ];
    for (const key of [...keys].reverse()) await store.put(key, key);
    const listed = async (prefix: string): Promise<string[]> =>
      (await listAll(store, prefix)).map((info) => info.key);
    expect(await listed('logs/dt=2024-01-01/')).toEqual(keys.slice(0, 3));
    expect(await listed('logs/dt=2024-01-01/hour=00/')).toEqual(keys.slice(0, 2));
    expect(await listed('logs/dt=2024-01')).toEqual(keys.slice(0, 4));
    expect(await listed('logs/_watermarks/')).toEqual(['logs/_watermarks/t+0.json']);
    expect(await listed('logs')).toEqual([...keys.slice(4, 5), ...keys.slice(0, 4), 'logs.txt'].sort());
    expect(await listed('nothing/here/')).toEqual([]);
    const [info] = await listAll(store, 'logs/dt=2024-01-02/');
    expect(info).toMatchObject({ key: keys[3], size: keys[3]!.length });
    expect(info!.etag).toBe((await store.head(keys[3]!))!.etag);
  });

  it('uploads files (multipart above the threshold) and downloads them', async () => {
    const small = join(scratch, 'small.bin');
    const large = join(scratch, 'large.bin');
    const smallBytes = randomBytes(1000);
    const largeBytes = randomBytes(12 * 1024 * 1024 + 17);
    await writeFile(small, smallBytes);
    await writeFile(large, largeBytes);
    await store.putFile('files/small.bin', small);
    const { etag } = await store.putFile('files/large.bin', large);
    expect((await store.head('files/large.bin'))!.etag).toBe(etag);
    if (kind === 's3') expect(etag).toMatch(/-3$/); // three parts: 5 + 5 + 2 MiB
    expect(Buffer.compare(Buffer.from((await store.get('files/large.bin'))!), largeBytes)).toBe(0);
    const paths = await downloadAll(store, ['files/small.bin', 'files/large.bin'], join(scratch, 'down'), {
      concurrency: 2,
    });
    expect(paths).toEqual([
      join(scratch, 'down', 'files__small.bin'),
      join(scratch, 'down', 'files__large.bin'),
    ]);
    expect(Buffer.compare(await readFile(paths[0]!), smallBytes)).toBe(0);
    expect(Buffer.compare(await readFile(paths[1]!), largeBytes)).toBe(0);
    await expectCode(store.download('files/missing.bin', join(scratch, 'x')), 'TANDEM_ERR_LAKE_NOT_FOUND');
  });

  it('puts large in-memory bodies (multipart on S3)', async () => {
    const body = randomBytes(7 * 1024 * 1024);
    await store.put('files/large-body.bin', body);
    expect(Buffer.compare(Buffer.from((await store.get('files/large-body.bin'))!), body)).toBe(0);
  });

  it('deletes objects; deleting a missing one is fine', async () => {
    await store.put('del/x', 'x');
    await store.delete('del/x');
    expect(await store.head('del/x')).toBeNull();
    await store.delete('del/x');
  });

  it('exposes local paths only for file lakes', async () => {
    await store.put('local/x.json', 'x');
    const path = store.localPath('local/x.json');
    if (kind === 'file') expect(await readFile(path!, 'utf8')).toBe('x');
    else expect(path).toBeNull();
  });

  it('rejects keys that escape or are not normalized', async () => {
    await expect(store.put('../escape', 'x')).rejects.toThrow(/is not valid/);
    await expect(store.get('/abs')).rejects.toThrow(/is not valid/);
    await expect(store.head('a//b')).rejects.toThrow(/is not valid/);
  });

  // Emulation is the S3 store's fallback for servers that ignore the headers; files never need it.
  const itOnS3 = kind === 's3' ? it : () => undefined;
  itOnS3('checks preconditions with HEAD when emulating them', async () => {
    const emulated = openObjectStore({ ...lake.options, conditionalWrites: 'emulated' });
    try {
      expect(emulated.atomicConditionalWrites).toBe(false);
      const { etag } = await emulated.put('emulated/x', 'v1', { ifNoneMatch: '*' });
      await expectCode(
        emulated.put('emulated/x', 'v2', { ifNoneMatch: '*' }),
        'TANDEM_ERR_LAKE_PRECONDITION',
      );
      await expectCode(
        emulated.put('emulated/x', 'v2', { ifMatch: 'stale' }),
        'TANDEM_ERR_LAKE_PRECONDITION',
      );
      await emulated.put('emulated/x', 'v2', { ifMatch: etag });
      expect(text(await emulated.get('emulated/x'))).toBe('v2');
    } finally {
      await emulated.close();
    }
  });

  it('answers whether conditional writes are enforced', async () => {
    expect(store.atomicConditionalWrites).toBe(kind === 'file');
    expect(await probeConditionalWrites(store)).toBe(true);
    expect(await listAll(store, '_probe/')).toEqual([]);
  });
});

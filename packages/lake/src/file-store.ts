// The `file:///dir` object store: a directory tree whose paths are the keys. Every write goes to a
// temp file in the target directory and is renamed into place, so readers never see a partial file.
//
// Etags are `<inode>-<size>-<mtime ns>` (base 36) from stat, not a content hash: cheap for `list`
// over large lakes, and any rewrite yields a new inode, so the etag changes (consecutive versions
// can never share an inode, because the temp file is created while the old one still exists).
// The exception, as on S3 (where a simple upload's ETag is the MD5 of its bytes): a plain put of
// bytes identical to the object's leaves the object, and its etag, as they are. An archiver that
// re-reads after a crash or a rebalance rewrites the same bytes under the same name, and that must
// not make a sealed hour's input fingerprint look changed.
//
// Preconditions: `ifNoneMatch: '*'` hard-links the finished temp file to the key, which fails with
// EEXIST atomically (O_EXCL semantics, also across processes on one host). `ifMatch` compares the
// current etag and renames under a per-key lock directory (`mkdir` is atomic); a lock older than
// `lockStaleMs` is taken over, so a crashed writer never wedges a key.
import { randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import {
  copyFile,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
} from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { TandemError } from '@tandem/core';
import type { ObjectInfo, ObjectStore, PutOptions, ResolvedLakeOptions } from './object-store.ts';
import { mapWithConcurrency } from './parallel.ts';
import { assertListPrefix, assertObjectKey, RESERVED_NAME_PREFIX } from './paths.ts';

const LOCK_RETRY_MS = 5;

function isCode(error: unknown, ...codes: string[]): boolean {
  return (
    typeof error === 'object' && error !== null && codes.includes((error as { code?: string }).code ?? '')
  );
}

function ioError(action: string, key: string, cause: unknown): TandemError {
  // Out of space, too many open files and the like may pass; a permission error will not.
  const retryable = isCode(cause, 'ENOSPC', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'EIO');
  return new TandemError(
    'TANDEM_ERR_LAKE_IO',
    `could not ${action} "${key}" in the file lake: ${(cause as Error)?.message ?? String(cause)}`,
    { cause, retryable, details: { key } },
  );
}

function preconditionFailed(key: string, condition: string): TandemError {
  return new TandemError(
    'TANDEM_ERR_LAKE_PRECONDITION',
    `precondition ${condition} failed for "${key}": another writer changed it; re-read and retry`,
    { details: { key, condition } },
  );
}

export class FileObjectStore implements ObjectStore {
  readonly url: string;
  readonly atomicConditionalWrites = true;
  readonly #root: string;
  readonly #fsync: boolean;
  readonly #lockStaleMs: number;

  constructor(options: ResolvedLakeOptions, dir: string) {
    this.url = options.url;
    this.#root = dir;
    this.#fsync = options.fsync;
    this.#lockStaleMs = options.lockStaleMs;
  }

  localPath(key: string): string {
    assertObjectKey(key);
    return join(this.#root, ...key.split('/'));
  }

  async #info(key: string, path: string): Promise<ObjectInfo | null> {
    try {
      const stats = await stat(path, { bigint: true });
      if (!stats.isFile()) return null;
      return {
        key,
        size: Number(stats.size),
        etag: `${stats.ino.toString(36)}-${stats.size.toString(36)}-${stats.mtimeNs.toString(36)}`,
        lastModified: Number(stats.mtimeMs),
      };
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) return null;
      throw ioError('stat', key, error);
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    return this.#info(key, this.localPath(key));
  }

  async get(key: string): Promise<Uint8Array | null> {
    const path = this.localPath(key);
    try {
      return await readFile(path);
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) return null;
      throw ioError('read', key, error);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertListPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash < 0 ? '' : prefix.slice(0, slash + 1);
    const baseDir = baseKey === '' ? this.#root : join(this.#root, ...baseKey.split('/').filter(Boolean));
    let entries: string[];
    try {
      entries = await readdir(baseDir, { recursive: true });
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) return;
      throw ioError('list', prefix, error);
    }
    const keys = entries
      .map((entry) => baseKey + entry.split(sep).join('/'))
      .filter(
        (key) =>
          key.startsWith(prefix) &&
          !key.split('/').some((segment) => segment.startsWith(RESERVED_NAME_PREFIX)),
      )
      .sort();
    // Stat in bounded parallel chunks, yielding in key order; directories drop out here.
    const chunk = 256;
    for (let start = 0; start < keys.length; start += chunk) {
      const infos = await mapWithConcurrency(keys.slice(start, start + chunk), 32, (key) =>
        this.#info(key, join(this.#root, ...key.split('/'))),
      );
      for (const info of infos) if (info !== null) yield info;
    }
  }

  async put(key: string, body: Uint8Array | string, options: PutOptions = {}): Promise<{ etag: string }> {
    const path = this.localPath(key);
    const temp = await this.#writeTemp(key, path, async (tempPath) => {
      const handle = await open(tempPath, 'wx');
      try {
        await handle.writeFile(body);
        if (this.#fsync) await handle.sync();
      } finally {
        await handle.close();
      }
    });
    return this.#publish(key, path, temp, options);
  }

  async putFile(key: string, localPath: string): Promise<{ etag: string }> {
    const path = this.localPath(key);
    const temp = await this.#writeTemp(key, path, async (tempPath) => {
      await copyFile(localPath, tempPath, fsConstants.COPYFILE_EXCL);
      if (this.#fsync) {
        const handle = await open(tempPath, 'r+');
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
      }
    });
    return this.#publish(key, path, temp, {});
  }

  async download(key: string, localPath: string): Promise<void> {
    const source = this.localPath(key);
    const temp = `${localPath}${RESERVED_NAME_PREFIX}${randomUUID()}`;
    try {
      await mkdir(dirname(localPath), { recursive: true });
      await copyFile(source, temp);
      await rename(temp, localPath);
    } catch (error) {
      await rm(temp, { force: true });
      if (isCode(error, 'ENOENT') && (await this.#info(key, source)) === null) {
        throw new TandemError('TANDEM_ERR_LAKE_NOT_FOUND', `"${key}" does not exist in ${this.url}`, {
          cause: error,
          details: { key },
        });
      }
      throw ioError('download', key, error);
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.localPath(key);
    try {
      await unlink(path);
    } catch (error) {
      if (!isCode(error, 'ENOENT', 'ENOTDIR')) throw ioError('delete', key, error);
    }
  }

  async close(): Promise<void> {}

  /** Writes a temp file next to the target (same filesystem, so rename/link are atomic). */
  async #writeTemp(key: string, path: string, write: (tempPath: string) => Promise<void>): Promise<string> {
    const temp = join(dirname(path), `${RESERVED_NAME_PREFIX}tmp-${randomUUID()}`);
    try {
      await mkdir(dirname(path), { recursive: true });
      await write(temp);
      return temp;
    } catch (error) {
      await rm(temp, { force: true });
      throw ioError('write', key, error);
    }
  }

  async #publish(key: string, path: string, temp: string, options: PutOptions): Promise<{ etag: string }> {
    try {
      if (options.ifNoneMatch === '*') {
        try {
          await link(temp, path);
        } catch (error) {
          if (isCode(error, 'EEXIST')) throw preconditionFailed(key, 'If-None-Match: *');
          throw error;
        }
        await unlink(temp);
      } else if (options.ifMatch !== undefined) {
        const expected = options.ifMatch;
        await this.#withLock(key, path, async () => {
          const current = await this.#info(key, path);
          if (current === null || current.etag !== expected)
            throw preconditionFailed(key, `If-Match: ${expected}`);
          await rename(temp, path);
        });
      } else if (await sameBytes(temp, path)) {
        await unlink(temp);
      } else {
        await rename(temp, path);
      }
      if (this.#fsync) await this.#syncDir(dirname(path));
      const info = await this.#info(key, path);
      if (info === null)
        throw ioError('write', key, new Error('the object vanished right after it was written'));
      return { etag: info.etag };
    } catch (error) {
      await rm(temp, { force: true });
      if (error instanceof TandemError) throw error;
      throw ioError('write', key, error);
    }
  }

  async #syncDir(dir: string): Promise<void> {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } catch (error) {
      // Some filesystems refuse fsync on directories; the rename is still atomic there.
      if (!isCode(error, 'EINVAL', 'EISDIR', 'EBADF', 'EPERM')) throw error;
    } finally {
      await handle.close();
    }
  }

  async #withLock<T>(key: string, path: string, body: () => Promise<T>): Promise<T> {
    const name = path.slice(path.lastIndexOf(sep) + 1);
    const lock = join(dirname(path), `${RESERVED_NAME_PREFIX}lock-${name}`);
    const deadline = Date.now() + this.#lockStaleMs * 2;
    for (;;) {
      try {
        await mkdir(lock);
        break;
      } catch (error) {
        if (!isCode(error, 'EEXIST')) throw error;
        const held = await stat(lock).catch(() => null);
        if (held !== null && Date.now() - held.mtimeMs > this.#lockStaleMs) {
          // Abandoned by a crashed writer: take it over (rmdir races are harmless; mkdir decides).
          await rmdir(lock).catch(() => undefined);
          continue;
        }
        if (Date.now() > deadline) {
          throw new TandemError(
            'TANDEM_ERR_LAKE_IO',
            `"${key}" stayed locked by another writer; retry later`,
            {
              retryable: true,
              details: { key },
            },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
      }
    }
    try {
      return await body();
    } finally {
      await rmdir(lock).catch(() => undefined);
    }
  }
}

/** Whether the file at `path` exists and holds exactly the bytes of `temp` (sizes first, then bytes). */
async function sameBytes(temp: string, path: string): Promise<boolean> {
  try {
    const [written, current] = await Promise.all([stat(temp), stat(path)]);
    if (!current.isFile() || written.size !== current.size) return false;
    const [a, b] = await Promise.all([readFile(temp), readFile(path)]);
    return a.equals(b);
  } catch (error) {
    if (isCode(error, 'ENOENT', 'ENOTDIR')) return false;
    throw error;
  }
}

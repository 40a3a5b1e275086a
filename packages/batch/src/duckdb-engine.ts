// One embedded DuckDB instance per batch component, sized by config (threads, memory limit, spill
// directory), plus the quoting helpers every SQL string built here goes through.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { TandemError } from '@tandem/core';

export interface DuckDbEngineOptions {
  /** Worker threads of the instance. */
  threads: number;
  /** DuckDB `memory_limit`, e.g. `1GB`; above it operators spill to `tempDirectory`. */
  memoryLimit: string;
  /** Spill directory for hours larger than memory. */
  tempDirectory: string;
}

const MEMORY_LIMIT = /^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i;

/** Throws `TANDEM_ERR_CONFIG_INVALID` naming the bad option. */
export function validateDuckDbOptions(options: DuckDbEngineOptions): void {
  if (!Number.isSafeInteger(options.threads) || options.threads < 1) {
    throw new TandemError(
      'TANDEM_ERR_CONFIG_INVALID',
      `batch threads must be an integer ≥ 1, got ${options.threads}`,
    );
  }
  if (!MEMORY_LIMIT.test(options.memoryLimit)) {
    throw new TandemError(
      'TANDEM_ERR_CONFIG_INVALID',
      `batch memoryLimit "${options.memoryLimit}" is not valid; use a size such as 512MB or 2GB`,
    );
  }
  if (options.tempDirectory === '') {
    throw new TandemError('TANDEM_ERR_CONFIG_INVALID', 'batch tempDirectory must be a directory path');
  }
}

/** A SQL string literal. Paths and other non-parameterizable text go through this and nothing else. */
export function sqlString(value: string): string {
  if (value.includes('\0')) {
    throw new TandemError('TANDEM_ERR_LAKE_IO', 'a path or name given to DuckDB contains a NUL byte');
  }
  return `'${value.replaceAll("'", "''")}'`;
}

/** A SQL list of string literals: `['a', 'b']`. */
export function sqlStringList(values: readonly string[]): string {
  return `[${values.map(sqlString).join(', ')}]`;
}

/** An embedded DuckDB with connections handed out per unit of work and always released. */
/** Work directories under the temp directory that a process killed mid-run leaves behind. */
const WORK_DIR = /^(duckdb|run|reader|inputs)-/;

/**
 * Removes work directories older than `maxAgeMs` (a crashed process's spill files and downloads).
 * Younger ones may belong to a live process sharing the directory, so they stay.
 */
export function sweepStaleWorkDirs(tempDirectory: string, maxAgeMs: number, nowMs = Date.now()): void {
  for (const dir of [tempDirectory, join(tempDirectory, 'inputs')]) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!WORK_DIR.test(name)) continue;
      const path = join(dir, name);
      try {
        if (nowMs - statSync(path).mtimeMs > maxAgeMs) rmSync(path, { recursive: true, force: true });
      } catch {
        // Raced with its owner or another sweeper: nothing to do.
      }
    }
  }
}

export class DuckDbEngine {
  readonly #instance: DuckDBInstance;
  readonly #spillDirectory: string;
  #closed = false;

  private constructor(instance: DuckDBInstance, spillDirectory: string) {
    this.#instance = instance;
    this.#spillDirectory = spillDirectory;
  }

  static async create(options: DuckDbEngineOptions): Promise<DuckDbEngine> {
    validateDuckDbOptions(options);
    // A spill directory per instance, removed on close: two processes never share spill files,
    // and a crashed one's are recognizable (and swept by age).
    const spillDirectory = join(
      options.tempDirectory,
      `duckdb-${process.pid}-${randomBytes(4).toString('hex')}`,
    );
    mkdirSync(spillDirectory, { recursive: true });
    const instance = await DuckDBInstance.create(':memory:', {
      threads: String(options.threads),
      memory_limit: options.memoryLimit,
      temp_directory: spillDirectory,
      // Aggregations need no input order; dropping it lets large scans stream with less memory.
      preserve_insertion_order: 'false',
    });
    return new DuckDbEngine(instance, spillDirectory);
  }

  /** Runs `work` on a fresh connection (its own temp schema), closing it afterwards. */
  async withConnection<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    if (this.#closed)
      throw new TandemError('TANDEM_ERR_BATCH_RUN_FAILED', 'the batch DuckDB engine is closed');
    const connection = await this.#instance.connect();
    try {
      return await work(connection);
    } finally {
      connection.closeSync();
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#instance.closeSync();
    rmSync(this.#spillDirectory, { recursive: true, force: true });
  }
}

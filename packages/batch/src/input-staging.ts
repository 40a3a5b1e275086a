// Finding and staging a run's raw-log inputs: list the Hive partitions an hour needs under the
// stream's lake prefix, keep the formats DuckDB reads (NDJSON, gzipped NDJSON, Parquet), and make
// them local files — in place for `file://` lakes, downloaded with bounded parallelism into a temp
// directory for S3.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DAY_MS, webStream } from '@tandem/core';
import {
  downloadAll,
  logPartitionPrefix,
  type ObjectInfo,
  type ObjectStore,
  parseLogPartition,
} from '@tandem/lake';
import type { Logger } from 'pino';

export type InputFormat = 'ndjson' | 'parquet';

/** A raw-log object the batch layer reads, with the partition hour it lies in. */
export interface InputObject extends ObjectInfo {
  format: InputFormat;
  partitionHour: number;
}

/** An input as a local file DuckDB can open. */
export interface StagedFile {
  key: string;
  path: string;
  format: InputFormat;
  partitionHour: number;
  size: number;
  /**
   * Lines known valid, canonical events (archive-trust.ts): read with a typed reader instead of
   * the validating staging SQL. Unset until checked.
   */
  trusted?: boolean;
}

/** `.json` / `.json.gz` are NDJSON, `.parquet` is Parquet; anything else is not an input. */
export function inputFormatOf(key: string): InputFormat | null {
  const name = key.slice(key.lastIndexOf('/') + 1);
  if (name.startsWith('.') || name.startsWith('_')) return null;
  if (name.endsWith('.json') || name.endsWith('.json.gz')) return 'ndjson';
  if (name.endsWith('.parquet')) return 'parquet';
  return null;
}

export interface ListInputsOptions {
  /** The stream's raw-log root (`Stream.lakePrefix`). @defaultValue 'logs' (the web stream) */
  lakePrefix?: string;
  /** Called for files in a partition that are not inputs (the runner warns about them). */
  onSkipped?: (info: ObjectInfo) => void;
}

/**
 * The inputs of every hour in `hours` (epoch ms, hour starts) under one stream's raw-log root,
 * listed per hour for a few hours and per day for long ranges.
 */
export async function listInputs(
  store: ObjectStore,
  hours: Iterable<number>,
  options: ListInputsOptions = {},
): Promise<Map<number, InputObject[]>> {
  const lakePrefix = options.lakePrefix ?? webStream.lakePrefix;
  const wanted = new Set(hours);
  const byHour = new Map<number, InputObject[]>();
  for (const hour of wanted) byHour.set(hour, []);
  if (wanted.size === 0) return byHour;
  const prefixes = new Set<string>();
  if (wanted.size <= 6) {
    for (const hour of wanted) prefixes.add(logPartitionPrefix(hour, lakePrefix));
  } else {
    for (const hour of wanted) {
      const day = hour - (hour % DAY_MS);
      prefixes.add(logPartitionPrefix(day, lakePrefix).replace(/hour=\d{2}\/$/, ''));
    }
  }
  for (const prefix of [...prefixes].sort()) {
    for await (const info of store.list(prefix)) {
      const hour = parseLogPartition(info.key);
      if (hour === null || !wanted.has(hour)) continue;
      const format = inputFormatOf(info.key);
      if (format === null) {
        options.onSkipped?.(info);
        continue;
      }
      byHour.get(hour)!.push({ ...info, format, partitionHour: hour });
    }
  }
  return byHour;
}

export interface StageOptions {
  /** Parent of the per-run temp directory. */
  tempRoot: string;
  /** Downloads in flight at once. */
  concurrency: number;
  logger?: Logger;
}

/** Local files of a run's inputs; `dispose` removes whatever was downloaded. */
export interface StagedInputs {
  files: StagedFile[];
  /** Bytes downloaded (0 for `file://`). */
  downloadedBytes: number;
  dispose(): Promise<void>;
}

/**
 * Makes inputs local. Empty objects are dropped here (a zero-byte `.json.gz` is not valid gzip and
 * holds no lines); they stay in the fingerprint.
 */
export async function stageInputs(
  store: ObjectStore,
  inputs: readonly InputObject[],
  options: StageOptions,
): Promise<StagedInputs> {
  const nonEmpty = inputs.filter((input) => input.size > 0);
  const local = nonEmpty.map((input) => store.localPath(input.key));
  if (local.every((path) => path !== null)) {
    return {
      files: nonEmpty.map((input, index) => ({
        key: input.key,
        path: local[index]!,
        format: input.format,
        partitionHour: input.partitionHour,
        size: input.size,
      })),
      downloadedBytes: 0,
      dispose: async () => {},
    };
  }
  await mkdir(options.tempRoot, { recursive: true });
  const dir = await mkdtemp(join(options.tempRoot, 'inputs-'));
  const dispose = async (): Promise<void> => {
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // Index-prefixed names keep the extension (DuckDB picks the decompressor by it) and never collide.
    const indexOf = new Map(nonEmpty.map((input, index) => [input.key, index]));
    const paths = await downloadAll(
      store,
      nonEmpty.map((input) => input.key),
      dir,
      {
        concurrency: options.concurrency,
        fileName: (key) => `${indexOf.get(key)}-${key.slice(key.lastIndexOf('/') + 1)}`,
      },
    );
    const files = nonEmpty.map((input, index) => ({
      key: input.key,
      path: paths[index]!,
      format: input.format,
      partitionHour: input.partitionHour,
      size: input.size,
    }));
    return { files, downloadedBytes: nonEmpty.reduce((sum, input) => sum + input.size, 0), dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** The first hour with a raw-log partition under a stream's root, or null while it has none. */
export async function earliestLogHour(
  store: ObjectStore,
  lakePrefix: string = webStream.lakePrefix,
): Promise<number | null> {
  for await (const info of store.list(`${lakePrefix}/dt=`)) {
    const hour = parseLogPartition(info.key);
    if (hour !== null) return hour;
  }
  return null;
}

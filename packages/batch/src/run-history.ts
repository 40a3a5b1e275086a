// The batch run history: one record per finished attempt (published, failed or skipped), newest
// first, in a capped Redis list per view, so ops commands and the status route can show what ran.
import { serviceUnavailable } from '@tandem/core';
import type { Redis } from 'ioredis';

export type RunStatus = 'published' | 'failed' | 'skipped';

/** What started a run. */
export type RunTrigger = 'hourly' | 'nightly' | 'catch-up' | 'manual' | 'recompute' | 'backfill';

export interface RunRecord {
  runId: string;
  view: string;
  viewVersion: number;
  /** Start of the hour, epoch ms. */
  hour: number;
  status: RunStatus;
  trigger: RunTrigger;
  /** 1 for the first attempt; retries of retryable failures count up. */
  attempt: number;
  startedAt: number;
  finishedAt: number;
  durationMs: number;
  rowsIn: number;
  rowsOut: number;
  badRows: number;
  duplicateRows: number;
  fencingToken: number | null;
  owner: string;
  /** Why a run was skipped or failed (`up-to-date`, `leased-elsewhere`, an error code). */
  reason: string | null;
  /** The bad-row report of the run, if it found bad lines. */
  quarantineKey: string | null;
  error: { code: string; message: string } | null;
}

export class RunHistory {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #limit: number;

  /** @param limit - records kept per view. */
  constructor(redis: Redis, prefix: string, limit: number) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#limit = limit;
  }

  #key(view: string): string {
    return `${this.#prefix}:batch:runs:${view}`;
  }

  async record(run: RunRecord): Promise<void> {
    try {
      await this.#redis
        .multi()
        .lpush(this.#key(run.view), JSON.stringify(run))
        .ltrim(this.#key(run.view), 0, this.#limit - 1)
        .exec();
    } catch (error) {
      throw serviceUnavailable('Redis', this.#redis.options.host ?? 'redis', error);
    }
  }

  /** The newest `limit` records of a view, newest first. */
  async list(view: string, limit: number): Promise<RunRecord[]> {
    let items: string[];
    try {
      items = await this.#redis.lrange(this.#key(view), 0, Math.max(0, limit - 1));
    } catch (error) {
      throw serviceUnavailable('Redis', this.#redis.options.host ?? 'redis', error);
    }
    const runs: RunRecord[] = [];
    for (const item of items) {
      try {
        runs.push(JSON.parse(item) as RunRecord);
      } catch {
        // A foreign or truncated entry is not history; skip it rather than fail the status page.
      }
    }
    return runs;
  }
}

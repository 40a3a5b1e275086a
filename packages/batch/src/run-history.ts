// The batch run history: one record per finished attempt (published, failed or skipped), newest
// first, in a capped Redis list per view, so ops commands and the status route can show what ran.
// The record's shape is the contract `RunRecord` of @tandem/core.
import { type RunRecord, serviceUnavailable } from '@tandem/core';
import { describeRedis, type RedisClient } from '@tandem/connections';

export class RunHistory {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #limit: number;

  /** @param limit - records kept per view. */
  constructor(redis: RedisClient, prefix: string, limit: number) {
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
      throw serviceUnavailable('Redis', describeRedis(this.#redis), error);
    }
  }

  /** The newest `limit` records of a view, newest first. */
  async list(view: string, limit: number): Promise<RunRecord[]> {
    let items: string[];
    try {
      items = await this.#redis.lrange(this.#key(view), 0, Math.max(0, limit - 1));
    } catch (error) {
      throw serviceUnavailable('Redis', describeRedis(this.#redis), error);
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

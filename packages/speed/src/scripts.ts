// Typed wrappers over the speed layer's Lua scripts, loaded with core's one script loader: the key
// count comes from each file's name (`-1.lua`, `-n.lua`), and the command name carries
// SCRIPT_VERSION and a digest of the text, so a client shared with an older build never runs a
// stale definition. ioredis sends EVALSHA and falls back to EVAL on NOSCRIPT, which covers a Redis
// restart that flushed the cache.
import { readFileSync } from 'node:fs';
import { type RedisScript, redisScript, scriptCommand, TandemError } from '@tandem/core';
import type { RedisClient } from '@tandem/connections';

// A connected ioredis client, a single node or a cluster: @tandem/connections' one type for both.
export type { RedisClient };

/** Bumped when a script's contract (KEYS / ARGV / reply) changes. 3: INVALID carries a reason. */
export const SCRIPT_VERSION = 3;

type ScriptArg = string | number;
// ioredis flattens one level of array arguments, which keeps 100k-argument batches off the JS stack.
type ScriptCall = (...args: Array<ScriptArg | ScriptArg[]>) => Promise<unknown>;

/** One of this package's scripts under `src/lua/`. */
export function speedScript(file: string): RedisScript {
  return redisScript(
    'tandemSpeed',
    SCRIPT_VERSION,
    file,
    readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8'),
  );
}

const claimPartitionScript = speedScript('claim-partition-1.lua');
const applyBatchScript = speedScript('apply-batch-n.lua');

function command(redis: RedisClient, script: RedisScript): ScriptCall {
  return scriptCommand<ScriptCall>(redis, script);
}

/** What a worker learns when it claims a partition. */
export interface ClaimResult {
  epoch: string;
  /** Last Kafka offset applied to the views, or null when Redis holds none (fresh or lost). */
  appliedOffset: string | null;
  maxEventTime: number | null;
  previousOwner: string | null;
}

export async function claimPartition(
  redis: RedisClient,
  metaKey: string,
  owner: string,
  nowMs: number,
): Promise<ClaimResult> {
  const reply = (await command(redis, claimPartitionScript)(metaKey, owner, nowMs)) as [
    number,
    string,
    string,
    string,
  ];
  const [epoch, offset, maxEventTime, previousOwner] = reply;
  return {
    epoch: String(epoch),
    appliedOffset: offset === '' ? null : offset,
    maxEventTime: maxEventTime === '' ? null : Number(maxEventTime),
    previousOwner: previousOwner === '' ? null : previousOwner,
  };
}

/** The deltas of one bucket hash, grouped by how Redis merges them. */
export interface BucketDelta {
  key: string;
  /** Position of the view's index key in `ApplyBatchInput.indexes` (0-based). */
  index: number;
  bucketMs: number;
  expireAtMs: number;
  /** Distinct fields: the first `adds` are summed, the next `mins` keep the minimum, the rest the maximum. */
  fields: string[];
  /** Finite numbers, one per field. */
  values: number[];
  adds: number;
  mins: number;
}

export interface ApplyBatchInput {
  metaKey: string;
  sessionsKey: string;
  epoch: string;
  owner: string;
  prevOffset: string | null;
  nextOffset: string;
  maxEventTime: number | null;
  watermark: number | null;
  nowMs: number;
  counters: { applied: number; dlq: number; late: number; duplicates: number };
  /** One entry per view the worker maintains: its bucket index key and trimming. */
  indexes: Array<{ key: string; trimBelowMs: number; ttlMs: number }>;
  sessionUpserts: Array<[string, string]>;
  sessionDeletions: string[];
  buckets: BucketDelta[];
}

export type ApplyBatchResult =
  | { status: 'OK' }
  | { status: 'FENCED'; storedEpoch: string | null; storedOwner: string | null }
  | { status: 'OFFSET'; storedOffset: string | null }
  /**
   * The batch's deltas cannot be applied, and nothing was written: a bucket's arguments are
   * malformed or hold a non-finite number (refused here, before sending), or a sum would leave
   * the range of a double in Redis (refused by the script). Applying the same batch again meets
   * the same refusal, so the caller must not retry it.
   */
  | { status: 'INVALID'; key: string; reason: string };

/**
 * Runs apply-batch: checks the fence and the offset, then applies every delta atomically. A
 * bucket's cells travel as two JSON arrays, so a batch is a few dozen arguments, not 100k.
 */
export async function applyBatch(redis: RedisClient, input: ApplyBatchInput): Promise<ApplyBatchResult> {
  const keys: string[] = [input.metaKey, input.sessionsKey];
  const args: ScriptArg[] = [
    input.epoch,
    input.owner,
    input.prevOffset ?? '',
    input.nextOffset,
    input.maxEventTime === null ? '' : input.maxEventTime,
    input.watermark === null ? '' : input.watermark,
    input.nowMs,
    input.counters.applied,
    input.counters.dlq,
    input.counters.late,
    input.counters.duplicates,
    input.indexes.length,
    input.sessionUpserts.length,
    input.sessionDeletions.length,
  ];
  for (const index of input.indexes) {
    keys.push(index.key);
    args.push(index.trimBelowMs, index.ttlMs);
  }
  for (const [user, state] of input.sessionUpserts) args.push(user, state);
  for (const user of input.sessionDeletions) args.push(user);
  for (const bucket of input.buckets) {
    if (bucket.values.length !== bucket.fields.length || bucket.adds + bucket.mins > bucket.fields.length) {
      return {
        status: 'INVALID',
        key: bucket.key,
        reason: `malformed delta: ${bucket.fields.length} fields, ${bucket.values.length} values, ${bucket.adds} add and ${bucket.mins} min cells`,
      };
    }
    for (let i = 0; i < bucket.values.length; i++) {
      // JSON would turn them into null; a sum of finite events can overflow to Infinity in the fold
      const value = bucket.values[i]!;
      if (!Number.isFinite(value)) {
        return {
          status: 'INVALID',
          key: bucket.key,
          reason: `non-finite delta ${value} for cell ${JSON.stringify(bucket.fields[i])}`,
        };
      }
    }
    keys.push(bucket.key);
    args.push(
      bucket.index + 1,
      bucket.bucketMs,
      bucket.expireAtMs,
      bucket.adds,
      bucket.mins,
      JSON.stringify(bucket.fields),
      // join prints each number as its shortest round-trip text (and -0 as "0")
      bucket.values.length === 0 ? '[]' : `["${bucket.values.join('","')}"]`,
    );
  }
  const call = ([keys.length] as ScriptArg[]).concat(keys, args);
  const reply = (await command(redis, applyBatchScript)(call)) as string[];
  const status = reply[0];
  if (status === 'OK') return { status };
  if (status === 'FENCED') {
    return { status, storedEpoch: emptyToNull(reply[1]), storedOwner: emptyToNull(reply[2]) };
  }
  if (status === 'OFFSET') return { status, storedOffset: emptyToNull(reply[1]) };
  if (status === 'INVALID') return { status, key: reply[1] ?? '', reason: reply[2] ?? '' };
  throw new TandemError(
    'TANDEM_ERR_INTERNAL',
    `apply-batch returned an unknown status ${JSON.stringify(status)}; is ${applyBatchScript.commandName} the script this build ships?`,
  );
}

function emptyToNull(value: string | undefined): string | null {
  return value === undefined || value === '' ? null : value;
}

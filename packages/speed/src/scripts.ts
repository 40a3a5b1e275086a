// Typed wrappers over the speed layer's Lua scripts. Each script is registered with ioredis
// `defineCommand` under a name that carries the package's script version and a digest of its
// text, so a client shared with an older build never runs a stale definition. ioredis sends
// EVALSHA and falls back to EVAL on NOSCRIPT, which covers a Redis restart that flushed the cache.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

/** A connected ioredis client: a single node or a cluster. */
export type RedisClient = Redis | Cluster;

/** Bumped when a script's contract (KEYS / ARGV / reply) changes. */
export const SCRIPT_VERSION = 2;

type ScriptArg = string | number;
// ioredis flattens one level of array arguments, which keeps 100k-argument batches off the JS stack.
type ScriptCall = (...args: Array<ScriptArg | ScriptArg[]>) => Promise<unknown>;

interface ScriptDefinition {
  commandName: string;
  lua: string;
  /** Fixed key count, or undefined when the caller passes the count first. */
  numberOfKeys: number | undefined;
}

function loadScript(file: string, numberOfKeys: number | undefined): ScriptDefinition {
  const lua = readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8');
  const digest = createHash('sha1').update(lua).digest('hex').slice(0, 10);
  const base = file.replace(/-(\d+|n)\.lua$/, '').replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
  return { commandName: `tandemSpeed_${base}_v${SCRIPT_VERSION}_${digest}`, lua, numberOfKeys };
}

const claimPartitionScript = loadScript('claim-partition-1.lua', 1);
const applyBatchScript = loadScript('apply-batch-n.lua', undefined);

function command(redis: RedisClient, definition: ScriptDefinition): ScriptCall {
  const commands = redis as unknown as Record<string, ScriptCall | undefined>;
  if (typeof commands[definition.commandName] !== 'function') {
    redis.defineCommand(
      definition.commandName,
      definition.numberOfKeys === undefined
        ? { lua: definition.lua }
        : { lua: definition.lua, numberOfKeys: definition.numberOfKeys },
    );
  }
  const fn = commands[definition.commandName];
  if (typeof fn !== 'function') throw new Error(`ioredis did not define ${definition.commandName}`);
  return fn.bind(redis);
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
  | { status: 'OFFSET'; storedOffset: string | null };

/** A bucket's cells travel as two JSON arrays, so a batch is a few dozen arguments, not 100k. */

/** Runs apply-batch: checks the fence and the offset, then applies every delta atomically. */
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
      throw new Error(`apply-batch: malformed delta of ${bucket.key}`);
    }
    for (const value of bucket.values) {
      // JSON would turn them into null; refuse here rather than leave Redis with a half-applied batch
      if (!Number.isFinite(value)) throw new Error(`apply-batch: non-finite delta ${value} in ${bucket.key}`);
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
  if (status === 'INVALID') throw new Error(`apply-batch refused malformed deltas of ${reply[1]}`);
  throw new Error(`apply-batch returned an unknown status ${JSON.stringify(status)}`);
}

function emptyToNull(value: string | undefined): string | null {
  return value === undefined || value === '' ? null : value;
}

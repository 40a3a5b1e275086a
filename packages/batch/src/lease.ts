// The Redis lease per (view, hour) that keeps two schedulers from publishing the same hour, and the
// fencing token minted with it: the token goes into the hour's pointer, and a pointer is never
// replaced by one carrying a lower token, so a writer that lost its lease cannot overwrite a newer run.
import { readFileSync } from 'node:fs';
import { type RedisScript, redisScript, scriptCommand, serviceUnavailable, TandemError } from '@tandem/core';
import { describeRedis, type RedisClient } from '@tandem/connections';

/** Bumped when a script's contract (KEYS / ARGV / reply) changes; the command names carry it. */
const SCRIPT_VERSION = 1;

/** One of this package's scripts under `src/lua/` (leases, view generations); core's loader reads the key count from the file name. */
export const batchScript = (file: string): RedisScript =>
  redisScript(
    'tandemBatch',
    SCRIPT_VERSION,
    file,
    readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8'),
  );

const acquireScript = batchScript('acquire-lease-2.lua');
const renewScript = batchScript('renew-lease-1.lua');
const releaseScript = batchScript('release-lease-1.lua');

/** The typed surface of the three scripts; each is defined on a client on first use. */
interface LeaseCommands {
  acquire(
    leaseKey: string,
    counterKey: string,
    owner: string,
    ttlMs: number,
    floor: number,
    counterTtlMs: number,
  ): Promise<[number, number | string]>;
  renew(leaseKey: string, value: string, ttlMs: number): Promise<number>;
  release(leaseKey: string, value: string): Promise<number>;
}

/** ioredis sends EVALSHA and falls back to EVAL on NOSCRIPT (a restarted Redis). */
function leaseCommands(redis: RedisClient): LeaseCommands {
  return {
    acquire: scriptCommand<LeaseCommands['acquire']>(redis, acquireScript),
    renew: scriptCommand<LeaseCommands['renew']>(redis, renewScript),
    release: scriptCommand<LeaseCommands['release']>(redis, releaseScript),
  };
}

export interface LeaseManagerOptions {
  /** Key prefix (`REDIS_PREFIX`); every key is `<prefix>:batch:{<view>:<hour>}:…`. */
  prefix: string;
  /** Identifies this runner in the lease value and in logs. */
  owner: string;
  /** Lease time to live; a crashed holder frees the hour after this long. @defaultValue 60000 */
  ttlMs: number;
  /** How long a token counter lives without use; the pointer's token floor restores it. @defaultValue 30 days */
  counterTtlMs: number;
  /** Timer used for heartbeats (injectable). */
  setTimer: (callback: () => void, ms: number) => () => void;
}

/** Wraps a Redis failure as a retryable service error naming Redis. */
function redisError(redis: RedisClient, cause: unknown): TandemError {
  if (cause instanceof TandemError) return cause;
  return serviceUnavailable('Redis', describeRedis(redis), cause);
}

/** A held lease. `assertHeld` is the fencing check to run right before publishing. */
export class Lease {
  readonly view: string;
  readonly hour: number;
  readonly token: number;
  readonly #redis: RedisClient;
  readonly #key: string;
  readonly #value: string;
  readonly #ttlMs: number;
  #lost = false;
  #stopHeartbeat: (() => void) | null = null;

  constructor(
    redis: RedisClient,
    key: string,
    view: string,
    hour: number,
    token: number,
    owner: string,
    ttlMs: number,
  ) {
    this.#redis = redis;
    this.#key = key;
    this.view = view;
    this.hour = hour;
    this.token = token;
    this.#value = `${token}:${owner}`;
    this.#ttlMs = ttlMs;
  }

  /** True once a renewal found the lease gone. */
  get lost(): boolean {
    return this.#lost;
  }

  /** Extends the lease; false (and `lost`) when another owner has it or it expired. */
  async renew(): Promise<boolean> {
    if (this.#lost) return false;
    let held: number;
    try {
      held = await leaseCommands(this.#redis).renew(this.#key, this.#value, this.#ttlMs);
    } catch (error) {
      throw redisError(this.#redis, error);
    }
    if (held !== 1) this.#lost = true;
    return held === 1;
  }

  /** Throws `TANDEM_ERR_BATCH_LEASE_LOST` unless the lease is still ours (and extends it). */
  async assertHeld(): Promise<void> {
    if (!(await this.renew())) {
      throw new TandemError(
        'TANDEM_ERR_BATCH_LEASE_LOST',
        `the batch lease of ${this.view} hour ${new Date(this.hour).toISOString()} (token ${this.token}) ` +
          'expired or was taken by another runner; its result is discarded and the other runner publishes',
        { details: { view: this.view, hour: this.hour, token: this.token } },
      );
    }
  }

  /** Renews every third of the TTL until released; a failed renewal marks the lease lost. */
  startHeartbeat(setTimer: LeaseManagerOptions['setTimer']): void {
    const beat = (): void => {
      this.#stopHeartbeat = setTimer(
        () => {
          this.renew()
            .then((held) => {
              if (held && this.#stopHeartbeat !== null) beat();
            })
            .catch(() => {
              // Redis unreachable: keep trying; assertHeld before publishing decides.
              if (this.#stopHeartbeat !== null) beat();
            });
        },
        Math.max(10, Math.floor(this.#ttlMs / 3)),
      );
    };
    beat();
  }

  /** Stops the heartbeat and deletes the lease if it is still ours. */
  async release(): Promise<void> {
    const stop = this.#stopHeartbeat;
    this.#stopHeartbeat = null;
    stop?.();
    if (this.#lost) return;
    try {
      await leaseCommands(this.#redis).release(this.#key, this.#value);
    } catch (error) {
      throw redisError(this.#redis, error);
    }
  }
}

/** Mints leases and fencing tokens for (view, hour) pairs. */
export class LeaseManager {
  readonly #redis: RedisClient;
  readonly #options: LeaseManagerOptions;

  constructor(redis: RedisClient, options: LeaseManagerOptions) {
    this.#redis = redis;
    this.#options = options;
  }

  get owner(): string {
    return this.#options.owner;
  }

  /** `<prefix>:batch:{<view>:<hour>}`: the hash tag keeps both keys of an hour in one cluster slot. */
  keyBase(view: string, hour: number): string {
    return `${this.#options.prefix}:batch:{${view}:${hour}}`;
  }

  /**
   * Takes the lease of (view, hour) and starts its heartbeat, or returns null with the holder when
   * another runner has it. `floor` is the token in the hour's current pointer (0 when none).
   */
  async acquire(
    view: string,
    hour: number,
    floor: number,
  ): Promise<{ lease: Lease | null; holder: string | null }> {
    const base = this.keyBase(view, hour);
    let reply: [number, number | string];
    try {
      reply = await leaseCommands(this.#redis).acquire(
        `${base}:lease`,
        `${base}:token`,
        this.#options.owner,
        this.#options.ttlMs,
        floor,
        this.#options.counterTtlMs,
      );
    } catch (error) {
      throw redisError(this.#redis, error);
    }
    if (reply[0] !== 1) return { lease: null, holder: String(reply[1]) };
    const lease = new Lease(
      this.#redis,
      `${base}:lease`,
      view,
      hour,
      Number(reply[1]),
      this.#options.owner,
      this.#options.ttlMs,
    );
    lease.startHeartbeat(this.#options.setTimer);
    return { lease, holder: null };
  }
}

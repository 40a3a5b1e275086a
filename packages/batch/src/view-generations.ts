// The registry of a view's generations: every definition the view has had (by fingerprint), the
// small number `v<n>` its storage is addressed by (lake prefixes, Redis speed keys), its state, and
// the one `active` pointer serving follows. It lives in one Redis hash per view, under one hash tag,
// so every script touching it runs in one slot of a Redis Cluster. Keys are spelled here only.
//
// States: `building` (batch recomputes its history beside the active one), `active` (serving reads
// it), `previous` (the one before the last switch, kept for rollback), `retired` (superseded; its
// data is collected after the retention period).
import {
  canonicalJson,
  defineView,
  type Stream,
  scriptCommand,
  serviceUnavailable,
  TandemError,
  type View,
  type ViewSpec,
  viewSpecOf,
} from '@tandem/core';
import { describeRedis, type RedisClient } from '@tandem/connections';
import { batchScript } from './lease.ts';

export type GenerationState = 'building' | 'active' | 'previous' | 'retired';

/** One generation of a view as the registry records it. */
export interface ViewGeneration {
  /** The storage number: the lake's `views/<view>/v<n>/`, speed keys of version n. */
  n: number;
  fingerprint: string;
  state: GenerationState;
  /** When it entered its state, epoch ms. */
  since: number;
  /** The normalized definition (`viewSpecOf`), enough to compile this generation again. */
  spec: ViewSpec & { stream: string };
}

/** A view's registry read whole. */
export interface ViewGenerations {
  view: string;
  /** The generation serving reads, or null before first contact. */
  active: number | null;
  generations: ViewGeneration[];
}

const registerScript = batchScript('register-generation-1.lua');
const switchScript = batchScript('switch-generation-1.lua');
const readActiveScript = batchScript('read-active-generation-1.lua');
const markSpeedStartScript = batchScript('mark-speed-start-1.lua');
const retireScript = batchScript('retire-generation-1.lua');
const forgetScript = batchScript('forget-generation-1.lua');

interface GenerationCommands {
  register(
    key: string,
    fingerprint: string,
    specJson: string,
    now: number,
    adoptAt: number,
  ): Promise<[number, GenerationState, number]>;
  switch(key: string, expected: number, target: number, now: number): Promise<[number, number | string]>;
  readActive(key: string): Promise<[] | [number, string | null, string | null]>;
  markSpeedStart(key: string, n: number, now: number): Promise<number>;
  retire(key: string, n: number, notAfter: number, now: number): Promise<number>;
  forget(key: string, n: number): Promise<number>;
}

function commands(redis: RedisClient): GenerationCommands {
  return {
    register: scriptCommand<GenerationCommands['register']>(redis, registerScript),
    switch: scriptCommand<GenerationCommands['switch']>(redis, switchScript),
    readActive: scriptCommand<GenerationCommands['readActive']>(redis, readActiveScript),
    markSpeedStart: scriptCommand<GenerationCommands['markSpeedStart']>(redis, markSpeedStartScript),
    retire: scriptCommand<GenerationCommands['retire']>(redis, retireScript),
    forget: scriptCommand<GenerationCommands['forget']>(redis, forgetScript),
  };
}

function parseGeneration(view: string, record: string, spec: string): ViewGeneration {
  const parsed = JSON.parse(record) as Omit<ViewGeneration, 'spec'>;
  return {
    n: Number(parsed.n),
    fingerprint: String(parsed.fingerprint),
    state: parsed.state,
    since: Number(parsed.since),
    spec: { ...(JSON.parse(spec) as ViewGeneration['spec']), name: view },
  };
}

/** Reads and moves the generation registries of views (`<prefix>:batch:gen:{<view>}`). */
export class GenerationRegistry {
  readonly #redis: RedisClient;
  readonly #prefix: string;

  constructor(redis: RedisClient, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  /** The view's registry hash; the hash tag is the view name, so it is one slot. */
  key(view: string): string {
    return `${this.#prefix}:batch:gen:{${view}}`;
  }

  async #call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof TandemError) throw error;
      throw serviceUnavailable('Redis', describeRedis(this.#redis), error);
    }
  }

  /**
   * Registers the view's current definition (its fingerprint). The first contact adopts it at the
   * number its data already has (`view.version`, v1 for every view so far) and makes it active; a
   * new definition later gets the next number and is `building`.
   */
  async register(view: View, now: number): Promise<{ n: number; state: GenerationState; created: boolean }> {
    const [n, state, created] = await this.#call(() =>
      commands(this.#redis).register(
        this.key(view.name),
        view.fingerprint,
        canonicalJson(viewSpecOf(view)),
        now,
        view.version,
      ),
    );
    return { n: Number(n), state, created: Number(created) === 1 };
  }

  /** The active generation, read in one round trip (record and spec of the number returned). */
  async active(view: string): Promise<ViewGeneration | null> {
    const reply = await this.#call(() => commands(this.#redis).readActive(this.key(view)));
    if (reply.length === 0) return null;
    const [, record, spec] = reply;
    if (record === null || spec === null) {
      throw new TandemError(
        'TANDEM_ERR_INTERNAL',
        `the generation registry of view "${view}" points at v${reply[0]}, which it does not record`,
        { details: { view, key: this.key(view) } },
      );
    }
    return parseGeneration(view, record, spec);
  }

  /** Every generation of the view, oldest first, and the active pointer. */
  async list(view: string): Promise<ViewGenerations> {
    const fields = await this.#call(() => this.#redis.hgetall(this.key(view)));
    const generations: ViewGeneration[] = [];
    for (const [field, value] of Object.entries(fields)) {
      if (!field.startsWith('gen:')) continue;
      const spec = fields[`spec:${field.slice(4)}`];
      if (spec !== undefined) generations.push(parseGeneration(view, value, spec));
    }
    generations.sort((a, b) => a.n - b.n);
    const active = fields.active === undefined ? null : Number(fields.active);
    return { view, active, generations };
  }

  /**
   * Records that a speed worker starts writing generation `n` of the view now (the latest start is
   * kept): its real-time keys hold every event only for hours that begin after it.
   */
  async markSpeedStart(view: string, n: number, now: number): Promise<number> {
    return Number(await this.#call(() => commands(this.#redis).markSpeedStart(this.key(view), n, now)));
  }

  /** Retires generation `n` if it is previous since `notAfter` or earlier (the rollback window is over). */
  async retireIfOlder(view: string, n: number, notAfter: number, now: number): Promise<boolean> {
    return (
      Number(await this.#call(() => commands(this.#redis).retire(this.key(view), n, notAfter, now))) === 1
    );
  }

  /** Forgets generation `n` (after its data was collected) if it is still retired. */
  async forget(view: string, n: number): Promise<boolean> {
    return Number(await this.#call(() => commands(this.#redis).forget(this.key(view), n))) === 1;
  }

  /** The latest start of a speed worker writing generation `n`, or null when none has. */
  async speedStart(view: string, n: number): Promise<number | null> {
    const value = await this.#call(() => this.#redis.hget(this.key(view), `speed:${n}`));
    return value === null ? null : Number(value);
  }

  /**
   * Moves the active pointer from `expected` to `target` (compare-and-set). Throws
   * `TANDEM_ERR_VIEW_INVALID` when the pointer is no longer `expected` (another switch won) or the
   * target is unknown or retired.
   */
  async switch(view: string, expected: number, target: number, now: number): Promise<void> {
    const [ok, detail] = await this.#call(() =>
      commands(this.#redis).switch(this.key(view), expected, target, now),
    );
    if (Number(ok) === 1) return;
    const message =
      Number(ok) === 0
        ? `view "${view}" is no longer served by v${expected} (it is v${detail}); read its versions again before switching`
        : `view "${view}" has no version v${target} to switch to (${detail === 'none' ? 'unknown' : 'retired, its data may be collected'})`;
    throw new TandemError('TANDEM_ERR_VIEW_INVALID', message, {
      details: { view, expected, target, reason: detail },
    });
  }
}

/**
 * The view a generation compiles to: its stored spec over `stream`, at storage number `n`, so every
 * reader and writer addresses `v<n>`. The stream is today's (a generation keeps the view's spec; a
 * stream field it read that was removed since makes it uncompilable, a coded error).
 */
export function generationView(generation: ViewGeneration, stream: Stream): View {
  return defineView({ ...generation.spec, version: generation.n }, stream);
}

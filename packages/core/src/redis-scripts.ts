// One loader for the Redis Lua scripts of every package (batch's lease, speed's apply and claim):
// the key count comes from the file name, as bullmq's loader reads it — `claim-partition-1.lua`
// takes one key, `acquire-lease-2.lua` two, and `apply-batch-n.lua` a count its caller sends first
// (bullmq has no such scripts; ioredis supports them by leaving `numberOfKeys` out) — so no caller
// writes a key count by hand that could drift from the script. The command name carries the
// package's script version and a digest of the text, so a client shared with an older build never
// runs a stale definition; ioredis sends EVALSHA and falls back to EVAL on NOSCRIPT, which covers a
// Redis restart that emptied the script cache.
//
// No I/O here, as everywhere in core: each package reads its own `src/lua/*.lua` files and hands
// the text in. The client is typed structurally, so core does not depend on ioredis.
import { createHash } from 'node:crypto';
import { TandemError } from './errors.ts';

/** A Lua script ready to be defined on a client. */
export interface RedisScript {
  /** The file it was read from, e.g. `claim-partition-1.lua`. */
  readonly file: string;
  /** `<namespace>_<camelCaseName>_v<version>_<first 10 hex digits of the text's SHA-1>`. */
  readonly commandName: string;
  readonly lua: string;
  /** From the file name: `-<N>.lua` → N; `-n.lua` → undefined (the caller passes the count first). */
  readonly numberOfKeys: number | undefined;
}

/** What the loader needs of a Redis client: ioredis's `Redis` and `Cluster` both qualify. */
export interface ScriptHost {
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
}

/** `<kebab-case-name>-<N>.lua` (N keys) or `<kebab-case-name>-n.lua` (a varying count). */
const SCRIPT_FILE = /^([a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*)-(\d+|n)\.lua$/;

/**
 * Describes one script of a package: `namespace` names the package (`tandemSpeed`), `version` is
 * the package's script contract version (bumped when KEYS / ARGV / the reply change), `file` the
 * file name whose suffix gives the key count, `lua` its text. The text must open with the header
 * block (`--[[ … ]]`) that lists KEYS, ARGV and the reply.
 */
export function redisScript(namespace: string, version: number, file: string, lua: string): RedisScript {
  const match = SCRIPT_FILE.exec(file);
  if (match === null) {
    throw new TandemError(
      'TANDEM_ERR_INTERNAL',
      `Lua script file "${file}" is not named <kebab-case-name>-<key count>.lua (or -n.lua for a count the caller sends); rename it`,
      { details: { file } },
    );
  }
  if (!lua.trimStart().startsWith('--[[')) {
    throw new TandemError(
      'TANDEM_ERR_INTERNAL',
      `Lua script ${file} does not open with a --[[ … ]] header listing its KEYS, ARGV and reply; add one`,
      { details: { file } },
    );
  }
  const [, name, count] = match as unknown as [string, string, string];
  const camel = name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  const digest = createHash('sha1').update(lua).digest('hex').slice(0, 10);
  return {
    file,
    commandName: `${namespace}_${camel}_v${version}_${digest}`,
    lua,
    numberOfKeys: count === 'n' ? undefined : Number(count),
  };
}

/**
 * The script's command on `client`, defined on first use (once per client). `F` is the typed
 * signature of the call: the KEYS then the ARGV of a fixed-count script, or the key count, KEYS and
 * ARGV of a `-n` script.
 */
export function scriptCommand<F extends (...args: never[]) => Promise<unknown>>(
  client: ScriptHost,
  script: RedisScript,
): F {
  const commands = client as unknown as Record<string, F | undefined>;
  if (typeof commands[script.commandName] !== 'function') {
    client.defineCommand(
      script.commandName,
      script.numberOfKeys === undefined
        ? { lua: script.lua }
        : { lua: script.lua, numberOfKeys: script.numberOfKeys },
    );
  }
  const command = commands[script.commandName];
  if (typeof command !== 'function') {
    throw new TandemError(
      'TANDEM_ERR_INTERNAL',
      `the Redis client did not define the script command ${script.commandName} (${script.file})`,
    );
  }
  return command.bind(client) as F;
}

// `tandem dlq list|show|replay [--stream S]`: look at a stream's dead-letter topic (what was
// rejected, why, where it came from, the original bytes) and re-inject dead letters into the source
// topic after a fix. Each stream has its own DLQ; the web stream (or the config's only one) by default.
// Replayed entries are remembered by their source position in Redis, so they are listed as
// replayed and never re-injected twice; one that still fails comes back as a new dead letter.
//
// Memory is bounded whatever the DLQ's length: the topic is read a fetched batch at a time, whether
// each entry was replayed is asked of Redis per batch (never the whole record loaded), `list`
// keeps only the newest --limit entries, `replay` sends each batch before reading the next, and
// the keys remembered to list each source message once are the last DEAD_LETTER_DEDUP_WINDOW.
import type { Stream, TandemConfig } from '@tandem/core';
import type { deadLetterHeaders as DeadLetterHeaders } from '@tandem/speed';
import {
  compileFramedStreamParser,
  createSchemaRegistryClient,
  type FramedDecode,
  type RedisClient,
} from '@tandem/connections';
import type { Kafka } from 'kafkajs';
import { type CommandContext, defineCommand, flag, option, withDefault } from '../framework/command.ts';
import type { Output } from '../framework/output.ts';
import { formatTime } from '../framework/time.ts';
import { usageError } from '../framework/usage-error.ts';
import * as v from '../framework/values.ts';
import { forEachTopicBatch, type TopicMessage } from '../wiring/topic-reader.ts';
import { resolveStream, streamValue } from './catalog-args.ts';

/** One dead letter as the ops commands show it. */
export interface DeadLetter {
  /** `<dlq partition>:<dlq offset>`, what `dlq show` takes. */
  id: string;
  /** `<topic>:<partition>:<offset>` of the original message: the identity of the dead letter. */
  sourceKey: string;
  source: { topic: string; partition: number | null; offset: string | null };
  error: { code: string; message: string; field: string | null; rule: string };
  routedAt: string | null;
  pipelineVersion: string | null;
  /** The original message's Kafka key. */
  originalKey: string | null;
  size: number;
  /** Whether `dlq replay` has re-injected it already. */
  replayed: boolean;
  value: Buffer | null;
}

/** The Redis hash that remembers which dead letters of a DLQ topic were replayed (source key → replay time). */
export function replayedKey(config: TandemConfig, dlqTopic: string): string {
  return `${config.redis.prefix}:dlq:replayed:${dlqTopic}`;
}

function toDeadLetter(
  message: TopicMessage,
  sourceKey: string,
  replayed: boolean,
  deadLetterHeaders: typeof DeadLetterHeaders,
): DeadLetter {
  const h = message.headers;
  const sourceTopic = h[deadLetterHeaders.sourceTopic] ?? '';
  return {
    id: `${message.partition}:${message.offset}`,
    sourceKey,
    source: {
      topic: sourceTopic,
      partition: h[deadLetterHeaders.sourcePartition] ? Number(h[deadLetterHeaders.sourcePartition]) : null,
      offset: h[deadLetterHeaders.sourceOffset] ?? null,
    },
    error: {
      code: h[deadLetterHeaders.errorCode] ?? 'unknown',
      message: h[deadLetterHeaders.errorMessage] ?? '',
      field: h[deadLetterHeaders.errorField] ?? null,
      rule: h[deadLetterHeaders.errorRule] ?? '',
    },
    routedAt: h[deadLetterHeaders.routedAt] ?? null,
    pipelineVersion: h[deadLetterHeaders.pipelineVersion] ?? null,
    originalKey: h[deadLetterHeaders.sourceKey] ?? null,
    size: message.value?.byteLength ?? 0,
    replayed,
    value: message.value,
  };
}

/** A printable preview of original bytes: text with control characters escaped, or hex when not UTF-8. */
export function preview(value: Buffer | null, max = 60): string {
  if (value === null) return '(null)';
  const text = new TextDecoder('utf-8', { fatal: false }).decode(value);
  const valid = Buffer.from(text, 'utf8').equals(value);
  const shown = valid
    ? // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
      text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    : text.replace(/\uFFFD/g, '\\ufffd');
  const cut = shown.length > max ? `${shown.slice(0, max)}… (${value.byteLength} bytes)` : shown;
  return valid ? cut : `${cut} [not UTF-8]`;
}

interface Filters {
  code?: string | undefined;
  rule?: string | undefined;
  includeReplayed: boolean;
}

function matches(letter: DeadLetter, filters: Filters): boolean {
  if (!filters.includeReplayed && letter.replayed) return false;
  if (
    filters.code !== undefined &&
    letter.error.code !== filters.code &&
    !letter.error.code.endsWith(filters.code)
  )
    return false;
  if (filters.rule !== undefined && letter.error.rule !== filters.rule) return false;
  return true;
}

/** How many dead letters `dlq replay --dry-run` lists (it counts them all). */
const DRY_RUN_SHOWN = 1_000;

/**
 * How many of the most recently read source keys a DLQ read remembers, to hand over each source
 * message once. A replayed speed batch re-sends its dead letters under the same keys seconds after
 * the first copies (a crash and the replay that follows), so they are recognised well within it.
 * At the bound, a copy written farther apart than this from the first is handed over again: `dlq
 * list` counts it twice; `dlq replay` still re-injects it once, since it records every replayed
 * key in Redis before reading on and skips keys recorded there.
 */
export const DEAD_LETTER_DEDUP_WINDOW = 100_000;

/**
 * The dead letters now in the stream's DLQ topic, one per source message (a replayed speed batch
 * re-sends identical keys), handed to `onPage` a fetched batch at a time in the topic's order
 * (oldest first within each DLQ partition), each marked with whether `dlq replay` re-injected it.
 */
export async function forEachDeadLetterPage(
  kafka: Kafka,
  redis: RedisClient,
  config: TandemConfig,
  stream: Stream,
  signal: AbortSignal,
  onPage: (letters: DeadLetter[]) => Promise<void>,
  options: { /** @defaultValue DEAD_LETTER_DEDUP_WINDOW */ dedupWindow?: number } = {},
): Promise<void> {
  const [{ deadLetterHeaders }, { kafkaUnavailable }] = await Promise.all([
    import('@tandem/speed'),
    import('../wiring/clients.ts'),
  ]);
  const recent = new RecentKeys(options.dedupWindow ?? DEAD_LETTER_DEDUP_WINDOW);
  const replayedHash = replayedKey(config, stream.dlqTopic);
  try {
    await forEachTopicBatch(
      kafka,
      stream.dlqTopic,
      async (messages) => {
        const fresh: Array<{ message: TopicMessage; sourceKey: string }> = [];
        for (const message of messages) {
          const sourceKey = message.key?.toString('utf8') ?? `${message.partition}:${message.offset}`;
          if (recent.add(sourceKey)) fresh.push({ message, sourceKey });
        }
        if (fresh.length === 0) return;
        const marks = await redis.hmget(replayedHash, ...fresh.map((entry) => entry.sourceKey));
        await onPage(
          fresh.map(({ message, sourceKey }, i) =>
            toDeadLetter(message, sourceKey, marks[i] !== null, deadLetterHeaders),
          ),
        );
      },
      { signal },
    );
  } catch (error) {
    if (error instanceof Error && /ECONNREFUSED|Connection error|connect/.test(error.message)) {
      throw kafkaUnavailable(config.kafka, error);
    }
    throw error;
  }
}

function byRoutedAt(a: DeadLetter, b: DeadLetter): number {
  return (a.routedAt ?? '').localeCompare(b.routedAt ?? '') || a.id.localeCompare(b.id);
}

/** The last `capacity` keys added, in a Set that forgets the oldest (insertion order) past it. */
class RecentKeys {
  readonly #keys = new Set<string>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Adds `key`; false when it is among the keys remembered. */
  add(key: string): boolean {
    if (this.#keys.has(key)) return false;
    this.#keys.add(key);
    if (this.#keys.size > this.#capacity) {
      const oldest = this.#keys.values().next().value;
      if (oldest !== undefined) this.#keys.delete(oldest);
    }
    return true;
  }
}

/** The newest `limit` of the letters offered (by routing time), in at most 2 × `limit` memory. */
class NewestLetters {
  readonly #limit: number;
  #letters: DeadLetter[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  offer(letter: DeadLetter): void {
    this.#letters.push(letter);
    if (this.#letters.length >= 2 * this.#limit)
      this.#letters = this.#letters.sort(byRoutedAt).slice(-this.#limit);
  }

  /** Oldest first. */
  letters(): DeadLetter[] {
    return this.#letters.sort(byRoutedAt).slice(-this.#limit);
  }
}

function toJson(letter: DeadLetter, withValue: boolean): Record<string, unknown> {
  const { value, ...rest } = letter;
  return {
    ...rest,
    preview: preview(value, 200),
    ...(withValue ? { valueBase64: value?.toString('base64') ?? null } : {}),
  };
}

/** Runs `work` on the stream named by --stream (checked against the config) with fresh clients. */
async function withClients<T>(
  context: CommandContext,
  streamName: string | undefined,
  work: (kafka: Kafka, redis: RedisClient, config: TandemConfig, stream: Stream) => Promise<T>,
): Promise<T> {
  const config = context.config();
  const stream = resolveStream(await context.catalog(), streamName);
  const { connectRedis, createKafka } = await import('../wiring/clients.ts');
  const redis = await connectRedis(config.redis);
  try {
    return await work(createKafka(config.kafka, 'dlq'), redis, config, stream);
  } finally {
    redis.disconnect();
  }
}

function printList(out: Output, letters: DeadLetter[], total: number): void {
  if (letters.length === 0) {
    out.line(
      total === 0 ? 'The dead-letter queue is empty.' : `No dead letter matches (${total} in the queue).`,
    );
    return;
  }
  out.table(letters, [
    { header: 'ID', cell: (l) => l.id },
    { header: 'ROUTED', cell: (l) => (l.routedAt ? formatTime(Date.parse(l.routedAt)) : '—') },
    { header: 'ERROR', cell: (l) => l.error.code.replace('TANDEM_ERR_EVENT_', '') },
    { header: 'FIELD/RULE', cell: (l) => `${l.error.field ?? '—'}/${l.error.rule}` },
    {
      header: 'SOURCE',
      cell: (l) => `${l.source.topic}:${l.source.partition ?? '?'}:${l.source.offset ?? '?'}`,
    },
    { header: 'STATE', cell: (l) => (l.replayed ? 'replayed' : 'dead') },
    { header: 'ORIGINAL', cell: (l) => preview(l.value, 48) },
  ]);
}

const streamOption = option(streamValue(), {
  description: 'the stream whose dead letters to read (each stream has its own DLQ topic)',
  placeholder: 'stream',
  defaultText: "events, or the config's only stream",
});

const filterOptions = {
  stream: streamOption,
  code: option(v.text('an error code, e.g. TANDEM_ERR_EVENT_INVALID_JSON or INVALID_JSON'), {
    description: 'only dead letters with this error code',
    placeholder: 'code',
  }),
  rule: option(
    v.text(
      'a rule name: size, utf8, json, object, required, type, maxLength, format, finite, minimum, maximum, future, …',
    ),
    {
      description: 'only dead letters that broke this rule',
      placeholder: 'rule',
    },
  ),
};

export const dlqListCommand = defineCommand({
  path: ['dlq', 'list'],
  summary: 'list dead letters: why each was rejected and where it came from',
  description:
    'Reads a stream’s dead-letter topic (--stream; the web stream’s is TANDEM_DLQ_TOPIC, default events.dlq) as it is now. Each source message ' +
    'is listed once, with its error code, field and rule, its position in the source topic and a preview ' +
    'of the original bytes. Entries already re-injected by `tandem dlq replay` are hidden unless --all.',
  options: {
    ...filterOptions,
    all: flag('include dead letters that were already replayed'),
    limit: withDefault(v.integer(1, 100_000), 50, {
      description: 'show at most this many (the newest)',
      placeholder: 'n',
    }),
  },
  reports: true,
  examples: [
    'tandem dlq list',
    'tandem dlq list --code INVALID_JSON --limit 10',
    'tandem dlq list --all --json | jq length',
    'TANDEM_CONFIG=examples/iot/tandem.config.ts tandem dlq list --stream iot',
  ],
  async run(context, options) {
    return withClients(context, options.stream, async (kafka, redis, config, stream) => {
      const filters = { code: options.code, rule: options.rule, includeReplayed: options.all };
      const newest = new NewestLetters(options.limit);
      const byCode: Record<string, number> = {};
      let total = 0;
      let matching = 0;
      let replayed = 0;
      await forEachDeadLetterPage(kafka, redis, config, stream, context.signal, async (page) => {
        for (const letter of page) {
          total++;
          if (letter.replayed) replayed++;
          if (!matches(letter, filters)) continue;
          matching++;
          byCode[letter.error.code] = (byCode[letter.error.code] ?? 0) + 1;
          newest.offer(letter);
        }
      });
      const shown = newest.letters();
      printList(context.out, shown, total);
      if (shown.length < matching)
        context.out.line(`(${matching - shown.length} older not shown; raise --limit)`);
      if (shown.length > 0) {
        context.out.line('');
        context.out.line(
          `${matching} dead letters (${Object.entries(byCode)
            .map(([code, n]) => `${code.replace('TANDEM_ERR_EVENT_', '')} ${n}`)
            .join(', ')}); ${replayed} replayed`,
        );
      }
      context.out.result({
        stream: stream.name,
        topic: stream.dlqTopic,
        total,
        matching,
        byCode,
        deadLetters: shown.map((l) => toJson(l, false)),
      });
      return 0;
    });
  },
});

export const dlqShowCommand = defineCommand({
  path: ['dlq', 'show'],
  summary: 'show one dead letter in full, with its original bytes',
  options: { stream: streamOption },
  positionals: {
    name: 'id',
    description: 'the ID from `tandem dlq list` (<partition>:<offset>) or the source key',
    min: 1,
    max: 1,
  },
  reports: true,
  examples: [
    'tandem dlq show 0:17',
    'tandem dlq show events:3:1042 --json',
    'tandem dlq show iot-readings:0:12 --stream iot',
  ],
  async run(context, options, positionals) {
    const id = positionals[0]!;
    if (!/^\d+:\d+$/.test(id) && !/^.+:\d+:\d+$/.test(id)) {
      throw usageError(
        `"${id}" is not a dead-letter ID; expected <partition>:<offset> as listed by tandem dlq list, or <topic>:<partition>:<offset>`,
      );
    }
    return withClients(context, options.stream, async (kafka, redis, config, stream) => {
      const found: { letter?: DeadLetter | undefined } = {};
      let total = 0;
      await forEachDeadLetterPage(kafka, redis, config, stream, context.signal, async (page) => {
        total += page.length;
        found.letter ??= page.find((l) => l.id === id || l.sourceKey === id);
      });
      const letter = found.letter;
      if (!letter) {
        context.out.error(
          `no dead letter ${id} in ${stream.dlqTopic} (${total} there; see tandem dlq list --all)`,
        );
        return 1;
      }
      const out = context.out;
      out.line(`${out.style('dead letter', 'bold')} ${letter.id}${letter.replayed ? ' (replayed)' : ''}`);
      out.line(`  error      ${letter.error.code}: ${letter.error.message}`);
      out.line(`  field      ${letter.error.field ?? '—'}   rule ${letter.error.rule}`);
      out.line(
        `  source     ${letter.source.topic} partition ${letter.source.partition} offset ${letter.source.offset}  key ${letter.originalKey ?? '—'}`,
      );
      out.line(`  routed at  ${letter.routedAt ?? '—'} by ${letter.pipelineVersion ?? '—'}`);
      out.line(`  size       ${letter.size} bytes`);
      out.line(`  original   ${preview(letter.value, 2_000)}`);
      if (letter.value && preview(letter.value, 2_000).includes('[not UTF-8]')) {
        out.line(
          `  hex        ${letter.value
            .subarray(0, 256)
            .toString('hex')
            .replace(/(.{2})/g, '$1 ')}`,
        );
      }
      const decoded = letter.value === null ? null : await decodeFramed(stream, config, letter.value);
      if (decoded !== null) {
        const writer =
          decoded.schemaId === null
            ? 'none (not Confluent-framed)'
            : `${decoded.schemaId}${decoded.version === null ? ' (not a version of the subject)' : ` (version ${decoded.version} of ${stream.registry!.subject})`}`;
        out.line(`  schema id  ${writer}`);
        out.line(
          `  decoded    ${decoded.ok ? JSON.stringify(decoded.body) : `— ${decoded.error.code}: ${decoded.error.message}`}`,
        );
      }
      out.result({
        ...toJson(letter, true),
        ...(decoded === null
          ? {}
          : {
              decoded: decoded.ok
                ? { schemaId: decoded.schemaId, version: decoded.version, body: decoded.body }
                : { schemaId: decoded.schemaId, version: decoded.version, error: decoded.error },
            }),
      });
      return 0;
    });
  },
});

/**
 * A registry-backed stream's dead letter decoded by its writer's schema (looked up in the registry
 * when the stream did not load it); null for other streams.
 */
async function decodeFramed(
  stream: Stream,
  config: TandemConfig,
  value: Buffer,
): Promise<FramedDecode | null> {
  if (stream.registry === null) return null;
  const subject = stream.registry.subject;
  const client =
    config.schemaRegistry.url === null ? null : createSchemaRegistryClient(config.schemaRegistry);
  const parser = compileFramedStreamParser(
    stream,
    client === null ? undefined : (id) => client.schemaById(id, subject),
  );
  await parser.prepare([value]);
  return parser.decode(value);
}

export const dlqReplayCommand = defineCommand({
  path: ['dlq', 'replay'],
  summary: 're-inject dead letters into the source topic after a fix',
  description:
    'Sends the original bytes and key of each matching dead letter back to the topic it came from, so the ' +
    'speed layer validates it again (after a fix: a raised limit, a corrected schema, a repaired producer). ' +
    'Each replayed entry is remembered and not replayed twice; one that still fails is dead-lettered again ' +
    'as a new entry and stays in the queue. Valid events that were already counted are dropped by the ' +
    'layers’ deduplication (the stream’s id field, or the event’s content).',
  options: {
    ...filterOptions,
    limit: option(v.integer(1, 10_000_000), {
      description: 'replay at most this many (oldest first within each DLQ partition)',
      placeholder: 'n',
      defaultText: 'all',
    }),
    'dry-run': flag('list what would be replayed; send nothing'),
  },
  reports: true,
  examples: [
    'tandem dlq replay --dry-run',
    'EVENT_MAX_BYTES=131072 tandem speed &   # after raising the size limit …',
    'tandem dlq replay --code TOO_LARGE      # … re-inject the oversized events',
    'tandem dlq replay --stream iot --rule maximum --dry-run',
  ],
  async run(context, options) {
    return withClients(context, options.stream, async (kafka, redis, config, stream) => {
      const filters = { code: options.code, rule: options.rule, includeReplayed: false };
      const limit = options.limit ?? Number.POSITIVE_INFINITY;
      if (options['dry-run']) {
        // bounded too: the count is exact, the table shows the first DRY_RUN_SHOWN
        const shown: DeadLetter[] = [];
        let total = 0;
        let wouldReplay = 0;
        let unknownSource = 0;
        await forEachDeadLetterPage(kafka, redis, config, stream, context.signal, async (page) => {
          for (const letter of page) {
            total++;
            if (!matches(letter, filters) || wouldReplay >= limit) continue;
            if (letter.source.topic === '') {
              unknownSource++;
              continue;
            }
            wouldReplay++;
            if (shown.length < DRY_RUN_SHOWN) shown.push(letter);
          }
        });
        if (unknownSource > 0)
          context.out.warn(
            `${unknownSource} dead letters have no source topic header; they would be skipped`,
          );
        context.out.line(`would replay ${wouldReplay} of ${total} dead letters:`);
        printList(context.out, shown, total);
        if (shown.length < wouldReplay) context.out.line(`(${wouldReplay - shown.length} more not shown)`);
        context.out.result({
          dryRun: true,
          stream: stream.name,
          wouldReplay,
          deadLetters: shown.map((l) => toJson(l, false)),
        });
        return 0;
      }
      const { deadLetterHeaders } = await import('@tandem/speed');
      // Idempotent: a send kafkajs retries after a timeout must not land twice (the printed truth,
      // and a replayed dead letter, count each message once).
      const producer = kafka.producer({
        allowAutoTopicCreation: false,
        idempotent: true,
        maxInFlightRequests: 1,
      });
      try {
        await producer.connect();
      } catch (error) {
        const { kafkaUnavailable } = await import('../wiring/clients.ts');
        throw kafkaUnavailable(config.kafka, error);
      }
      const progress = context.out.progress({
        label: 'dlq replay',
        total: options.limit ?? null,
        unit: 'messages',
      });
      let replayed = 0;
      let selected = 0;
      let unknownSource = 0;
      const topics = new Set<string>();
      /** Produce (acks all), then remember. A crash in between replays a batch twice, which
       * event_id deduplication absorbs; the reverse order could lose messages. */
      const send = async (batch: DeadLetter[]): Promise<void> => {
        const byTopic = new Map<string, DeadLetter[]>();
        for (const l of batch) {
          byTopic.set(l.source.topic, [...(byTopic.get(l.source.topic) ?? []), l]);
          topics.add(l.source.topic);
        }
        await producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, entries]) => ({
            topic,
            messages: entries.map((l) => ({
              key: l.originalKey,
              value: l.value,
              headers: {
                [deadLetterHeaders.replayedFrom]: `${stream.dlqTopic}:${l.id}`,
                // the speed layer's dedup window then does not take this for a copy of the original
                [deadLetterHeaders.replayedSource]: l.sourceKey,
              },
            })),
          })),
        });
        const now = new Date(context.now()).toISOString();
        await redis.hset(
          replayedKey(config, stream.dlqTopic),
          Object.fromEntries(batch.map((l) => [l.sourceKey, now])),
        );
        replayed += batch.length;
        progress.tick(batch.length);
      };
      try {
        // Each fetched page is sent and recorded before the next is read: memory holds one page.
        await forEachDeadLetterPage(kafka, redis, config, stream, context.signal, async (page) => {
          const chosen: DeadLetter[] = [];
          for (const letter of page) {
            if (!matches(letter, filters) || selected >= limit) continue;
            if (letter.source.topic === '') {
              unknownSource++;
              continue;
            }
            selected++;
            chosen.push(letter);
          }
          for (let i = 0; i < chosen.length && !context.signal.aborted; i += 500) {
            await send(chosen.slice(i, i + 500));
          }
        });
      } finally {
        progress.stop(`replayed ${replayed} of ${selected} dead letters`);
        await producer.disconnect();
      }
      if (unknownSource > 0)
        context.out.warn(`${unknownSource} dead letters have no source topic header; skipped them`);
      context.out.line(
        `re-injected ${replayed} dead letters into ${[...topics].join(', ') || '—'}; ` +
          'those that still fail will be dead-lettered again (see tandem dlq list).',
      );
      context.out.result({
        dryRun: false,
        stream: stream.name,
        replayed,
        selected,
        interrupted: context.signal.aborted,
      });
      return context.signal.aborted ? 130 : 0;
    });
  },
});

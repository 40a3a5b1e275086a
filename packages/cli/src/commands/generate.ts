// `tandem generate`: realistic synthetic traffic to Kafka (live, paced) or straight into the lake
// (past hours, archiver format), deterministic with --seed, ending with the truth of what it sent.
import { randomInt } from 'node:crypto';
import type { Writable } from 'node:stream';
import { type Catalog, isTandemError, type Stream, type TandemConfig, webStream } from '@tandem/core';
import { defineCommand, flag, option, withDefault, withOptionalValue } from '../framework/command.ts';
import type { Output } from '../framework/output.ts';
import { formatDuration, formatHour, formatTime } from '../framework/time.ts';
import { usageError } from '../framework/usage-error.ts';
import * as v from '../framework/values.ts';
import { type SendableRecord, sendTrafficToKafka } from '../generate/kafka-sender.ts';
import type { LakeRecord } from '../generate/lake-writer.ts';
import { hashString } from '../generate/random.ts';
import {
  expectedStreamMessages,
  generateStreamTraffic,
  type StreamTrafficOptions,
  type StreamTrafficRecord,
} from '../generate/stream-events.ts';
import { type FramedTrafficRecord, frameStreamTraffic } from '../generate/framed-traffic.ts';
import { type StreamTrafficTruth, StreamTruthLedger } from '../generate/stream-truth.ts';
import { expectedMessages, generateTraffic, type TrafficOptions } from '../generate/traffic.ts';
import { type TrafficTruth, TruthLedger } from '../generate/truth.ts';

const HOUR = 3_600_000;

/** The lateness that makes a generated late event late for the configured speed layer, with margin. */
export function lateByFor(config: TandemConfig, maxJitterMs: number): number {
  return config.speed.outOfOrdernessMs + config.speed.allowedLatenessMs + maxJitterMs + 30_000;
}

export type GenerateTarget = 'kafka' | 'lake' | 'stdout';

export interface GenerateSummary {
  to: GenerateTarget;
  /** The stream generated for (the web stream: `events`). */
  stream?: string;
  seed: number;
  options: TrafficOptions;
  truth: TrafficTruth;
  elapsedMs: number;
  topic?: string;
  files?: Array<{ key: string; hour: string; lines: number; bytes: number }>;
  interrupted: boolean;
}

/**
 * Where generated messages go. Kafka: the stream's topic (its DLQ and late topics are created with
 * it; default the config's). Lake: the stream's raw-log prefix (default `logs`). Stdout: one message
 * per line, as sent.
 */
export type GenerationTarget =
  | { to: 'kafka'; topic: string; burst: boolean; dlqTopic?: string; lateTopic?: string }
  | { to: 'lake'; logsPrefix?: string }
  | { to: 'stdout'; stdout: Writable };

/** Which of the web generator's messages to keep: all, or only the bad ones; and how many. */
export interface GenerationFilter {
  onlyBad?: boolean;
  limit?: number;
}

function* filtered<R extends { label: string }>(
  records: Iterable<R>,
  filter: GenerationFilter,
): Generator<R> {
  let left = filter.limit ?? Number.POSITIVE_INFINITY;
  if (left <= 0) return;
  for (const record of records) {
    if (filter.onlyBad && record.label !== 'bad') continue;
    yield record;
    if (--left <= 0) return;
  }
}

const newline = new Uint8Array([0x0a]);

/** Writes each message and a newline to a stream, waiting when it is full; stops on abort. */
async function writeLines<R extends { value: Uint8Array }>(
  stdout: Writable,
  records: Iterable<R>,
  signal: AbortSignal,
  onRecord: (record: R) => void,
): Promise<void> {
  for (const record of records) {
    if (signal.aborted) return;
    onRecord(record);
    const roomForValue = stdout.write(record.value);
    const roomForNewline = stdout.write(newline);
    if (!roomForValue || !roomForNewline) await new Promise<void>((resolve) => stdout.once('drain', resolve));
  }
}

interface Delivery<R> {
  /** Counts a record into the truth as it is delivered. */
  observe(record: R): void;
  /** The normalized event time of a record, null for poison (lake partitioning, progress). */
  eventTime(record: R): number | null;
  /** The "topic" part of lake file names: one per generation, so a rerun overwrites its own files. */
  fileTag: string;
  /** Expected messages, for the progress bar. */
  total: number;
}

/** Delivers records to the target, counting each as it goes; fills topic/files/interrupted/elapsed. */
async function deliver<R extends SendableRecord & LakeRecord>(
  config: TandemConfig,
  records: Iterable<R>,
  target: GenerationTarget,
  context: { signal: AbortSignal; out: Output; progress: boolean },
  delivery: Delivery<R>,
  summary: Omit<GenerateSummary, 'truth' | 'options'>,
): Promise<void> {
  const started = performance.now();
  const progress = context.progress
    ? context.out.progress({
        label: target.to === 'kafka' ? `generate → ${target.topic}` : `generate → ${target.to}`,
        total: delivery.total,
        unit: 'events',
      })
    : null;
  const take = (record: R): void => {
    delivery.observe(record);
    progress?.tick(1);
  };
  try {
    if (target.to === 'lake') {
      const [{ openObjectStore }, { writeTrafficToLake }] = await Promise.all([
        import('@tandem/lake'),
        import('../generate/lake-writer.ts'),
      ]);
      const store = openObjectStore(config.lake);
      try {
        const written = await writeTrafficToLake(store, records, {
          fileTag: delivery.fileTag,
          eventTime: delivery.eventTime,
          signal: context.signal,
          onRecord: take,
          ...(target.logsPrefix === undefined ? {} : { logsPrefix: target.logsPrefix }),
        });
        summary.files = written.files.map((file) => ({ ...file, hour: formatHour(file.hour) }));
      } finally {
        await store.close();
      }
    } else if (target.to === 'stdout') {
      await writeLines(target.stdout, records, context.signal, take);
    } else {
      const [{ createKafka, kafkaUnavailable }, { ensureTopics }] = await Promise.all([
        import('../wiring/clients.ts'),
        import('../wiring/topics.ts'),
      ]);
      const kafka = createKafka(config.kafka, 'generate');
      await ensureTopics(kafka, config.kafka, [
        target.topic,
        target.dlqTopic ?? config.kafka.dlqTopic,
        target.lateTopic ?? config.kafka.lateTopic,
      ]);
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
        throw kafkaUnavailable(config.kafka, error);
      }
      try {
        summary.topic = target.topic;
        await sendTrafficToKafka<R>(producer, records, {
          topic: target.topic,
          burst: target.burst,
          signal: context.signal,
          onSent: (batch) => {
            for (const record of batch) delivery.observe(record);
            const last = batch.at(-1);
            progress?.tick(
              batch.length,
              `event time ${formatTime(last === undefined ? null : delivery.eventTime(last))}`,
            );
          },
        });
      } finally {
        await producer.disconnect();
      }
    }
  } catch (error) {
    if (!context.signal.aborted) throw error;
  } finally {
    summary.interrupted = context.signal.aborted;
    summary.elapsedMs = Math.round(performance.now() - started);
    progress?.stop(
      `${summary.interrupted ? 'stopped' : 'done'}: ${progress.done} messages in ${formatDuration(summary.elapsedMs)}`,
    );
  }
}

/** Runs a generation to Kafka, the lake or stdout; shared by `tandem generate` and `tandem up --traffic`. */
export async function runGeneration(
  config: TandemConfig,
  traffic: TrafficOptions,
  target: GenerationTarget,
  context: { signal: AbortSignal; out: Output; progress: boolean },
  filter: GenerationFilter = {},
): Promise<GenerateSummary> {
  const ledger = new TruthLedger();
  const expected = filter.onlyBad
    ? Math.round(
        expectedMessages({ ...traffic, lateRatio: 0, duplicateRatio: 0, badRatio: 0 }) * traffic.badRatio,
      )
    : expectedMessages(traffic);
  const summary: GenerateSummary = {
    to: target.to,
    stream: webStream.name,
    seed: traffic.seed,
    options: traffic,
    truth: ledger.summary(),
    elapsedMs: 0,
    interrupted: false,
  };
  try {
    await deliver(
      config,
      filtered(generateTraffic(traffic), filter),
      target,
      context,
      {
        observe: (record) => ledger.observe(record),
        eventTime: (record) => record.event?.timestamp ?? null,
        fileTag: `generated-${hashString(JSON.stringify(traffic)).toString(36)}`,
        total: Math.min(expected, filter.limit ?? Number.POSITIVE_INFINITY),
      },
      summary,
    );
  } finally {
    summary.truth = ledger.summary();
  }
  return summary;
}

/** What `tandem generate --stream S` reports for a stream other than the web stream. */
export interface StreamGenerateSummary {
  to: GenerateTarget;
  stream: string;
  seed: number;
  options: StreamTrafficOptions;
  truth: StreamTrafficTruth;
  elapsedMs: number;
  topic?: string;
  files?: Array<{ key: string; hour: string; lines: number; bytes: number }>;
  interrupted: boolean;
}

/** Runs a schema-driven generation for any stream (see generate/stream-events.ts). */
export async function runStreamGeneration(
  config: TandemConfig,
  stream: Stream,
  traffic: StreamTrafficOptions,
  target: GenerationTarget,
  context: { signal: AbortSignal; out: Output; progress: boolean },
): Promise<StreamGenerateSummary> {
  const ledger = new StreamTruthLedger(stream);
  const summary: StreamGenerateSummary = {
    to: target.to,
    stream: stream.name,
    seed: traffic.seed,
    options: traffic,
    truth: ledger.summary(),
    elapsedMs: 0,
    interrupted: false,
  };
  try {
    const generated = generateStreamTraffic(stream, traffic);
    await deliver<StreamTrafficRecord | FramedTrafficRecord>(
      config,
      // A registry-backed stream's messages are Confluent-framed, as its producers write them; the
      // lake holds NDJSON lines (what the archiver writes after decoding), so files are not framed.
      stream.registry === null || target.to === 'lake' ? generated : frameStreamTraffic(stream, generated),
      target,
      context,
      {
        observe: (record) => ledger.observe(record),
        eventTime: (record) => (record.event === null ? null : (record.event[stream.timeField] as number)),
        fileTag: `generated-${stream.name.replace(/_/g, '-')}-${hashString(JSON.stringify(traffic)).toString(36)}`,
        total: expectedStreamMessages(traffic),
      },
      summary,
    );
  } finally {
    summary.truth = ledger.summary();
  }
  return summary;
}

export function printTruth(out: Output, summary: GenerateSummary | StreamGenerateSummary): void {
  const { truth } = summary;
  // With --to stdout the events are the output: the truth goes to stderr.
  const say = (text: string): void => (summary.to === 'stdout' ? out.info(text) : out.line(text));
  const where =
    summary.to === 'kafka'
      ? `sent to Kafka topic ${summary.topic}`
      : summary.to === 'lake'
        ? 'wrote to the lake'
        : 'wrote to stdout';
  const stream = summary.stream === undefined ? '' : ` of stream ${summary.stream}`;
  say(
    `${where}: ${truth.messages} messages${stream} (seed ${summary.seed}${summary.interrupted ? ', interrupted' : ''})`,
  );
  say(`  valid (counted by both layers)   ${truth.valid}`);
  say(`  late  (batch only; speed's late) ${truth.late}`);
  say(`  duplicates (counted by nobody)   ${truth.duplicates}`);
  say(
    `  bad   (dead-letter queue)        ${truth.bad}${summary.to === 'lake' && truth.bad > 0 ? ' — not written: the archiver skips them too' : ''}`,
  );
  if ('badByRule' in truth && truth.bad > 0) {
    const rules = Object.entries(truth.badByRule)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([rule, n]) => `${rule} ${n}`);
    say(`    by rule: ${rules.join(', ')}`);
  }
  if (truth.firstEventTime !== null) {
    say(`  event time ${formatTime(truth.firstEventTime)} … ${formatTime(truth.lastEventTime)}`);
  }
  if (summary.files) {
    say(`  ${summary.files.length} files:`);
    for (const file of summary.files) say(`    ${file.key}  ${file.lines} lines`);
  }
}

/** The stream named by --stream; without it `events`, or the config's only stream. */
function resolveStream(catalog: Catalog, name: string | undefined): Stream {
  const names = catalog.streams.map((stream) => stream.name);
  if (name === undefined) {
    const fallback =
      catalog.streams.find((stream) => stream.name === webStream.name) ??
      (catalog.streams.length === 1 ? catalog.streams[0] : undefined);
    if (fallback === undefined) {
      throw usageError(`the config declares several streams; name one with --stream: ${names.join(', ')}`);
    }
    return fallback;
  }
  const stream = catalog.streams.find((candidate) => candidate.name === name);
  if (stream === undefined) {
    throw usageError(
      `--stream "${name}" is not a stream of the config; expected one of ${names.join(', ')}`,
      {
        flag: '--stream',
      },
    );
  }
  return stream;
}

/** Whether a stream is the web stream (its schema, on any topics): generated by the shop simulation. */
function isWebStream(stream: Stream): boolean {
  return stream.fingerprint === webStream.fingerprint;
}

const webOnlyDefaults = { endpoints: 40, users: 500, diurnal: 0.5 } as const;

export const generateCommand = defineCommand({
  path: ['generate'],
  summary: 'synthetic traffic for any stream, valid and invalid, to Kafka, the lake or stdout',
  description:
    'For the web stream (events, the default) it simulates a web shop: Zipf-skewed endpoints with their ' +
    'own latency and error profiles, users browsing in sessions of page views, a rate that follows the ' +
    'time of day. For any other stream (--stream) it generates from the schema alone: random values that ' +
    'satisfy every keyword (types, lengths in characters, bounds, enums, nullable), optional fields and ' +
    "defaults left out now and then, the event time in the stream's encoding, and unique ids when the " +
    'stream has an id field.\n\n' +
    'Both add the faults a real stream has: late events (further behind than the speed layer allows), ' +
    'producer-retry duplicates, and invalid messages that each break one rule (broken JSON, invalid UTF-8, ' +
    'too large, not an object, a missing or null required field, a wrong type, not an integer, not finite, ' +
    'too short or long, out of range, not in the enum, a bad, pre-1970 or far-future time). --bad <ratio> ' +
    'mixes them in; --bad alone sends only invalid messages. The same --seed and flags give the same stream.\n\n' +
    "--to kafka sends live to the stream's topic, paced by event time (a --start in the past is sent at " +
    'once, then live). --to lake writes past hours in the archiver format (gzipped NDJSON under the ' +
    "stream's <lakePrefix>/dt=…/hour=…/), so the batch layer can seal them right away; invalid messages " +
    'are left out as the archiver would. --to stdout prints one message per line, as it would be sent ' +
    '(the summary goes to stderr).\n\n' +
    'At the end it prints the truth: how many valid, late, duplicate and invalid messages it produced ' +
    '(with --json, and for other streams the rules the invalid ones break).',
  options: {
    stream: option(v.text('a stream of the config'), {
      description: 'the stream to generate for',
      placeholder: 'stream',
      defaultText: "events, or the config's only stream",
    }),
    rate: withDefault(v.positiveNumber('events/s'), 50, {
      description: 'mean on-time events per second (over the day, for the web stream)',
      placeholder: 'n',
    }),
    duration: option(v.duration(), {
      description: 'how much event time to generate',
      placeholder: 'duration',
      defaultText: '1m to kafka and stdout, 3h to lake; with --count, what the count takes at --rate',
    }),
    count: option(v.integer(1, 1_000_000_000), {
      description:
        'messages to produce: on-time events (late, duplicate and invalid ones come on top), or with --bad alone, invalid ones',
      placeholder: 'n',
      defaultText: 'rate × duration',
    }),
    endpoints: withDefault(v.integer(1, 100_000), webOnlyDefaults.endpoints, {
      description: 'distinct endpoints (web stream)',
      placeholder: 'n',
    }),
    users: withDefault(v.integer(1, 10_000_000), webOnlyDefaults.users, {
      description: 'distinct users (web stream)',
      placeholder: 'n',
    }),
    late: withDefault(v.ratio(), 0, { description: 'late events per event', placeholder: 'ratio' }),
    duplicates: withDefault(v.ratio(), 0, {
      description: 'duplicate resends per event',
      placeholder: 'ratio',
    }),
    bad: withOptionalValue<number | 'only'>(v.ratio(), 0, 'only', {
      description: 'invalid messages per event',
      placeholder: 'ratio',
      implicitText: 'only invalid messages',
    }),
    to: withDefault(v.oneOf(['kafka', 'lake', 'stdout'] as const), 'kafka', {
      description: 'where to send',
      placeholder: 'target',
    }),
    seed: option(v.integer(0, 2 ** 31 - 1), {
      description: 'random seed; the same seed and flags give the same stream',
      placeholder: 'n',
      defaultText: 'random, printed',
    }),
    start: option(v.time(), {
      description: 'event time of the first event',
      placeholder: 'time',
      defaultText:
        'now to kafka; to stdout, so the range ends now; to lake, the hour that makes the range end at the current hour',
    }),
    'late-by': option(v.duration(), {
      description: 'how far behind the stream late events are',
      placeholder: 'duration',
      defaultText: 'out-of-orderness + allowed lateness + 35s, from the config',
    }),
    diurnal: withDefault(v.ratio(), webOnlyDefaults.diurnal, {
      description: 'swing of the rate over the day, 0 = flat (web stream)',
      placeholder: 'ratio',
    }),
    topic: option(v.text('a Kafka topic'), {
      description: 'topic to send to',
      placeholder: 'topic',
      defaultText: "the stream's topic (events: TANDEM_TOPIC)",
    }),
    burst: flag('send as fast as possible instead of pacing by event time (kafka)'),
  },
  reports: true,
  examples: [
    'tandem generate --rate 200 --duration 10m --late 1% --duplicates 1% --bad 1%',
    'tandem generate --to lake --duration 3h --rate 100 --seed 7        # the last 3 complete hours',
    'tandem generate --start -10m --duration 1h --bad 0.5%                # catch up 10 minutes, then live',
    'tandem generate --burst --start 2025-01-31T10 --duration 1h --seed 42 --json',
    'TANDEM_CONFIG=examples/iot/tandem.config.ts tandem generate --stream iot --count 5 --to stdout',
    'tandem generate --stream iot --bad --count 20 --to stdout            # one invalid reading per line',
    'tandem generate --stream iot --rate 20 --duration 5m --duplicates 1% --late 1% --bad 1%',
  ],
  async run(context, options) {
    const config = context.config();
    const now = context.now();
    const to = options.to;
    const stream = resolveStream(await context.catalog(), options.stream);
    const web = isWebStream(stream);
    const onlyBad = options.bad === 'only';
    const badRatio = options.bad === 'only' ? 0 : options.bad;
    if (to !== 'kafka' && options.burst)
      throw usageError(
        `--burst applies to --to kafka only; ${to === 'lake' ? 'the lake' : 'stdout'} is written at once`,
      );
    if (to !== 'kafka' && options.topic !== undefined) throw usageError('--topic applies to --to kafka only');
    if (to === 'stdout' && context.out.json)
      throw usageError('--json can not share stdout with --to stdout; the summary is printed to stderr');
    if (!web) {
      for (const [flagName, value] of Object.entries(webOnlyDefaults)) {
        if (options[flagName as keyof typeof webOnlyDefaults] !== value) {
          throw usageError(
            `--${flagName} applies to the web stream (events) only; stream "${stream.name}" is generated from its schema`,
          );
        }
      }
    }
    // Enough event time for --count at the rate (the web stream's rate swings over the day).
    const countMs =
      options.count === undefined
        ? null
        : Math.ceil(
            (options.count / options.rate) * 1000 * (web ? 1.25 / (1 - Math.min(options.diurnal, 0.9)) : 1),
          );
    const durationMs = options.duration ?? countMs ?? (to === 'lake' ? 3 * HOUR : 60_000);
    let start: number;
    if (options.start !== undefined) start = options.start;
    else if (to === 'lake') start = Math.floor(now / HOUR) * HOUR - Math.ceil(durationMs / HOUR) * HOUR;
    else if (to === 'stdout') start = now - durationMs;
    else start = now;
    const seed = options.seed ?? randomInt(0, 2 ** 31 - 1);
    const maxJitterMs = 5_000;
    const lateByMs = options['late-by'] ?? lateByFor(config, maxJitterMs);
    if (lateByMs <= maxJitterMs)
      throw usageError(`--late-by must exceed ${maxJitterMs}ms, the jitter of on-time events`);
    if (to !== 'kafka' && start + durationMs > now) {
      context.out.warn(
        to === 'lake'
          ? `the range ends at ${formatTime(start + durationMs)}, after now: the batch layer will not seal an hour until it is complete`
          : `the range ends at ${formatTime(start + durationMs)}, after now: events more than ${formatDuration(config.events.futureToleranceMs)} ahead of the clock are invalid`,
      );
    }
    const target: GenerationTarget =
      to === 'kafka'
        ? {
            to,
            topic: options.topic ?? stream.topic,
            burst: options.burst,
            dlqTopic: stream.dlqTopic,
            lateTopic: stream.lateTopic,
          }
        : to === 'lake'
          ? { to, logsPrefix: stream.lakePrefix }
          : { to, stdout: context.out.stdout };
    const run = { signal: context.signal, out: context.out, progress: true };
    let summary: GenerateSummary | StreamGenerateSummary;
    if (web) {
      const traffic: TrafficOptions = {
        seed,
        start,
        durationMs,
        rate: options.rate,
        endpoints: options.endpoints,
        users: options.users,
        lateRatio: onlyBad ? 0 : options.late,
        duplicateRatio: onlyBad ? 0 : options.duplicates,
        badRatio: onlyBad ? 1 : badRatio,
        lateByMs,
        maxJitterMs,
        diurnalAmplitude: options.diurnal >= 1 ? 0.99 : options.diurnal,
        endpointSkew: 1.1,
        userSkew: 0.8,
        anonymousRatio: 0.05,
        idPrefix: null,
      };
      context.out.info(
        `generating ${options.count === undefined ? formatDuration(durationMs) : `${options.count} messages`} of ` +
          `${onlyBad ? 'invalid ' : ''}traffic from ${formatTime(start)} at ~${options.rate}/s to ${to} (seed ${seed})`,
      );
      summary = await runGeneration(config, traffic, target, run, {
        onlyBad,
        ...(options.count === undefined ? {} : { limit: options.count }),
      });
    } else {
      const traffic: StreamTrafficOptions = {
        seed,
        start,
        count: options.count ?? Math.max(1, Math.round((options.rate * durationMs) / 1000)),
        rate: options.rate,
        duplicateRatio: onlyBad ? 0 : options.duplicates,
        lateRatio: onlyBad ? 0 : options.late,
        lateByMs,
        badRatio,
        onlyBad,
        badKinds: null,
        maxJitterMs,
        keys: 64,
        maxEventBytes: config.events.maxBytes,
        idPrefix: null,
        // Dimensions of a few dozen values each, so views and the dashboard show readable groups.
        valuePool: 24,
      };
      context.out.info(
        `generating ${traffic.count} ${onlyBad ? 'invalid ' : ''}events of stream ${stream.name} from ` +
          `${formatTime(start)} at ~${options.rate}/s to ${to} (seed ${seed})`,
      );
      try {
        summary = await runStreamGeneration(config, stream, traffic, target, run);
      } catch (error) {
        // A schema no event can satisfy, or an id field with too few values for --count.
        if (error instanceof RangeError && !isTandemError(error)) throw usageError(error.message);
        throw error;
      }
    }
    printTruth(context.out, summary);
    context.out.result(summary);
    return summary.interrupted ? 130 : 0;
  },
});

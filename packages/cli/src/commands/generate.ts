// `tandem generate`: realistic synthetic traffic to Kafka (live, paced) or straight into the lake
// (past hours, archiver format), deterministic with --seed, ending with the truth of what it sent.
import { randomInt } from 'node:crypto';
import type { TandemConfig } from '@tandem/core';
import { defineCommand, flag, option, withDefault } from '../framework/command.ts';
import type { Output } from '../framework/output.ts';
import { formatDuration, formatHour, formatTime } from '../framework/time.ts';
import { usageError } from '../framework/usage-error.ts';
import * as v from '../framework/values.ts';
import { sendTrafficToKafka } from '../generate/kafka-sender.ts';
import { hashString } from '../generate/random.ts';
import {
  expectedMessages,
  generateTraffic,
  type TrafficOptions,
  type TrafficRecord,
} from '../generate/traffic.ts';
import { type TrafficTruth, TruthLedger } from '../generate/truth.ts';

const HOUR = 3_600_000;

/** The lateness that makes a generated late event late for the configured speed layer, with margin. */
export function lateByFor(config: TandemConfig, maxJitterMs: number): number {
  return config.speed.outOfOrdernessMs + config.speed.allowedLatenessMs + maxJitterMs + 30_000;
}

export interface GenerateSummary {
  to: 'kafka' | 'lake';
  seed: number;
  options: TrafficOptions;
  truth: TrafficTruth;
  elapsedMs: number;
  topic?: string;
  files?: Array<{ key: string; hour: string; lines: number; bytes: number }>;
  interrupted: boolean;
}

/** Runs a generation to Kafka or the lake; shared by `tandem generate` and `tandem up --traffic`. */
export async function runGeneration(
  config: TandemConfig,
  traffic: TrafficOptions,
  target: { to: 'kafka'; topic: string; burst: boolean } | { to: 'lake' },
  context: { signal: AbortSignal; out: Output; progress: boolean },
): Promise<GenerateSummary> {
  const ledger = new TruthLedger();
  const started = performance.now();
  const records = generateTraffic(traffic);
  const progress = context.progress
    ? context.out.progress({
        label: target.to === 'kafka' ? `generate → ${target.topic}` : 'generate → lake',
        total: expectedMessages(traffic),
        unit: 'events',
      })
    : null;
  const summary: GenerateSummary = {
    to: target.to,
    seed: traffic.seed,
    options: traffic,
    truth: ledger.summary(),
    elapsedMs: 0,
    interrupted: false,
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
          fileTag: `generated-${hashString(JSON.stringify(traffic)).toString(36)}`,
          signal: context.signal,
          onRecord: (record) => {
            ledger.observe(record);
            progress?.tick(1);
          },
        });
        summary.files = written.files.map((file) => ({ ...file, hour: formatHour(file.hour) }));
      } finally {
        await store.close();
      }
    } else {
      const [{ createKafka, kafkaUnavailable }, { ensureTopics }] = await Promise.all([
        import('../wiring/clients.ts'),
        import('../wiring/topics.ts'),
      ]);
      const kafka = createKafka(config.kafka, 'generate');
      await ensureTopics(kafka, config.kafka, [target.topic, config.kafka.dlqTopic, config.kafka.lateTopic]);
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      try {
        await producer.connect();
      } catch (error) {
        throw kafkaUnavailable(config.kafka, error);
      }
      try {
        summary.topic = target.topic;
        await sendTrafficToKafka(producer, records, {
          topic: target.topic,
          burst: target.burst,
          signal: context.signal,
          onSent: (batch: TrafficRecord[]) => {
            for (const record of batch) ledger.observe(record);
            progress?.tick(batch.length, `event time ${formatTime(batch.at(-1)?.event?.timestamp ?? null)}`);
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
    summary.truth = ledger.summary();
    summary.elapsedMs = Math.round(performance.now() - started);
    progress?.stop(
      `${summary.interrupted ? 'stopped' : 'done'}: ${summary.truth.messages} messages in ${formatDuration(summary.elapsedMs)}`,
    );
  }
  return summary;
}

export function printTruth(out: Output, summary: GenerateSummary): void {
  const { truth } = summary;
  out.line(
    `${summary.to === 'kafka' ? `sent to Kafka topic ${summary.topic}` : 'wrote to the lake'}: ` +
      `${truth.messages} messages (seed ${summary.seed}${summary.interrupted ? ', interrupted' : ''})`,
  );
  out.line(`  valid (counted by both layers)   ${truth.valid}`);
  out.line(`  late  (batch only; speed's late) ${truth.late}`);
  out.line(`  duplicates (counted by nobody)   ${truth.duplicates}`);
  out.line(
    `  bad   (dead-letter queue)        ${truth.bad}${summary.to === 'lake' && truth.bad > 0 ? ' — not written: the archiver skips them too' : ''}`,
  );
  if (truth.firstEventTime !== null) {
    out.line(`  event time ${formatTime(truth.firstEventTime)} … ${formatTime(truth.lastEventTime)}`);
  }
  if (summary.files) {
    out.line(`  ${summary.files.length} files:`);
    for (const file of summary.files) out.line(`    ${file.key}  ${file.lines} lines`);
  }
}

export const generateCommand = defineCommand({
  path: ['generate'],
  summary: 'synthetic traffic (skewed endpoints, sessions, diurnal rate) to Kafka or the lake',
  description:
    'Simulates a web shop: Zipf-skewed endpoints with their own latency and error profiles, users ' +
    'browsing in sessions of page views, a rate that follows the time of day, plus the faults a real ' +
    'stream has: late events (further behind than the speed layer allows), producer-retry duplicates, ' +
    'and bad messages of every kind (broken JSON, invalid UTF-8, oversized, wrong types, out of range, ' +
    'non-finite, bad or far-future timestamps). The same --seed and flags give the same stream.\n\n' +
    '--to kafka sends live, paced by event time (a --start in the past is sent at once, then live). ' +
    '--to lake writes past hours in the archiver format (gzipped NDJSON under logs/dt=…/hour=…/), so the ' +
    'batch layer can seal them right away; bad messages are left out as the archiver would.\n\n' +
    'At the end it prints the truth: how many valid, late, duplicate and bad messages it produced.',
  options: {
    rate: withDefault(v.positiveNumber('events/s'), 50, {
      description: 'mean on-time events per second over the day',
      placeholder: 'n',
    }),
    duration: option(v.duration(), {
      description: 'how much event time to generate',
      placeholder: 'duration',
      defaultText: '1m to kafka, 3h to lake',
    }),
    endpoints: withDefault(v.integer(1, 100_000), 40, {
      description: 'distinct endpoints',
      placeholder: 'n',
    }),
    users: withDefault(v.integer(1, 10_000_000), 500, { description: 'distinct users', placeholder: 'n' }),
    late: withDefault(v.ratio(), 0, { description: 'late events per event', placeholder: 'ratio' }),
    duplicates: withDefault(v.ratio(), 0, {
      description: 'duplicate resends per event',
      placeholder: 'ratio',
    }),
    bad: withDefault(v.ratio(), 0, { description: 'bad messages per event', placeholder: 'ratio' }),
    to: withDefault(v.oneOf(['kafka', 'lake'] as const), 'kafka', {
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
      defaultText: 'now to kafka; to lake, the hour that makes the range end at the current hour',
    }),
    'late-by': option(v.duration(), {
      description: 'how far behind the stream late events are',
      placeholder: 'duration',
      defaultText: 'out-of-orderness + allowed lateness + 35s, from the config',
    }),
    diurnal: withDefault(v.ratio(), 0.5, {
      description: 'swing of the rate over the day (0 = flat)',
      placeholder: 'ratio',
    }),
    topic: option(v.text('a Kafka topic'), {
      description: 'topic to send to',
      placeholder: 'topic',
      defaultText: 'TANDEM_TOPIC (events)',
    }),
    burst: flag('send as fast as possible instead of pacing by event time (kafka)'),
  },
  reports: true,
  examples: [
    'tandem generate --rate 200 --duration 10m --late 1% --duplicates 1% --bad 1%',
    'tandem generate --to lake --duration 3h --rate 100 --seed 7        # the last 3 complete hours',
    'tandem generate --start -10m --duration 1h --bad 0.5%                # catch up 10 minutes, then live',
    'tandem generate --burst --start 2025-01-31T10 --duration 1h --seed 42 --json',
  ],
  async run(context, options) {
    const config = context.config();
    const now = context.now();
    const to = options.to;
    const durationMs = options.duration ?? (to === 'lake' ? 3 * HOUR : 60_000);
    let start: number;
    if (options.start !== undefined) start = options.start;
    else if (to === 'lake') start = Math.floor(now / HOUR) * HOUR - Math.ceil(durationMs / HOUR) * HOUR;
    else start = now;
    if (to === 'lake' && options.burst)
      throw usageError('--burst applies to --to kafka only; the lake is written at once');
    if (to === 'lake' && options.topic !== undefined) throw usageError('--topic applies to --to kafka only');
    const seed = options.seed ?? randomInt(0, 2 ** 31 - 1);
    const maxJitterMs = 5_000;
    const traffic: TrafficOptions = {
      seed,
      start,
      durationMs,
      rate: options.rate,
      endpoints: options.endpoints,
      users: options.users,
      lateRatio: options.late,
      duplicateRatio: options.duplicates,
      badRatio: options.bad,
      lateByMs: options['late-by'] ?? lateByFor(config, maxJitterMs),
      maxJitterMs,
      diurnalAmplitude: options.diurnal >= 1 ? 0.99 : options.diurnal,
      endpointSkew: 1.1,
      userSkew: 0.8,
      anonymousRatio: 0.05,
      idPrefix: null,
    };
    if (traffic.lateByMs <= maxJitterMs)
      throw usageError(`--late-by must exceed ${maxJitterMs}ms, the jitter of on-time events`);
    if (to === 'lake' && start + durationMs > now) {
      context.out.warn(
        `the range ends at ${formatTime(start + durationMs)}, after now: the batch layer will not seal an hour until it is complete`,
      );
    }
    context.out.info(
      `generating ${formatDuration(durationMs)} of traffic from ${formatTime(start)} at ~${options.rate}/s to ${to} (seed ${seed})`,
    );
    const summary = await runGeneration(
      config,
      traffic,
      to === 'kafka' ? { to, topic: options.topic ?? config.kafka.topic, burst: options.burst } : { to },
      { signal: context.signal, out: context.out, progress: true },
    );
    printTruth(context.out, summary);
    context.out.result(summary);
    return summary.interrupted ? 130 : 0;
  },
});

// The long-running commands: `tandem serve`, `speed`, `archiver`, `batch schedule`, and `up` (all of
// them in one process, optionally with generated traffic). Each serves every stream and view of the
// config (`speed` and `archiver` a subset with --stream: one worker / archiver per stream, sharing
// the process's clients). Each runs until SIGINT/SIGTERM, then
// stops its components in reverse order — the speed worker abandons its in-flight micro-batch
// uncommitted, the archiver flushes and commits, the scheduler and recompute jobs stop between
// hours (the chunk being computed is interrupted and not published), so nothing is left
// half-published.
import { randomInt } from 'node:crypto';
import { type Stream, webStream } from '@tandem/core';
import { type CommandContext, defineCommand, option, repeatable, withDefault } from '../framework/command.ts';
import type { Output } from '../framework/output.ts';
import * as v from '../framework/values.ts';
import type { StreamTrafficOptions } from '../generate/stream-events.ts';
import type { TrafficOptions } from '../generate/traffic.ts';
import { ComponentSet, type Starter } from '../wiring/lifecycle.ts';
import type { Platform } from '../wiring/platform.ts';
import { resolveStreams, streamListValue } from './catalog-args.ts';
import { lateByFor, runGeneration, runStreamGeneration } from './generate.ts';

/** Runs starters until a signal or a component's fatal error; the exit code says which. */
async function runComponents(
  context: CommandContext,
  build: (platform: Platform, components: ComponentSet, announce: (url: string) => void) => Starter[],
  extra?: (platform: Platform, signal: AbortSignal) => Promise<void>,
): Promise<number> {
  const config = context.config();
  const catalog = await context.catalog();
  const [{ Platform }, { createLogger }] = await Promise.all([
    import('../wiring/platform.ts'),
    import('../wiring/logger.ts'),
  ]);
  const platform = new Platform(config, createLogger(config), catalog);
  const components = new ComponentSet(context.out);
  let fatal: unknown;
  try {
    const starters = build(platform, components, (url) => announceUrls(context, url));
    await components.startAll(starters, context.signal);
    if (!context.signal.aborted) context.out.info('running; press Ctrl-C to stop');
    const background = extra?.(platform, context.signal).catch((error: unknown) => components.fail(error));
    fatal = await components.wait(context.signal);
    await background;
  } catch (error) {
    fatal = error;
  } finally {
    const errors: unknown[] = [];
    await components.stopAll().catch((error: unknown) => errors.push(error));
    await platform.close().catch((error: unknown) => errors.push(error));
    if (errors.length > 0 && fatal === undefined)
      fatal = new AggregateError(errors, 'shutdown was not clean');
    else if (errors.length > 0) context.out.error(`also while stopping: ${errors.map(String).join('; ')}`);
  }
  if (fatal !== undefined) throw fatal;
  context.out.info('stopped cleanly');
  return 0;
}

function announceUrls(context: CommandContext, url: string): void {
  const out = context.out;
  out.info('');
  out.info(`  ${out.style('API', 'bold', 'err')}        ${url}/v1/views`);
  out.info(`  ${out.style('docs', 'bold', 'err')}       ${url}/docs`);
  out.info(
    `  ${out.style('status', 'bold', 'err')}     ${url}/v1/status   (or: packages/cli/bin/tandem status)`,
  );
  out.info(`  ${out.style('dashboard', 'bold', 'err')}  ${url}/`);
  out.info('');
}

function streamsOption() {
  return repeatable(streamListValue(), {
    description: 'serve only these streams (repeat the flag, or a comma list)',
    placeholder: 'stream',
    defaultText: 'every stream of the config',
  });
}

/** The streams --stream names, checked against the config (every stream when none is named). */
async function selectedStreams(context: CommandContext, names: string[] | undefined): Promise<string[]> {
  return resolveStreams(await context.catalog(), names).map((stream) => stream.name);
}

function metricsPortOption() {
  return option(v.integer(0, 65535), {
    description: 'serve Prometheus metrics at /metrics, and /healthz and /readyz, on this port (on HOST)',
    placeholder: 'port',
    defaultText: 'no metrics endpoint',
  });
}

/**
 * A /metrics endpoint whose registry the components started after it register on, answering
 * /healthz and /readyz from the platform's checks too (components register theirs as they start).
 */
function metricsStarter(
  context: CommandContext,
  platform: Platform,
  port: number | undefined,
  prefix: string,
): Starter[] {
  if (port === undefined) return [];
  return [
    {
      name: 'metrics endpoint',
      start: async () => {
        const { startMetricsServer } = await import('../wiring/metrics-server.ts');
        const server = await startMetricsServer(platform.config.serving.host, port, prefix, {
          healthChecks: platform.healthChecks,
          readinessProbes: platform.readinessProbes,
          logger: platform.logger,
        });
        platform.metricsRegistry = server.registry;
        context.out.info(`  metrics    ${server.url}`);
        return { name: 'metrics endpoint', stop: () => server.close() };
      },
    },
  ];
}

export const serveCommand = defineCommand({
  path: ['serve'],
  summary: 'run the serving layer (HTTP API, docs, metrics, dashboard)',
  description:
    'Serves /v1 (streams, series, top, trending, status, ops), /docs, /metrics, /healthz, /readyz and the ' +
    'dashboard at /, for every view of every stream of the config, merging sealed batch hours with the speed ' +
    'layer’s real-time views. Listens on HOST:PORT ' +
    '(127.0.0.1:8080 by default). API keys come from TANDEM_API_KEYS.',
  options: {},
  reports: false,
  examples: [
    'tandem serve',
    'PORT=9090 HOST=0.0.0.0 TANDEM_API_KEYS="ops:read+admin:$(openssl rand -hex 16)" tandem serve',
  ],
  async run(context) {
    return runComponents(context, (platform, _components, announce) => [platform.serveStarter(announce)]);
  },
});

export const speedCommand = defineCommand({
  path: ['speed'],
  summary: 'run speed-layer workers (Kafka → real-time views in Redis), one per stream',
  description:
    'Runs one speed worker per stream of the config (or of --stream): each joins its stream’s consumer group ' +
    '(SPEED_GROUP_ID for the web stream, SPEED_GROUP_ID.<stream> for the others) on the stream’s topic and ' +
    'keeps its real-time views in Redis, exactly once; they share the process’s Kafka and Redis clients. Run ' +
    'several processes for more throughput: Kafka spreads the partitions. Each follows its stream’s active ' +
    'namespace pointer, so a `tandem replay --stream S` switches it over to the rebuilt views. Also runs the ' +
    'janitor that drops real-time data of hours the batch layer has sealed (after SPEED_SEALED_GRACE_MS).',
  options: { stream: streamsOption(), 'metrics-port': metricsPortOption() },
  reports: false,
  examples: [
    'tandem speed',
    'tandem speed --metrics-port 9464',
    'SPEED_ALLOWED_LATENESS_MS=60000 tandem speed',
    'TANDEM_CONFIG=examples/iot/tandem.config.ts tandem speed --stream iot',
  ],
  async run(context, options) {
    const streams = await selectedStreams(context, options.stream);
    return runComponents(context, (platform) => [
      ...metricsStarter(context, platform, options['metrics-port'], 'tandem_speed_'),
      ...platform.speedStarters(streams),
      platform.janitorStarter(),
    ]);
  },
});

export const archiverCommand = defineCommand({
  path: ['archiver'],
  summary: 'run the archiver (Kafka → hourly log partitions in the lake), one per stream',
  description:
    'Runs one archiver per stream of the config (or of --stream), each in its own consumer group: it writes ' +
    'every valid event of the stream into <lake prefix>/dt=…/hour=…/ of its event hour under LAKE_URL (logs/ for ' +
    'the web stream), committing offsets only after the upload is durable, and keeps the per-partition ' +
    'watermark objects the batch scheduler reads.',
  options: { stream: streamsOption(), 'metrics-port': metricsPortOption() },
  reports: false,
  examples: [
    'tandem archiver',
    'tandem archiver --metrics-port 9465',
    'LAKE_URL=s3://tandem/lake S3_ENDPOINT=http://127.0.0.1:9000 tandem archiver',
    'TANDEM_CONFIG=examples/iot/tandem.config.ts tandem archiver --stream events,iot',
  ],
  async run(context, options) {
    const streams = await selectedStreams(context, options.stream);
    return runComponents(context, (platform, components) => [
      ...metricsStarter(context, platform, options['metrics-port'], 'tandem_archiver_'),
      ...platform.archiverStarters((e) => components.fail(e), streams),
    ]);
  },
});

export const batchScheduleCommand = defineCommand({
  path: ['batch', 'schedule'],
  summary: 'run the batch scheduler (hourly runs, nightly recompute, catch-up)',
  description:
    'Maintains every view of every stream of the config. On start, catches up missing and stale hours (oldest ' +
    'first); then computes each hour once it is complete ' +
    '(BATCH_HOURLY_CRON) and recomputes the previous day nightly (BATCH_NIGHTLY_CRON). A Redis lease per ' +
    '(view, hour) lets several schedulers share the work without writing the same hour twice.',
  options: { 'metrics-port': metricsPortOption() },
  reports: false,
  examples: [
    'tandem batch schedule',
    'tandem batch schedule --metrics-port 9466',
    'BATCH_HOURLY_CRON="*/5 * * * *" tandem batch schedule',
  ],
  async run(context, options) {
    return runComponents(context, (platform) => [
      ...metricsStarter(context, platform, options['metrics-port'], 'tandem_batch_'),
      platform.schedulerStarter(),
    ]);
  },
});

export const upCommand = defineCommand({
  path: ['up'],
  summary: 'run every component in one process (single machine, demos)',
  description:
    'Starts the speed layer (one worker per stream, and the janitor), the archivers (one per stream), the batch ' +
    'scheduler and the serving layer in one process, for every stream and view of the config, and prints where ' +
    'to look. With --traffic it also generates live traffic to Kafka (see `tandem generate`), including late, ' +
    'duplicate and bad events, until stopped: the web shop for the web stream, schema-driven events for every ' +
    'other stream, each at the rate.',
  options: {
    traffic: option(v.positiveNumber('events/s'), {
      description: 'also generate this many events per second of live traffic (per stream)',
      placeholder: 'rate',
      defaultText: 'no traffic',
    }),
    late: withDefault(v.ratio(), 0.01, {
      description: 'late events per event in the traffic',
      placeholder: 'ratio',
    }),
    duplicates: withDefault(v.ratio(), 0.01, {
      description: 'duplicates per event in the traffic',
      placeholder: 'ratio',
    }),
    bad: withDefault(v.ratio(), 0.005, {
      description: 'bad messages per event in the traffic',
      placeholder: 'ratio',
    }),
    'traffic-start': option(v.time(), {
      description: 'event time the traffic starts at; a past time is sent at once, then live',
      placeholder: 'time',
      defaultText: 'now',
    }),
    seed: option(v.integer(0, 2 ** 31 - 1), {
      description: 'seed of the traffic',
      placeholder: 'n',
      defaultText: 'random',
    }),
  },
  reports: false,
  examples: [
    'tandem up',
    'tandem up --traffic 50 --late 2% --bad 1%',
    'tandem up --traffic 100 --traffic-start -3m   # a 3-minute backlog first, so late events show at once',
  ],
  async run(context, options) {
    const rate = options.traffic;
    return runComponents(
      context,
      // Serving first: its /metrics registry then also carries the speed and archiver metrics.
      (platform, components, announce) => [
        platform.serveStarter(announce),
        ...platform.speedStarters(),
        platform.janitorStarter(),
        ...platform.archiverStarters((e) => components.fail(e)),
        platform.schedulerStarter(),
      ],
      rate === undefined
        ? undefined
        : async (platform, signal) => {
            const start = options['traffic-start'] ?? context.now();
            const seed = options.seed ?? randomInt(0, 2 ** 31 - 1);
            const web = platform.catalog.streams.find((stream) => isWebStream(stream));
            const others = platform.catalog.streams.filter((stream) => stream !== web);
            await Promise.all([
              ...(web === undefined
                ? []
                : [webTraffic(context.out, platform, web, { rate, start, seed, signal, options })]),
              ...others.map((stream, i) =>
                streamTraffic(context.out, platform, stream, {
                  rate,
                  start,
                  seed: (seed + i + 1) % 2 ** 31,
                  signal,
                  options,
                }),
              ),
            ]);
          },
    );
  },
});

/** Whether a stream is the web stream (its schema, on any topics): the shop simulation generates it. */
function isWebStream(stream: Stream): boolean {
  return stream.fingerprint === webStream.fingerprint;
}

interface LiveTraffic {
  rate: number;
  start: number;
  seed: number;
  signal: AbortSignal;
  options: { late: number; duplicates: number; bad: number };
}

/** The web shop's live traffic to the web stream's topic, until stopped. */
async function webTraffic(out: Output, platform: Platform, stream: Stream, live: LiveTraffic): Promise<void> {
  const traffic: TrafficOptions = {
    seed: live.seed,
    start: live.start,
    // "Until stopped": a year of event time is as good as forever.
    durationMs: 365 * 86_400_000,
    rate: live.rate,
    endpoints: 40,
    users: 2_000,
    lateRatio: live.options.late,
    duplicateRatio: live.options.duplicates,
    badRatio: live.options.bad,
    lateByMs: lateByFor(platform.config, 5_000),
    maxJitterMs: 5_000,
    diurnalAmplitude: 0.3,
    endpointSkew: 1.1,
    userSkew: 0.8,
    anonymousRatio: 0.05,
    idPrefix: null,
  };
  out.info(`traffic: ~${live.rate}/s to ${stream.topic} (stream ${stream.name}, seed ${traffic.seed})`);
  await runGeneration(
    platform.config,
    traffic,
    {
      to: 'kafka',
      topic: stream.topic,
      burst: false,
      dlqTopic: stream.dlqTopic,
      lateTopic: stream.lateTopic,
    },
    { signal: live.signal, out, progress: false },
  );
}

/**
 * Schema-driven live traffic to another stream's topic, until stopped. A schema the generator can not
 * satisfy (say, an id field with too few values) costs that stream its traffic, not the process.
 */
async function streamTraffic(
  out: Output,
  platform: Platform,
  stream: Stream,
  live: LiveTraffic,
): Promise<void> {
  const traffic: StreamTrafficOptions = {
    seed: live.seed,
    start: live.start,
    // "Until stopped": a year of events at the rate (generated lazily, as they are sent).
    count: Math.ceil(live.rate * 365 * 86_400),
    rate: live.rate,
    duplicateRatio: live.options.duplicates,
    lateRatio: live.options.late,
    lateByMs: lateByFor(platform.config, 5_000),
    badRatio: live.options.bad,
    onlyBad: false,
    badKinds: null,
    maxJitterMs: 5_000,
    keys: 64,
    maxEventBytes: platform.config.events.maxBytes,
    idPrefix: null,
    // Dimensions of a few dozen values each, so views and the dashboard show readable groups.
    valuePool: 24,
  };
  out.info(`traffic: ~${live.rate}/s to ${stream.topic} (stream ${stream.name}, seed ${traffic.seed})`);
  try {
    await runStreamGeneration(
      platform.config,
      stream,
      traffic,
      {
        to: 'kafka',
        topic: stream.topic,
        burst: false,
        dlqTopic: stream.dlqTopic,
        lateTopic: stream.lateTopic,
      },
      { signal: live.signal, out, progress: false },
    );
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    out.warn(`no traffic for stream ${stream.name}: ${error.message}`);
  }
}

// Kafka clients from config: one TLS/SASL mapping, one retry policy and one log level for every
// component, with kafkajs's own logs routed to pino.
import { type KafkaConfig, serviceUnavailable, TandemError } from '@tandem/core';
import {
  type Admin,
  type ITopicConfig,
  Kafka,
  type logCreator,
  logLevel,
  type RetryOptions,
  type SASLOptions,
} from 'kafkajs';
import { type Logger, pino } from 'pino';

/** What a Kafka client is built from: a `KafkaConfig` from `loadConfig` fits, as do `{ brokers }`. */
export type KafkaConnection = Pick<KafkaConfig, 'brokers'> &
  Partial<Pick<KafkaConfig, 'clientId' | 'ssl' | 'sasl'>>;

export interface KafkaClientOptions {
  /** The client id brokers see in their logs and quotas. @defaultValue the config's `clientId`, else `tandem` */
  clientId?: string;
  /** Where kafkajs's warnings and errors go. @defaultValue a pino logger on stderr at `warn` */
  logger?: Logger;
}

/**
 * The retry policy of every request a client makes (connect, metadata, produce, fetch, commit):
 * kafkajs's own defaults, written out so every component has the same and a reader sees them.
 * 300 ms doubling (±20 % jitter, at most 30 s) over kafkajs's default of 5 retries, about 10 s
 * before a request fails: long enough to ride out a leader election or a broker restart, short
 * enough that a command run against a stopped stack fails within seconds. `retries` is left unset
 * on purpose: kafkajs warns that an explicit count on the client "may invalidate EoS guarantees"
 * of every idempotent producer, though the count (5) is the same. Consumers may raise `retries`
 * for their restart loop.
 */
export const kafkaRetry: RetryOptions = Object.freeze({
  initialRetryTime: 300,
  maxRetryTime: 30_000,
  factor: 0.2,
  multiplier: 2,
});

/**
 * TCP connect, TLS and SASL handshake budget per broker connection. kafkajs's default of 1 s is too
 * short for TLS + SASL to a remote cluster; 5 s still reports a dead broker quickly.
 */
const connectionTimeoutMs = 5_000;

// kafkajs logs this once per process when a producer is created without `createPartitioner`.
// Tandem has always used the v2 default partitioner, so the warning asks nothing of an operator.
const partitionerNotice = 'KafkaJS v2.0.0 switched default partitioner';

/** Routes kafkajs log entries to `logger` (child `component: kafkajs`) at the matching pino level. */
export function kafkaLogCreator(logger: Logger): logCreator {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }) => {
      const { message, ...extra } = log;
      if (message.startsWith(partitionerNotice)) return;
      if (level <= logLevel.ERROR) kafkaLogger.error(extra, message);
      else if (level === logLevel.WARN) kafkaLogger.warn(extra, message);
      else if (level === logLevel.INFO) kafkaLogger.info(extra, message);
      else kafkaLogger.debug(extra, message);
    };
}

/**
 * A kafkajs client for the configured brokers, TLS (`KAFKA_SSL`) and SASL as configured, with the
 * shared retry policy and kafkajs logging warnings and errors only (one level for every component;
 * its info level logs every group join and fetch session). Whoever builds the client disconnects
 * the producers, consumers and admins it makes.
 */
export function createKafkaClient(config: KafkaConnection, options: KafkaClientOptions = {}): Kafka {
  const logger = options.logger ?? pino({ name: 'tandem', level: 'warn' }, pino.destination(2));
  return new Kafka({
    clientId: options.clientId ?? config.clientId ?? 'tandem',
    brokers: config.brokers,
    ssl: config.ssl ?? false,
    // the config's union of mechanisms is exactly kafkajs's union of option shapes
    ...(config.sasl ? { sasl: config.sasl as SASLOptions } : {}),
    connectionTimeout: connectionTimeoutMs,
    retry: { ...kafkaRetry },
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
  });
}

/** The coded error for brokers that cannot be reached: names Kafka and how to start it. */
export function kafkaUnavailable(config: Pick<KafkaConfig, 'brokers'>, cause: unknown): TandemError {
  return serviceUnavailable('Kafka', config.brokers.join(','), cause);
}

/**
 * Whether a kafkajs error (or one it wraps, as "number of retries exceeded" wraps the last attempt's)
 * says that trying again may succeed: a refused connection, a coordinator or leader that moved.
 */
export function isRetriableKafkaError(error: unknown): boolean {
  for (let current = error; current instanceof Error; current = (current as { cause?: unknown }).cause) {
    if ((current as { retriable?: boolean }).retriable === true) return true;
  }
  return false;
}

/**
 * Runs `attempt` until it succeeds, a non-retriable error, or `timeoutMs`. kafkajs routes some calls
 * to one broker of the metadata (the idempotent producer's id request, a topic's controller), and a
 * broker that just died stays in the metadata until the cluster fences it, several seconds later:
 * its own retries are spent by then. One broker of three down must not fail a start.
 */
export async function retryWhileRetriable<T>(
  what: string,
  attempt: () => Promise<T>,
  options: { timeoutMs?: number; logger?: Logger } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (let delayMs = 250; ; delayMs = Math.min(delayMs * 2, 5_000)) {
    try {
      return await attempt();
    } catch (error) {
      if (!isRetriableKafkaError(error) || Date.now() + delayMs > deadline) throw error;
      options.logger?.warn(
        { err: error, retryInMs: delayMs },
        `${what} failed; Kafka may be electing leaders, retrying`,
      );
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/**
 * Creates those of `topics` that are missing and waits until every partition of each has a leader.
 * kafkajs's own `waitForLeaders` retries only "leader not available"; a KRaft broker that has not
 * applied a new topic to its metadata yet answers "does not host this topic-partition", which
 * kafkajs throws, failing a start that only had to wait a moment. So the wait is done here, taking
 * that answer as "not yet", for up to `timeoutMs`. Two processes creating the same topic at once
 * are fine: the loser's create reports the topic as existing. Returns whether it created any.
 * A retriable error (a broker that just died is still in the metadata for a few seconds, so a call
 * routed to it is refused) is "not yet" too: one broker of several down must not fail a start.
 */
export async function createTopicsAndWait(
  admin: Admin,
  topics: ITopicConfig[],
  timeoutMs = 30_000,
): Promise<boolean> {
  const names = topics.map((topic) => topic.topic);
  const deadline = Date.now() + timeoutMs;
  let created: boolean | null = null;
  for (;;) {
    try {
      created ??= await admin.createTopics({ waitForLeaders: false, topics });
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics: names });
      const led = metadata.every(
        (topic) =>
          topic.partitions.length > 0 && topic.partitions.every((partition) => partition.leader >= 0),
      );
      if (led && metadata.length === names.length) return created;
    } catch (error) {
      const { type } = error as { type?: string };
      if (
        type !== 'UNKNOWN_TOPIC_OR_PARTITION' &&
        type !== 'LEADER_NOT_AVAILABLE' &&
        !isRetriableKafkaError(error)
      )
        throw error;
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) {
      throw new TandemError(
        'TANDEM_ERR_TIMEOUT',
        `Kafka topics ${names.join(', ')} have no leader for every partition after ${timeoutMs} ms`,
        { retryable: true, details: { topics: names, timeoutMs } },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// The archiver's Kafka client: the one given, or one built by the shared factory from connection
// options; and what a Kafka error means to an operator.
import { createKafkaClient } from '@tandem/connections';
import { type Stream, serviceUnavailable, TandemError, webStream } from '@tandem/core';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { ArchiverOptions } from './options.ts';

/** The Kafka client and how to name its brokers in messages. */
export interface ArchiverKafka {
  kafka: Kafka;
  brokers: string;
}

function isKafkaClient(value: ArchiverOptions['kafka']): value is Kafka {
  return typeof (value as Kafka).consumer === 'function' && typeof (value as Kafka).admin === 'function';
}

/** The given client, or one from the shared factory (@tandem/connections) for `{ brokers, clientId, ssl, sasl }`. */
export function archiverKafka(kafka: ArchiverOptions['kafka'], logger: Logger): ArchiverKafka {
  if (isKafkaClient(kafka)) return { kafka, brokers: 'the configured Kafka brokers' };
  return {
    brokers: kafka.brokers.join(','),
    kafka: createKafkaClient(kafka, { clientId: kafka.clientId ?? 'tandem-archiver', logger }),
  };
}

/** A coded error for a Kafka failure: a missing topic is a config error, anything else unavailability. */
export function kafkaFailure(error: unknown, topic: string, stream: Stream, brokers: string): TandemError {
  if (error instanceof TandemError) return error;
  const failure = error as (Error & { type?: string }) | null;
  if (failure?.type === 'UNKNOWN_TOPIC_OR_PARTITION') {
    return new TandemError(
      'TANDEM_ERR_CONFIG_INVALID',
      `Kafka topic "${topic}" of stream "${stream.name}" does not exist at ` +
        `${brokers}; create it, or set ${stream.name === webStream.name ? 'TANDEM_TOPIC' : "the stream's topic in the config"}`,
      { cause: error, details: { topic } },
    );
  }
  // Connection loss, exhausted retries, broker or coordinator failures: all say Kafka is not
  // usable right now, and a restart of the archiver is the remedy.
  return serviceUnavailable('Kafka', brokers, error);
}

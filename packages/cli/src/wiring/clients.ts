// Kafka and Redis clients for the cli's own work (generate, dlq, replay, status), from the shared
// factory in @tandem/connections: the same TLS, retry and logging policy as every component (see its
// README). Whoever builds a client closes it.
import { createKafkaClient } from '@tandem/connections';
import type { KafkaConfig } from '@tandem/core';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';

export { connectRedis, kafkaUnavailable, redisReconnectDelay } from '@tandem/connections';

/**
 * A kafkajs client whose id is the configured one with the cli's `clientSuffix`, so brokers tell the
 * cli's connections from the components'; kafkajs warnings go to `logger` (stderr without one).
 */
export function createKafka(config: KafkaConfig, clientSuffix = 'cli', logger?: Logger): Kafka {
  return createKafkaClient(config, {
    clientId: `${config.clientId}-${clientSuffix}`,
    ...(logger === undefined ? {} : { logger }),
  });
}

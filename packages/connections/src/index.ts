// The one place Kafka and Redis clients are built from config, with one connection, TLS, retry and
// logging policy for every component (see README.md). Core stays free of I/O; this package holds it.
export {
  createKafkaClient,
  type KafkaClientOptions,
  type KafkaConnection,
  createTopicsAndWait,
  kafkaLogCreator,
  kafkaRetry,
  kafkaUnavailable,
} from './kafka.ts';
export {
  connectRedis,
  createRedisClient,
  describeRedis,
  openRedis,
  type RedisClient,
  redisConfigTarget,
  redisFirstConnectAttempts,
  redisMasters,
  redisReconnectDelay,
  redisTarget,
} from './redis.ts';

// The one place Kafka, Redis and schema registry clients are built from config, with one connection, TLS, retry and
// logging policy for every component (see README.md). Core stays free of I/O; this package holds it.
export {
  createKafkaClient,
  type KafkaClientOptions,
  type KafkaConnection,
  createTopicsAndWait,
  isRetriableKafkaError,
  kafkaLogCreator,
  kafkaRetry,
  kafkaUnavailable,
  retryWhileRetriable,
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
export {
  createSchemaRegistryClient,
  fetchRegistryVersions,
  type RegistryCompatibility,
  type SchemaRegistryClient,
  type SchemaRegistryClientOptions,
} from './schema-registry.ts';
export {
  CONFLUENT_HEADER_BYTES,
  compileFramedStreamEncoder,
  compileFramedStreamParser,
  confluentFrame,
  confluentSchemaId,
  type FramedDecode,
  type FramedStreamEncoder,
  type FramedStreamParser,
  type WriterLookup,
} from './framed-stream.ts';

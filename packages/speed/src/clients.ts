// Kafka and Redis clients come from @tandem/connections, the one factory with the one connection, TLS,
// retry and logging policy for every component (see its README). Re-exported here because
// @tandem/speed's index has always offered them.
export { connectRedis, createKafkaClient, createRedisClient, openRedis } from '@tandem/connections';

// The shared client policy against the local stack's real Kafka and Redis: TLS and auth options,
// the coded first-connect failure, kafkajs logs routed to pino.
import { loadConfig } from '@tandem/core';
import { Cluster, Redis } from 'ioredis';
import { logLevel } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { logLines } from '@tandem/test-support/log-lines.ts';
import {
  connectRedis,
  createKafkaClient,
  createRedisClient,
  kafkaLogCreator,
  kafkaRetry,
  redisConfigTarget,
  redisReconnectDelay,
  redisTarget,
} from '../src/index.ts';

function capture(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const { stream, lines } = logLines();
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe('createRedisClient', () => {
  it('turns TLS on for rediss: and for REDIS_TLS, with the configured credentials', () => {
    const viaUrl = createRedisClient(loadConfig({ REDIS_URL: 'rediss://alice:secret@127.0.0.1:6380' }).redis);
    const viaFlag = createRedisClient(
      loadConfig({ REDIS_URL: 'redis://127.0.0.1:6380', REDIS_TLS: '1' }).redis,
    );
    const plain = createRedisClient(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6380' }).redis);
    if (!(viaUrl instanceof Redis && viaFlag instanceof Redis && plain instanceof Redis)) {
      throw new Error('without REDIS_CLUSTER_NODES the client is a single-node Redis');
    }
    expect(viaUrl.options).toMatchObject({ username: 'alice', password: 'secret' });
    expect(viaUrl.options.tls).toBeDefined();
    expect(viaFlag.options.tls).toBeDefined();
    expect(plain.options.tls).toBeUndefined();
    for (const client of [viaUrl, viaFlag, plain]) {
      expect(client.status).toBe('wait');
      expect(client.options).toMatchObject({
        enableOfflineQueue: false,
        maxRetriesPerRequest: 2,
        enableAutoPipelining: false,
      });
      client.disconnect();
    }
  });

  it('backs off by 200 ms per attempt, capped at 5 s', () => {
    expect([1, 2, 10, 25, 26, 1000].map(redisReconnectDelay)).toEqual([200, 400, 2000, 5000, 5000, 5000]);
  });

  it('hides credentials when naming the target', () => {
    expect(redisTarget('rediss://alice:secret@redis.example:6380/2')).toBe(
      'rediss://***@redis.example:6380/2',
    );
    expect(redisTarget('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});

describe('connectRedis', () => {
  it('connects to the local stack and answers', async () => {
    const redis = await connectRedis(loadConfig(process.env).redis);
    try {
      expect(await redis.ping()).toBe('PONG');
    } finally {
      await redis.quit();
    }
  });

  it('fails within seconds with a coded error naming Redis, its target and how to start it', async () => {
    const started = Date.now();
    // port 1 is reserved (tcpmux) and nothing listens there
    const failure = connectRedis(loadConfig({ REDIS_URL: 'redis://bob:pw@127.0.0.1:1' }).redis);
    await expect(failure).rejects.toMatchObject({
      code: 'TANDEM_ERR_SERVICE_UNAVAILABLE',
      message:
        'Redis is not reachable at redis://***@127.0.0.1:1; start the local stack with `scripts/stack up` ' +
        'or point the matching environment variable at a running Redis',
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('a Redis Cluster from REDIS_CLUSTER_NODES', () => {
  it('builds a Cluster client with the same policy, credentials and TLS for every node', () => {
    const config = loadConfig({
      REDIS_CLUSTER_NODES: '127.0.0.1:7001,[::1]:7002',
      REDIS_USERNAME: 'alice',
      REDIS_PASSWORD: 'secret',
      REDIS_TLS: 'true',
    }).redis;
    const cluster = createRedisClient(config);
    try {
      if (!(cluster instanceof Cluster)) throw new Error('REDIS_CLUSTER_NODES must give a Cluster client');
      expect(cluster.status).toBe('wait');
      expect(cluster.options).toMatchObject({
        enableOfflineQueue: false,
        scaleReads: 'master',
        enableAutoPipelining: false,
        redisOptions: { username: 'alice', password: 'secret', maxRetriesPerRequest: 2, tls: {} },
      });
      expect(redisConfigTarget(config)).toBe('cluster 127.0.0.1:7001,[::1]:7002');
    } finally {
      cluster.disconnect();
    }
  });

  it('fails within seconds with a coded error naming the cluster nodes', async () => {
    const started = Date.now();
    const failure = connectRedis(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:1,127.0.0.1:2' }).redis);
    await expect(failure).rejects.toMatchObject({
      code: 'TANDEM_ERR_SERVICE_UNAVAILABLE',
      message:
        'Redis is not reachable at cluster 127.0.0.1:1,127.0.0.1:2; start the local stack with `scripts/stack up` ' +
        'or point the matching environment variable at a running Redis',
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('createKafkaClient', () => {
  it('reaches the local stack with the shared policy', async () => {
    const config = loadConfig(process.env);
    const { logger, lines } = capture();
    const kafka = createKafkaClient(config.kafka, { clientId: 'tandem-clients-test', logger });
    const admin = kafka.admin();
    // the producers Tandem builds (generate, dlq replay, the speed worker's side topics)
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await admin.connect();
    await producer.connect();
    try {
      expect(Array.isArray(await admin.listTopics())).toBe(true);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
    // info-level chatter (connects, disconnects) stays out at the one shared level, and neither the
    // partitioner notice nor the idempotent producer's "limiting retries" warning is raised
    expect(lines()).toEqual([]);
    expect(kafkaRetry).toEqual({
      initialRetryTime: 300,
      maxRetryTime: 30_000,
      factor: 0.2,
      multiplier: 2,
    });
  });

  it('routes kafkajs entries to pino at the matching level, without the partitioner notice', () => {
    const { logger, lines } = capture();
    const log = kafkaLogCreator(logger)(logLevel.DEBUG);
    const entry = (level: logLevel, message: string) =>
      log({ namespace: 'Connection', level, label: 'X', log: { message, timestamp: 't', broker: 'b:9092' } });
    entry(logLevel.ERROR, 'refused');
    entry(logLevel.WARN, 'slow');
    entry(logLevel.WARN, 'KafkaJS v2.0.0 switched default partitioner. To retain ...');
    entry(logLevel.INFO, 'joined');
    entry(logLevel.DEBUG, 'fetch');
    expect(lines().map(({ level, msg, component, broker }) => ({ level, msg, component, broker }))).toEqual([
      { level: 50, msg: 'refused', component: 'kafkajs', broker: 'b:9092' },
      { level: 40, msg: 'slow', component: 'kafkajs', broker: 'b:9092' },
      { level: 30, msg: 'joined', component: 'kafkajs', broker: 'b:9092' },
      { level: 20, msg: 'fetch', component: 'kafkajs', broker: 'b:9092' },
    ]);
  });
});

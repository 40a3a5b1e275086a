import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig, MIN_API_KEY_LENGTH, parseLakeUrl } from '../src/config.ts';
import { TandemError } from '../src/errors.ts';

function configError(env: Record<string, string>): TandemError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof TandemError) return error;
    throw error;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('defaults to the local stack and a file lake under the given directory', () => {
    const config = loadConfig({}, { lakeDir: '/tmp/lake' });
    expect(config.kafka.brokers).toEqual(['localhost:9092']);
    expect(config.kafka.dlqTopic).toBe('events.dlq');
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.lake.url).toBe('file:///tmp/lake');
    expect(config.speed.outOfOrdernessMs).toBe(30_000);
    expect(config.batch.maxBadRowRatio).toBe(0.01);
    expect(config.batch.trustArchiveManifests).toBe(true);
    expect(loadConfig({ BATCH_TRUST_ARCHIVE_MANIFESTS: 'false' }).batch.trustArchiveManifests).toBe(false);
    expect(configError({ BATCH_TRUST_ARCHIVE_MANIFESTS: 'maybe' }).message).toContain(
      'BATCH_TRUST_ARCHIVE_MANIFESTS="maybe"',
    );
  });

  it('names the variable and the accepted forms', () => {
    const lake = configError({ LAKE_URL: 'ftp://x' });
    expect(lake.code).toBe('TANDEM_ERR_LAKE_URL');
    expect(lake.message).toBe('LAKE_URL "ftp://x" is not supported; use s3://bucket/prefix or file:///dir');
    const port = configError({ PORT: '80a' });
    expect(port.code).toBe('TANDEM_ERR_CONFIG_INVALID');
    expect(port.message).toContain('PORT="80a"');
    expect(configError({ KAFKA_BROKERS: 'nohost' }).message).toContain('host:port');
    expect(configError({ REDIS_URL: 'http://x' }).message).toContain('REDIS_URL');
    expect(configError({ KAFKA_SASL_MECHANISM: 'scram-sha-256' }).message).toContain('KAFKA_SASL_USERNAME');
  });

  it('hashes API keys and never keeps them in the clear', () => {
    const ops = 's3cret-0123456789abcdef0123456789';
    const viewer = 'v'.repeat(MIN_API_KEY_LENGTH);
    const config = loadConfig({ TANDEM_API_KEYS: `ops:read+admin:${ops},viewer:read:${viewer}` });
    expect(config.serving.apiKeys).toEqual([
      { name: 'ops', scopes: ['read', 'admin'], sha256: createHash('sha256').update(ops).digest('hex') },
      { name: 'viewer', scopes: ['read'], sha256: createHash('sha256').update(viewer).digest('hex') },
    ]);
    expect(JSON.stringify(config)).not.toContain('s3cret');
    expect(configError({ TANDEM_API_KEYS: 'ops:write:x' }).message).not.toContain(':x');
  });

  it('refuses a key shorter than the minimum, naming the entry and never the key', () => {
    const good = 'k'.repeat(MIN_API_KEY_LENGTH);
    const short = 'tooShort-0123456789abcdef012345'; // 31 characters
    const error = configError({ TANDEM_API_KEYS: `ops:admin:${good},viewer:read:${short}` });
    expect(error.code).toBe('TANDEM_ERR_CONFIG_INVALID');
    expect(error.message).toBe(
      'TANDEM_API_KEYS entry 2 ("viewer") has a key of 31 characters; keys need at least 32 ' +
        '(make one with `openssl rand -hex 16`), or give its digest as sha256=<hex>',
    );
    expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain(short);
    // A digest cannot be checked for length and is taken as given.
    const digest = createHash('sha256').update('short').digest('hex');
    expect(loadConfig({ TANDEM_API_KEYS: `ops:read:sha256=${digest}` }).serving.apiKeys[0]?.sha256).toBe(
      digest,
    );
  });

  it('reads REDIS_CLUSTER_NODES as the nodes of a Redis Cluster, and names a bad entry and why', () => {
    expect(loadConfig({}).redis.clusterNodes).toBeNull();
    expect(loadConfig({ REDIS_CLUSTER_NODES: ' ' }).redis.clusterNodes).toBeNull();
    const config = loadConfig({
      REDIS_CLUSTER_NODES: '10.0.0.1:7001, redis-2.internal:7002,[::1]:7003',
      REDIS_PASSWORD: 'pw',
      REDIS_TLS: 'true',
    });
    expect(config.redis.clusterNodes).toEqual([
      { host: '10.0.0.1', port: 7001 },
      { host: 'redis-2.internal', port: 7002 },
      { host: '::1', port: 7003 },
    ]);
    expect(config.redis.password).toBe('pw');
    expect(config.redis.tls).toBe(true);
    const noPort = configError({ REDIS_CLUSTER_NODES: '10.0.0.1:7001,10.0.0.2' });
    expect(noPort.code).toBe('TANDEM_ERR_CONFIG_INVALID');
    expect(noPort.message).toMatch(
      /^REDIS_CLUSTER_NODES entry 2 \("10\.0\.0\.2"\) is not host:port; expected /,
    );
    expect(noPort.details).toMatchObject({ variable: 'REDIS_CLUSTER_NODES', entry: 2, value: '10.0.0.2' });
    expect(configError({ REDIS_CLUSTER_NODES: 'a:7001,,b:7002' }).message).toContain('entry 2 ("") is empty');
    expect(configError({ REDIS_CLUSTER_NODES: 'a:70000' }).message).toContain('has a port outside 1-65535');
    expect(configError({ REDIS_CLUSTER_NODES: 'redis://a:7001' }).message).toContain('is not host:port');
  });

  it('parses production options', () => {
    const config = loadConfig({
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
      KAFKA_SSL: 'true',
      REDIS_URL: 'rediss://user:pw@redis.internal:6380',
      LAKE_URL: 's3://bucket/some/prefix',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
    });
    expect(config.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
    expect(config.kafka.ssl).toBe(true);
    expect(config.redis.tls).toBe(true);
    expect(parseLakeUrl(config.lake.url)).toEqual({ kind: 's3', bucket: 'bucket', prefix: 'some/prefix' });
  });
});

describe('loadConfig: the schema registry', () => {
  it('is off by default, and reads SCHEMA_REGISTRY_URL as the base of the Confluent API', () => {
    expect(loadConfig({}).schemaRegistry).toEqual({ url: null, auth: null });
    expect(loadConfig({ SCHEMA_REGISTRY_URL: '' }).schemaRegistry).toEqual({ url: null, auth: null });
    expect(
      loadConfig({ SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7/' }).schemaRegistry,
    ).toEqual({ url: 'http://127.0.0.1:8081/apis/ccompat/v7', auth: null });
    expect(loadConfig({ SCHEMA_REGISTRY_URL: 'https://SR.example.com' }).schemaRegistry.url).toBe(
      'https://sr.example.com',
    );
  });

  it('takes basic auth from SCHEMA_REGISTRY_USERNAME and _PASSWORD, or from the URL, one way only', () => {
    expect(
      loadConfig({
        SCHEMA_REGISTRY_URL: 'https://sr.example.com',
        SCHEMA_REGISTRY_USERNAME: 'KEY1',
        SCHEMA_REGISTRY_PASSWORD: 's:e/cret',
      }).schemaRegistry,
    ).toEqual({ url: 'https://sr.example.com', auth: { username: 'KEY1', password: 's:e/cret' } });
    expect(
      loadConfig({ SCHEMA_REGISTRY_URL: 'https://KEY1:s%3Ae%2Fcret@sr.example.com:8443/' }).schemaRegistry,
    ).toEqual({ url: 'https://sr.example.com:8443', auth: { username: 'KEY1', password: 's:e/cret' } });
  });

  it('refuses a bad value with a coded error naming the variable and why, never echoing a password', () => {
    const cases: Array<[Record<string, string>, string, string]> = [
      [
        { SCHEMA_REGISTRY_URL: 'localhost:8081' },
        'SCHEMA_REGISTRY_URL',
        'SCHEMA_REGISTRY_URL="localhost:8081" has no scheme; expected the base URL of a ' +
          'Confluent-compatible schema registry API, http(s)://host[:port][/path], e.g. ' +
          'http://127.0.0.1:8081/apis/ccompat/v7 for the local stack',
      ],
      [
        { SCHEMA_REGISTRY_URL: 'http://sr example:8081' },
        'SCHEMA_REGISTRY_URL',
        'SCHEMA_REGISTRY_URL="http://sr example:8081" is not a URL; expected the base URL of a Confluent-compatible ' +
          'schema registry API, http(s)://host[:port][/path], e.g. http://127.0.0.1:8081/apis/ccompat/v7 ' +
          'for the local stack',
      ],
      [
        { SCHEMA_REGISTRY_URL: 'ftp://u:hunter2@sr.example.com' },
        'SCHEMA_REGISTRY_URL',
        'SCHEMA_REGISTRY_URL="ftp://***@sr.example.com" has the scheme "ftp"; expected the base URL of a ' +
          'Confluent-compatible schema registry API, http(s)://host[:port][/path], e.g. ' +
          'http://127.0.0.1:8081/apis/ccompat/v7 for the local stack',
      ],
      [
        { SCHEMA_REGISTRY_URL: 'http://sr:8081/?x=1' },
        'SCHEMA_REGISTRY_URL',
        'SCHEMA_REGISTRY_URL="http://sr:8081/?x=1" has a query string or a fragment; expected the base URL ' +
          'of a Confluent-compatible schema registry API, http(s)://host[:port][/path], e.g. ' +
          'http://127.0.0.1:8081/apis/ccompat/v7 for the local stack',
      ],
      [
        { SCHEMA_REGISTRY_URL: 'http://sr:8081', SCHEMA_REGISTRY_USERNAME: 'u' },
        'SCHEMA_REGISTRY_PASSWORD',
        'SCHEMA_REGISTRY_USERNAME is set, so SCHEMA_REGISTRY_PASSWORD must be set too (basic auth to the ' +
          'schema registry needs both)',
      ],
      [
        { SCHEMA_REGISTRY_URL: 'http://sr:8081', SCHEMA_REGISTRY_PASSWORD: 'hunter2' },
        'SCHEMA_REGISTRY_USERNAME',
        'SCHEMA_REGISTRY_PASSWORD is set, so SCHEMA_REGISTRY_USERNAME must be set too (basic auth to the ' +
          'schema registry needs both)',
      ],
      [
        { SCHEMA_REGISTRY_USERNAME: 'u', SCHEMA_REGISTRY_PASSWORD: 'hunter2' },
        'SCHEMA_REGISTRY_USERNAME',
        "SCHEMA_REGISTRY_USERNAME is set but SCHEMA_REGISTRY_URL is not; set the registry's URL too, or " +
          'unset the credentials',
      ],
      [
        { SCHEMA_REGISTRY_URL: 'http://u:hunter2@sr:8081', SCHEMA_REGISTRY_USERNAME: 'u' },
        'SCHEMA_REGISTRY_URL',
        'SCHEMA_REGISTRY_URL="http://***@sr:8081" carries credentials and SCHEMA_REGISTRY_USERNAME or ' +
          'SCHEMA_REGISTRY_PASSWORD is set too; give them one way only',
      ],
    ];
    for (const [env, variable, message] of cases) {
      const error = configError(env);
      expect(error.code).toBe('TANDEM_ERR_CONFIG_INVALID');
      expect(error.message).toBe(message);
      expect(error.details.variable).toBe(variable);
      expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain('hunter2');
    }
  });
});

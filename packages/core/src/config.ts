// The one typed configuration of every Tandem component, read from environment variables and
// validated once at start. Errors name the variable and the forms it accepts.
// core does no I/O; hashing is pure computation, so node:crypto is allowed here.
import { createHash } from 'node:crypto';
import { TandemError } from './errors.ts';

/** Kafka connection and topics. */
export interface KafkaConfig {
  brokers: string[];
  clientId: string;
  /** TLS to the brokers. @defaultValue false */
  ssl: boolean;
  sasl: { mechanism: 'scram-sha-256' | 'scram-sha-512' | 'plain'; username: string; password: string } | null;
  topic: string;
  dlqTopic: string;
  lateTopic: string;
}

/** One node of a Redis Cluster, as `REDIS_CLUSTER_NODES` names it. */
export interface RedisClusterNode {
  host: string;
  port: number;
}

/** Redis connection; `prefix` namespaces every key so tests and tenants never collide. */
export interface RedisConfig {
  url: string;
  /**
   * `REDIS_CLUSTER_NODES` (`host:port,…`): some or all masters of a Redis Cluster, from which the
   * client discovers the rest. When set, every component connects to the cluster (REDIS_URL is not
   * used; REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS apply to every node). @defaultValue null
   */
  clusterNodes: RedisClusterNode[] | null;
  username: string | null;
  password: string | null;
  tls: boolean;
  prefix: string;
}

export interface S3Config {
  endpoint: string | null;
  region: string;
  accessKeyId: string | null;
  secretAccessKey: string | null;
  forcePathStyle: boolean;
}

/** Where raw logs and batch views live: `file:///dir` or `s3://bucket/prefix`. */
export interface LakeConfig {
  url: string;
  s3: S3Config;
}

/**
 * Fewest characters an API key given in the clear may have (`TANDEM_API_KEYS`): 32 hex digits
 * are 128 random bits (`openssl rand -hex 16`), too many to guess at any rate limit.
 */
export const MIN_API_KEY_LENGTH = 32;

export interface ApiKeyConfig {
  name: string;
  /** SHA-256 hex of the key; the key itself is never kept. */
  sha256: string;
  scopes: Array<'read' | 'admin'>;
}

export interface ServingConfig {
  host: string;
  port: number;
  /**
   * From `TANDEM_API_KEYS` (`name:read+admin:key,...`): a key in the clear needs at least
   * `MIN_API_KEY_LENGTH` (32) characters, else loading the config fails with
   * `TANDEM_ERR_CONFIG_INVALID` naming the entry; `sha256=<hex>` gives a digest instead.
   */
  apiKeys: ApiKeyConfig[];
  corsOrigins: string[];
  rateLimit: { max: number; windowMs: number };
}

export interface BatchConfig {
  threads: number;
  memoryLimit: string;
  /** How long after an hour ends before it is treated as complete without archiver watermarks. */
  latenessMs: number;
  maxBadRowRatio: number;
  keepVersions: number;
  concurrency: number;
  /** Recompute jobs (`POST /v1/ops/recompute`) a serving process runs at once; more wait in its queue. */
  jobConcurrency: number;
  hourlyCron: string;
  nightlyCron: string;
  /** Read archiver-written files whose manifest matches without re-validating their lines. */
  trustArchiveManifests: boolean;
}

export interface SpeedConfig {
  groupId: string;
  outOfOrdernessMs: number;
  allowedLatenessMs: number;
  maxBatchSize: number;
  maxBatchWaitMs: number;
  dedupWindow: number;
  bucketTtlSeconds: number;
  sealedGraceMs: number;
}

export interface EventsConfig {
  maxBytes: number;
  futureToleranceMs: number;
}

/** Where sealed batch views are exported for BI tools (`@tandem/export-postgres`). */
export interface ExportPostgresConfig {
  /** `EXPORT_POSTGRES_URL` (postgres://user:password@host:5432/db); null turns the export off. */
  url: string | null;
  /** `EXPORT_POSTGRES_SCHEMA`: the schema of the exported tables. @defaultValue 'tandem' */
  schema: string;
}

/** The Confluent-compatible schema registry that registry-backed streams take their schemas from. */
export interface SchemaRegistryConfig {
  /**
   * `SCHEMA_REGISTRY_URL`: the base URL of the registry's Confluent API, as Confluent clients take it
   * (`http://127.0.0.1:8081/apis/ccompat/v7` for the local stack's Apicurio Registry,
   * `https://host` for a Confluent Schema Registry), without a trailing slash or credentials; null
   * when unset (then no stream can be registry-backed). @defaultValue null
   */
  url: string | null;
  /**
   * HTTP basic auth: `SCHEMA_REGISTRY_USERNAME` and `SCHEMA_REGISTRY_PASSWORD` (both or neither; a
   * Confluent Cloud API key and secret), or the user info of the URL. @defaultValue null
   */
  auth: { username: string; password: string } | null;
}

export interface TandemConfig {
  kafka: KafkaConfig;
  redis: RedisConfig;
  lake: LakeConfig;
  serving: ServingConfig;
  batch: BatchConfig;
  speed: SpeedConfig;
  events: EventsConfig;
  exportPostgres: ExportPostgresConfig;
  schemaRegistry: SchemaRegistryConfig;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

type Env = Record<string, string | undefined>;

function invalid(name: string, value: string, accepted: string): TandemError {
  return new TandemError(
    'TANDEM_ERR_CONFIG_INVALID',
    `${name}="${value}" is not valid; expected ${accepted}`,
    {
      details: { variable: name, value, accepted },
    },
  );
}

function text(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value === '' ? fallback : value;
}

function optionalText(env: Env, name: string): string | null {
  const value = env[name];
  return value === undefined || value === '' ? null : value;
}

function integer(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(name, raw, `an integer from ${min} to ${max}`);
  }
  return value;
}

function ratio(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1) throw invalid(name, raw, 'a number from 0 to 1');
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw invalid(name, raw, 'true or false');
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const lowered = raw.toLowerCase() as T;
  if (!allowed.includes(lowered)) throw invalid(name, raw, `one of ${allowed.join(', ')}`);
  return lowered;
}

function list(env: Env, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function brokers(env: Env): string[] {
  const entries = list(env, 'KAFKA_BROKERS');
  const values = entries.length === 0 ? ['localhost:9092'] : entries;
  for (const broker of values) {
    if (!/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(broker)) {
      throw invalid('KAFKA_BROKERS', env.KAFKA_BROKERS ?? '', 'a comma-separated list of host:port');
    }
  }
  return values;
}

function redisUrl(env: Env): string {
  const raw = text(env, 'REDIS_URL', 'redis://127.0.0.1:6379');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid('REDIS_URL', raw, 'redis://[user:password@]host:port[/db] or rediss:// for TLS');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw invalid('REDIS_URL', raw, 'redis://[user:password@]host:port[/db] or rediss:// for TLS');
  }
  return raw;
}

/** `REDIS_CLUSTER_NODES`: `host:port` entries (IPv6 hosts in brackets), or null when unset. */
function redisClusterNodes(env: Env): RedisClusterNode[] | null {
  const raw = env.REDIS_CLUSTER_NODES ?? '';
  if (raw.trim() === '') return null;
  const nodes: RedisClusterNode[] = [];
  for (const [index, entry] of raw.split(',').entries()) {
    const item = entry.trim();
    const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_]+):(\d{1,5})$/.exec(item);
    const port = match ? Number(match[2]) : Number.NaN;
    const why =
      item === ''
        ? 'is empty'
        : match === null
          ? 'is not host:port'
          : port < 1 || port > 65535
            ? 'has a port outside 1-65535'
            : null;
    if (why !== null) {
      throw new TandemError(
        'TANDEM_ERR_CONFIG_INVALID',
        `REDIS_CLUSTER_NODES entry ${index + 1} ("${item}") ${why}; expected a comma-separated list of ` +
          'host:port of Redis Cluster nodes, e.g. 10.0.0.1:6379,10.0.0.2:6379 (IPv6 as [::1]:6379)',
        { details: { variable: 'REDIS_CLUSTER_NODES', entry: index + 1, value: item } },
      );
    }
    nodes.push({ host: match![1]!.replace(/^\[|\]$/g, ''), port });
  }
  return nodes;
}

/** The lake URL must be `file:///absolute/dir` or `s3://bucket[/prefix]`. */
export function parseLakeUrl(
  raw: string,
): { kind: 'file'; dir: string } | { kind: 's3'; bucket: string; prefix: string } {
  const unsupported = new TandemError(
    'TANDEM_ERR_LAKE_URL',
    `LAKE_URL "${raw}" is not supported; use s3://bucket/prefix or file:///dir`,
    { details: { variable: 'LAKE_URL', value: raw } },
  );
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw unsupported;
  }
  if (url.protocol === 'file:') {
    const dir = decodeURIComponent(url.pathname).replace(/\/+$/, '');
    if (url.host !== '' || dir === '') throw unsupported;
    return { kind: 'file', dir };
  }
  if (url.protocol === 's3:') {
    if (url.host === '') throw unsupported;
    const prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
    return { kind: 's3', bucket: url.host, prefix };
  }
  throw unsupported;
}

function postgresUrl(env: Env): string | null {
  const url = optionalText(env, 'EXPORT_POSTGRES_URL');
  if (url !== null && !/^postgres(ql)?:\/\/[^/]/.test(url)) {
    // The password is never echoed back.
    const shown = url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
    throw invalid('EXPORT_POSTGRES_URL', shown, 'postgres://user:password@host:5432/database');
  }
  return url;
}

function schemaRegistryError(variable: string, message: string, value?: string): TandemError {
  return new TandemError('TANDEM_ERR_CONFIG_INVALID', message, {
    details: value === undefined ? { variable } : { variable, value },
  });
}

/**
 * `SCHEMA_REGISTRY_URL` and its credentials. Passwords are never echoed: a URL is shown with its
 * user info masked.
 */
function schemaRegistry(env: Env): SchemaRegistryConfig {
  const raw = optionalText(env, 'SCHEMA_REGISTRY_URL');
  const username = optionalText(env, 'SCHEMA_REGISTRY_USERNAME');
  const password = optionalText(env, 'SCHEMA_REGISTRY_PASSWORD');
  const expected =
    'expected the base URL of a Confluent-compatible schema registry API, http(s)://host[:port][/path], ' +
    'e.g. http://127.0.0.1:8081/apis/ccompat/v7 for the local stack';
  if (raw === null) {
    if (username !== null || password !== null) {
      throw schemaRegistryError(
        username !== null ? 'SCHEMA_REGISTRY_USERNAME' : 'SCHEMA_REGISTRY_PASSWORD',
        `${username !== null ? 'SCHEMA_REGISTRY_USERNAME' : 'SCHEMA_REGISTRY_PASSWORD'} is set but SCHEMA_REGISTRY_URL is not; set the registry's URL too, or unset the credentials`,
      );
    }
    return { url: null, auth: null };
  }
  const shown = raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1***@');
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    throw schemaRegistryError(
      'SCHEMA_REGISTRY_URL',
      `SCHEMA_REGISTRY_URL="${shown}" has no scheme; ${expected}`,
      shown,
    );
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw schemaRegistryError(
      'SCHEMA_REGISTRY_URL',
      `SCHEMA_REGISTRY_URL="${shown}" is not a URL; ${expected}`,
      shown,
    );
  }
  const why =
    url.protocol !== 'http:' && url.protocol !== 'https:'
      ? `has the scheme "${url.protocol.slice(0, -1)}"`
      : url.hostname === ''
        ? 'has no host'
        : url.search !== '' || url.hash !== ''
          ? 'has a query string or a fragment'
          : null;
  if (why !== null) {
    throw schemaRegistryError(
      'SCHEMA_REGISTRY_URL',
      `SCHEMA_REGISTRY_URL="${shown}" ${why}; ${expected}`,
      shown,
    );
  }
  let auth: SchemaRegistryConfig['auth'] = null;
  if (url.username !== '' || url.password !== '') {
    if (username !== null || password !== null) {
      throw schemaRegistryError(
        'SCHEMA_REGISTRY_URL',
        `SCHEMA_REGISTRY_URL="${shown}" carries credentials and SCHEMA_REGISTRY_USERNAME or SCHEMA_REGISTRY_PASSWORD is set too; give them one way only`,
        shown,
      );
    }
    auth = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
    url.username = '';
    url.password = '';
  } else if (username !== null || password !== null) {
    if (username === null || password === null) {
      const missing = username === null ? 'SCHEMA_REGISTRY_USERNAME' : 'SCHEMA_REGISTRY_PASSWORD';
      const given = username === null ? 'SCHEMA_REGISTRY_PASSWORD' : 'SCHEMA_REGISTRY_USERNAME';
      throw schemaRegistryError(
        missing,
        `${given} is set, so ${missing} must be set too (basic auth to the schema registry needs both)`,
      );
    }
    auth = { username, password };
  }
  return { url: url.href.replace(/\/+$/, ''), auth };
}

function apiKeys(env: Env): ApiKeyConfig[] {
  // TANDEM_API_KEYS: comma-separated `name:scope+scope:key` entries. A key given in the clear is
  // hashed here and dropped, and must have MIN_API_KEY_LENGTH characters; `sha256=<hex>` in the
  // key position keeps secrets out of the env (a digest cannot be checked for length).
  const keys: ApiKeyConfig[] = [];
  for (const [index, entry] of list(env, 'TANDEM_API_KEYS').entries()) {
    const parts = entry.split(':');
    const accepted = 'comma-separated name:scopes:key entries, scopes read and/or admin joined by +';
    if (parts.length < 3) throw invalid('TANDEM_API_KEYS', '<redacted>', accepted);
    const [name, scopeText, ...rest] = parts;
    const secret = rest.join(':');
    const scopes = (scopeText ?? '').split('+');
    if (!name || secret === '' || scopes.some((scope) => scope !== 'read' && scope !== 'admin')) {
      throw invalid('TANDEM_API_KEYS', '<redacted>', accepted);
    }
    const digestGiven = secret.startsWith('sha256=');
    if (!digestGiven && secret.length < MIN_API_KEY_LENGTH) {
      // Named by its position and name, never by the secret.
      throw new TandemError(
        'TANDEM_ERR_CONFIG_INVALID',
        `TANDEM_API_KEYS entry ${index + 1} ("${name}") has a key of ${secret.length} characters; keys need ` +
          `at least ${MIN_API_KEY_LENGTH} (make one with \`openssl rand -hex 16\`), or give its digest as sha256=<hex>`,
        { details: { variable: 'TANDEM_API_KEYS', entry: index + 1, name, minLength: MIN_API_KEY_LENGTH } },
      );
    }
    const sha256 = digestGiven ? secret.slice(7).toLowerCase() : sha256Hex(secret);
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw invalid('TANDEM_API_KEYS', '<redacted>', accepted);
    keys.push({ name, sha256, scopes: scopes as Array<'read' | 'admin'> });
  }
  return keys;
}

function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/**
 * Reads and validates the whole configuration once. Throws a `TANDEM_ERR_CONFIG_INVALID` (or
 * `TANDEM_ERR_LAKE_URL`) error naming the variable and the accepted forms.
 * @param env - the environment to read. @defaultValue process.env
 * @param defaults - values that depend on the caller, such as the default lake directory.
 */
export function loadConfig(env: Env = process.env, defaults: { lakeDir?: string } = {}): TandemConfig {
  const lakeUrl = text(env, 'LAKE_URL', `file://${defaults.lakeDir ?? `${process.cwd()}/.data/lake`}`);
  parseLakeUrl(lakeUrl);
  const mechanism = optionalText(env, 'KAFKA_SASL_MECHANISM');
  let sasl: KafkaConfig['sasl'] = null;
  if (mechanism !== null) {
    const chosen = oneOf(env, 'KAFKA_SASL_MECHANISM', 'scram-sha-512', [
      'scram-sha-256',
      'scram-sha-512',
      'plain',
    ]);
    const username = optionalText(env, 'KAFKA_SASL_USERNAME');
    const password = optionalText(env, 'KAFKA_SASL_PASSWORD');
    if (username === null || password === null) {
      throw new TandemError(
        'TANDEM_ERR_CONFIG_INVALID',
        'KAFKA_SASL_MECHANISM is set, so KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD must be set too',
        { details: { variable: 'KAFKA_SASL_USERNAME' } },
      );
    }
    sasl = { mechanism: chosen, username, password };
  }
  const redis = redisUrl(env);
  const topic = text(env, 'TANDEM_TOPIC', 'events');
  return {
    kafka: {
      brokers: brokers(env),
      clientId: text(env, 'KAFKA_CLIENT_ID', 'tandem'),
      ssl: flag(env, 'KAFKA_SSL', false),
      sasl,
      topic,
      dlqTopic: text(env, 'TANDEM_DLQ_TOPIC', `${topic}.dlq`),
      lateTopic: text(env, 'TANDEM_LATE_TOPIC', `${topic}.late`),
    },
    redis: {
      url: redis,
      clusterNodes: redisClusterNodes(env),
      username: optionalText(env, 'REDIS_USERNAME'),
      password: optionalText(env, 'REDIS_PASSWORD'),
      tls: redis.startsWith('rediss:') || flag(env, 'REDIS_TLS', false),
      prefix: text(env, 'REDIS_PREFIX', 'tandem'),
    },
    lake: {
      url: lakeUrl,
      s3: {
        endpoint: optionalText(env, 'S3_ENDPOINT'),
        region: text(env, 'AWS_REGION', 'us-east-1'),
        accessKeyId: optionalText(env, 'AWS_ACCESS_KEY_ID'),
        secretAccessKey: optionalText(env, 'AWS_SECRET_ACCESS_KEY'),
        forcePathStyle: flag(env, 'S3_FORCE_PATH_STYLE', true),
      },
    },
    serving: {
      host: text(env, 'HOST', '127.0.0.1'),
      port: integer(env, 'PORT', 8080, 0, 65535),
      apiKeys: apiKeys(env),
      corsOrigins: list(env, 'CORS_ORIGINS'),
      rateLimit: {
        max: integer(env, 'RATE_LIMIT_MAX', 600, 1),
        windowMs: integer(env, 'RATE_LIMIT_WINDOW_MS', 60_000, 1),
      },
    },
    batch: {
      threads: integer(env, 'BATCH_THREADS', 2, 1, 256),
      memoryLimit: text(env, 'BATCH_MEMORY_LIMIT', '1GB'),
      latenessMs: integer(env, 'BATCH_LATENESS_MS', 10 * 60_000, 0),
      maxBadRowRatio: ratio(env, 'BATCH_MAX_BAD_ROW_RATIO', 0.01),
      keepVersions: integer(env, 'BATCH_KEEP_VERSIONS', 3, 1, 1000),
      concurrency: integer(env, 'BATCH_CONCURRENCY', 2, 1, 64),
      jobConcurrency: integer(env, 'BATCH_JOB_CONCURRENCY', 1, 1, 16),
      hourlyCron: text(env, 'BATCH_HOURLY_CRON', '5 * * * *'),
      nightlyCron: text(env, 'BATCH_NIGHTLY_CRON', '30 2 * * *'),
      trustArchiveManifests: flag(env, 'BATCH_TRUST_ARCHIVE_MANIFESTS', true),
    },
    speed: {
      groupId: text(env, 'SPEED_GROUP_ID', 'tandem-speed'),
      outOfOrdernessMs: integer(env, 'SPEED_OUT_OF_ORDERNESS_MS', 30_000, 0),
      allowedLatenessMs: integer(env, 'SPEED_ALLOWED_LATENESS_MS', 5 * 60_000, 0),
      maxBatchSize: integer(env, 'SPEED_MAX_BATCH_SIZE', 5000, 1),
      maxBatchWaitMs: integer(env, 'SPEED_MAX_BATCH_WAIT_MS', 200, 1),
      dedupWindow: integer(env, 'SPEED_DEDUP_WINDOW', 100_000, 0),
      bucketTtlSeconds: integer(env, 'SPEED_BUCKET_TTL_SECONDS', 3 * 24 * 3600, 60),
      sealedGraceMs: integer(env, 'SPEED_SEALED_GRACE_MS', 10 * 60_000, 0),
    },
    events: {
      maxBytes: integer(env, 'EVENT_MAX_BYTES', 65_536, 256),
      futureToleranceMs: integer(env, 'EVENT_FUTURE_TOLERANCE_MS', 5 * 60_000, 0),
    },
    exportPostgres: {
      url: postgresUrl(env),
      schema: text(env, 'EXPORT_POSTGRES_SCHEMA', 'tandem'),
    },
    schemaRegistry: schemaRegistry(env),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  };
}

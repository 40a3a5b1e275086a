// Batch test fixtures on the real stack: a batch layer over a fresh lake and a Redis prefix of the
// test's own (both from test/support), deterministic raw-log partitions with duplicates and malformed
// lines, and the truth those partitions imply, computed with plain loops.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { HOUR_MS, type TandemEvent } from '@tandem/core';
import { logPartitionPrefix, type ObjectStore } from '@tandem/lake';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { createTestLake, type LakeKind, type TestLake } from '@tandem/test-support/lake.ts';
import { mulberry32 } from '@tandem/test-support/random.ts';
import { deletePrefix } from '@tandem/test-support/redis.ts';
import { connectRedis, uniqueName } from '@tandem/test-support/stack.ts';
import { type BatchLayer, type BatchLayerOptions, openBatchLayer } from '../../src/index.ts';

export interface TestEnv {
  lake: TestLake;
  redis: Redis;
  prefix: string;
  tempDirectory: string;
  layers: BatchLayer[];
  /** Opens a batch layer on this lake and prefix (closed by teardown). */
  open(options?: Partial<BatchLayerOptions>): Promise<BatchLayer>;
  teardown(): Promise<void>;
}

export const quietLogger = pino({ level: process.env.TANDEM_TEST_LOG ?? 'silent' });

export async function createTestEnv(kind: LakeKind): Promise<TestEnv> {
  // fsync guards against a machine crash; these tests only kill processes, and skipping it keeps
  // their many small writes fast.
  const lake = await createTestLake(kind, kind === 'file' ? { fsync: false } : {});
  const redis = connectRedis(undefined, { maxRetriesPerRequest: 2 });
  const prefix = uniqueName();
  const tempDirectory = await mkdtemp(join(tmpdir(), 'tandem-batch-tmp-'));
  const layers: BatchLayer[] = [];
  const env: TestEnv = {
    lake,
    redis,
    prefix,
    tempDirectory,
    layers,
    open: async (options = {}) => {
      const layer = await openBatchLayer({
        store: lake.store,
        redis,
        redisPrefix: prefix,
        tempDirectory,
        threads: 1,
        memoryLimit: '512MB',
        logger: quietLogger,
        pointerCacheTtlMs: 0,
        orphanGraceMs: 60_000,
        leaseTtlMs: 10_000,
        retryBaseMs: 10,
        ...options,
      });
      layers.push(layer);
      return layer;
    },
    teardown: async () => {
      const errors: unknown[] = [];
      for (const layer of layers) await layer.close().catch((error) => errors.push(error));
      await deletePrefix(redis, prefix);
      await redis.quit();
      await lake.teardown().catch((error) => errors.push(error));
      await rm(tempDirectory, { recursive: true, force: true });
      if (errors.length > 0) throw new AggregateError(errors, 'test teardown failed');
    },
  };
  return env;
}

export interface HourData {
  hour: number;
  /** Files of the partition: name → lines (Buffer lines may hold invalid UTF-8). */
  files: Map<string, Array<string | Buffer>>;
  /** The valid events, once each (what deduplication must leave). */
  events: TandemEvent[];
  /** Lines written in total (what `rowsIn` must count). */
  lines: number;
  /** Malformed or invalid lines written. */
  bad: number;
  /** Valid lines that repeat an event_id. */
  duplicates: number;
}

export interface GenerateOptions {
  events: number;
  endpoints: number;
  users: number;
  /** Share of valid events written twice (producer retries), sometimes into another file. */
  duplicateShare: number;
  /** Malformed lines per partition (a cycle of kinds: bad JSON, bad UTF-8, schema failures). */
  badLines: number;
  files: number;
  seed: number;
  /** Characters appended to user ids (to make rows wide, e.g. for the spill test). */
  userIdPadding: number;
}

const defaultGenerate: GenerateOptions = {
  events: 400,
  endpoints: 6,
  users: 40,
  duplicateShare: 0.05,
  badLines: 1,
  files: 2,
  seed: 1,
  userIdPadding: 0,
};

/** Malformed lines: each is rejected by the staging SQL (or refused by the CSV reader). */
const badKinds: Array<(hour: number, i: number) => string | Buffer> = [
  () => 'this is not json',
  (hour, i) =>
    JSON.stringify({
      event_id: `bad-${hour}-${i}`,
      timestamp: hour + 1,
      endpoint: '/x',
      status_code: 700,
      response_time_ms: 1,
    }),
  () => Buffer.concat([Buffer.from('{"event_id":"\xff'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
  (hour, i) =>
    JSON.stringify({
      event_id: `neg-${hour}-${i}`,
      timestamp: hour + 2,
      endpoint: '/x',
      status_code: 200,
      response_time_ms: -5,
    }),
  () => '{"event_id": "trunc", "timestamp": ',
  (hour, i) =>
    JSON.stringify({
      timestamp: new Date(hour + 3).toISOString(),
      endpoint: '/x',
      status_code: 200,
      response_time_ms: 1,
      n: i,
    }),
];

/** Deterministic raw logs of one hour, with duplicates and malformed lines, and their truth. */
export function generateHour(hour: number, options: Partial<GenerateOptions> = {}): HourData {
  const o = { ...defaultGenerate, ...options };
  const rand = mulberry32(o.seed * 1_000_003 + hour / HOUR_MS);
  const files = new Map<string, Array<string | Buffer>>();
  const names = Array.from(
    { length: o.files },
    (_, f) => `events+${f}+${(hour / HOUR_MS) * 1000 + f}.json.gz`,
  );
  for (const name of names) files.set(name, []);
  const pick = () => files.get(names[Math.floor(rand() * names.length)]!)!;
  const events: TandemEvent[] = [];
  let lines = 0;
  let duplicates = 0;
  for (let i = 0; i < o.events; i++) {
    const timestamp = hour + Math.floor(rand() * HOUR_MS);
    const endpointIndex = Math.floor(rand() * rand() * o.endpoints);
    const statusRoll = rand();
    const event: TandemEvent = {
      event_id: `e-${o.seed}-${hour}-${i}`,
      timestamp,
      endpoint: `/api/${endpointIndex === 0 ? 'héllo' : `r${endpointIndex}`}`,
      method: rand() < 0.7 ? 'GET' : 'POST',
      status_code: statusRoll < 0.8 ? 200 : statusRoll < 0.9 ? 404 : statusRoll < 0.95 ? 500 : 503,
      response_time_ms: Math.round((1 + rand() ** 3 * 900) * 1000) / 1000,
      bytes_sent: rand() < 0.9 ? Math.floor(rand() * 50_000) : null,
      user_id: rand() < 0.95 ? `u${Math.floor(rand() * o.users)}${'x'.repeat(o.userIdPadding)}` : null,
      session_id: `s${Math.floor(rand() * 20)}`,
      page_id: rand() < 0.8 ? `/p/${Math.floor(rand() * 15)}` : null,
    };
    events.push(event);
    const wire: Record<string, unknown> = { ...event };
    if (i % 3 === 1) wire.timestamp = new Date(timestamp).toISOString();
    if (event.bytes_sent === null) delete wire.bytes_sent;
    if (event.method === 'GET' && i % 2 === 0) delete wire.method;
    const line = JSON.stringify(wire);
    pick().push(line);
    lines++;
    if (rand() < o.duplicateShare) {
      pick().push(line);
      lines++;
      duplicates++;
    }
  }
  for (let i = 0; i < o.badLines; i++) {
    pick().push(badKinds[i % badKinds.length]!(hour, i));
    lines++;
  }
  return { hour, files, events, lines, bad: o.badLines, duplicates };
}

export function encodeNdjson(lines: ReadonlyArray<string | Buffer>): Buffer {
  return Buffer.concat(
    lines.flatMap((line) => [typeof line === 'string' ? Buffer.from(line) : line, Buffer.from('\n')]),
  );
}

/** Writes an hour's files into its partition as gzipped NDJSON. */
export async function writeHour(store: ObjectStore, data: HourData): Promise<void> {
  for (const [name, lines] of data.files) {
    await store.put(`${logPartitionPrefix(data.hour)}${name}`, gzipSync(encodeNdjson(lines)));
  }
}

/** Exact per-(hour, endpoint) values of endpoint_hourly, by plain loops over the valid events. */
export interface EndpointTruth {
  requests: number;
  requests_2xx: number;
  errors_5xx: number;
  latencySum2xx: number;
  latencies2xx: number[];
  bytesSum: number;
  bytesCount: number;
  users: Set<string>;
}

export function endpointTruth(events: readonly TandemEvent[]): Map<string, EndpointTruth> {
  const truth = new Map<string, EndpointTruth>();
  for (const event of events) {
    const key = `${Math.floor(event.timestamp / HOUR_MS) * HOUR_MS}|${event.endpoint}`;
    let entry = truth.get(key);
    if (entry === undefined) {
      entry = {
        requests: 0,
        requests_2xx: 0,
        errors_5xx: 0,
        latencySum2xx: 0,
        latencies2xx: [],
        bytesSum: 0,
        bytesCount: 0,
        users: new Set(),
      };
      truth.set(key, entry);
    }
    entry.requests++;
    if (event.status_code >= 200 && event.status_code <= 299) {
      entry.requests_2xx++;
      entry.latencySum2xx += event.response_time_ms;
      entry.latencies2xx.push(event.response_time_ms);
    }
    if (event.status_code >= 500 && event.status_code <= 599) entry.errors_5xx++;
    if (event.bytes_sent !== null) {
      entry.bytesSum += event.bytes_sent;
      entry.bytesCount++;
    }
    if (event.user_id !== null) entry.users.add(event.user_id);
  }
  return truth;
}

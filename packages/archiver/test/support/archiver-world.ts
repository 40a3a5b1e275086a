// Archiver test helpers: a lake and a topic of the test's own on the local stack, a generated event
// stream with an independently computed truth (normalized events, partition and offset of each), a
// reader that takes the lake apart file by file, and a batch run over the archive compared with the truth.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback } from 'node:zlib';
import { openBatchLayer } from '@tandem/batch';
import { finalizeStates, HOUR_MS, MINUTE_MS, type TandemEvent } from '@tandem/core';
import {
  type ArchiveManifest,
  archiveManifestKey,
  listAll,
  manifestDigest,
  type ObjectStore,
  parseArchiveFileName,
  parseArchiveManifest,
  parseLogPartition,
} from '@tandem/lake';
import type { Admin, Kafka } from 'kafkajs';
import { pino } from 'pino';
import { createTopics, deleteTopics } from '@tandem/test-support/kafka.ts';
import { createTestLake, type LakeKind, type TestLake } from '@tandem/test-support/lake.ts';
import { mulberry32 } from '@tandem/test-support/random.ts';
import { deleteKeys } from '@tandem/test-support/redis.ts';
import { connectRedis, kafkaClient, uniqueName } from '@tandem/test-support/stack.ts';

const gunzip = promisify(gunzipCallback);

export interface ArchiverTestStack {
  lake: TestLake;
  kafka: Kafka;
  /** Connected; disconnected when the test finishes. */
  admin: Admin;
  topic: string;
}

/**
 * A lake and a topic of the test's own, removed when the test finishes. `onTestFinished` runs its
 * callbacks last-registered first, so cleanups a test registers after this one (stopping its
 * archivers) run before the topic and then the lake go away.
 */
export async function openArchiverTestStack(
  kind: LakeKind,
  partitions: number,
  onTestFinished: (cleanup: () => Promise<void>) => void,
): Promise<ArchiverTestStack> {
  const lake = await createTestLake(kind);
  onTestFinished(() => lake.teardown());
  const kafka = kafkaClient('tandem-archiver-test');
  const admin = kafka.admin();
  await admin.connect();
  const topic = uniqueName();
  await createTopics(admin, [topic], partitions);
  onTestFinished(async () => {
    await deleteTopics(admin, [topic]);
    await admin.disconnect();
  });
  return { lake, kafka, admin, topic };
}

export interface ProducedMessage {
  partition: number;
  value: string;
  /** The normalized event the archiver must write, or null for an invalid message. */
  event: TandemEvent | null;
}

export interface GeneratedStream {
  messages: ProducedMessage[];
  /** event_id → normalized event, for every valid message. */
  truth: Map<string, TandemEvent>;
  invalid: number;
  /** Start of the first of the hours the events span. */
  firstHour: number;
  hours: number;
}

const INVALID_MESSAGES = [
  '{"event_id":"x","timestamp":1,"status_code":200,"response_time_ms":1}', // no endpoint
  '{not json',
  '{"event_id":"y","timestamp":1,"endpoint":"/a","status_code":700,"response_time_ms":1}',
  '[1,2,3]',
];

/**
 * `valid` events spread over `hours` past hours in production order, each with an event time
 * jittered by up to ±`jitterMs` (so event time is out of order by up to 2 × jitter within a
 * partition), plus one invalid message every `invalidEvery` valid ones. Messages go to partitions
 * round-robin; a quarter use ISO timestamps and omit the optional fields (normalization is checked).
 */
export function generateStream(options: {
  valid: number;
  partitions: number;
  hours?: number;
  jitterMs?: number;
  invalidEvery?: number;
  seed?: number;
  /** The stream ends this long before the current hour starts. @defaultValue 2 h */
  endBeforeNowMs?: number;
}): GeneratedStream {
  const hours = options.hours ?? 5;
  const jitter = options.jitterMs ?? 10 * MINUTE_MS;
  const random = mulberry32(options.seed ?? 42);
  const currentHour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  const firstHour = currentHour - (options.endBeforeNowMs ?? 2 * HOUR_MS) - hours * HOUR_MS;
  const span = hours * HOUR_MS;
  const messages: ProducedMessage[] = [];
  const truth = new Map<string, TandemEvent>();
  let invalid = 0;
  const run = randomUUID().slice(0, 8);
  for (let index = 0; index < options.valid; index++) {
    const planned = firstHour + Math.floor((index * span) / options.valid);
    const timestamp = Math.min(
      firstHour + span - 1,
      Math.max(firstHour, planned + Math.round((random() * 2 - 1) * jitter)),
    );
    const eventId = `${run}-${index}`;
    const endpoint = `/api/${['users', 'orders', 'items', 'search'][index % 4]}`;
    const statusCode = [200, 200, 201, 404, 500][index % 5]!;
    const responseTime = Math.round(random() * 50_000) / 100;
    let value: Record<string, unknown>;
    let event: TandemEvent;
    if (index % 4 === 3) {
      value = {
        event_id: eventId,
        timestamp: new Date(timestamp).toISOString(),
        endpoint,
        status_code: statusCode,
        response_time_ms: responseTime,
      };
      event = {
        event_id: eventId,
        timestamp,
        endpoint,
        method: 'GET',
        status_code: statusCode,
        response_time_ms: responseTime,
        bytes_sent: null,
        user_id: null,
        session_id: null,
        page_id: null,
      };
    } else {
      event = {
        event_id: eventId,
        timestamp,
        endpoint,
        method: index % 3 === 0 ? 'POST' : 'GET',
        status_code: statusCode,
        response_time_ms: responseTime,
        bytes_sent: Math.floor(random() * 10_000),
        user_id: `u${index % 997}`,
        session_id: `s${index % 4001}`,
        page_id: `p${index % 37}`,
      };
      value = { ...event };
    }
    messages.push({ partition: messages.length % options.partitions, value: JSON.stringify(value), event });
    truth.set(eventId, event);
    if (options.invalidEvery !== undefined && (index + 1) % options.invalidEvery === 0) {
      const text = INVALID_MESSAGES[invalid % INVALID_MESSAGES.length]!;
      messages.push({ partition: messages.length % options.partitions, value: text, event: null });
      invalid++;
    }
  }
  return { messages, truth, invalid, firstHour, hours };
}

export interface PlacedMessage extends ProducedMessage {
  offset: bigint;
}

/**
 * Produces the messages in order (each to its partition) and returns them with the offsets Kafka
 * assigned: within one request, a partition's messages get consecutive offsets from its base offset.
 */
export async function produce(
  kafka: Kafka,
  topic: string,
  messages: ProducedMessage[],
): Promise<PlacedMessage[]> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const placed: PlacedMessage[] = [];
  try {
    const chunk = 5_000;
    for (let start = 0; start < messages.length; start += chunk) {
      const slice = messages.slice(start, start + chunk);
      const results = await producer.send({
        topic,
        acks: -1,
        messages: slice.map((message) => ({ partition: message.partition, value: message.value })),
      });
      const next = new Map(results.map((result) => [result.partition, BigInt(result.baseOffset ?? '0')]));
      for (const message of slice) {
        const offset = next.get(message.partition)!;
        next.set(message.partition, offset + 1n);
        placed.push({ ...message, offset });
      }
    }
  } finally {
    await producer.disconnect();
  }
  return placed;
}

export interface LakeFile {
  key: string;
  hour: number;
  topic: string;
  partition: number;
  firstOffset: string;
  events: TandemEvent[];
  /** Size and SHA-256 of the stored (gzipped) object. */
  bytes: number;
  sha256: string;
  /** Its manifest as stored, null when it has none (or an unreadable one). */
  manifest: ArchiveManifest | null;
}

/** An archive file as stored: its lines as text (without their newlines). */
export interface LakeTextFile extends Omit<LakeFile, 'events'> {
  lines: string[];
}

/** Every archive file under a stream's logs prefix, decompressed, with its manifest. */
export async function readLakeLines(store: ObjectStore, logsPrefix = 'logs'): Promise<LakeTextFile[]> {
  const files: LakeTextFile[] = [];
  for (const info of await listAll(store, `${logsPrefix}/`)) {
    const hour = parseLogPartition(info.key);
    if (hour === null) continue;
    const name = parseArchiveFileName(info.key);
    if (name === null) throw new Error(`unexpected file in the lake: ${info.key}`);
    const bytes = await store.get(info.key);
    const text = (await gunzip(bytes!)).toString('utf8');
    if (!text.endsWith('\n')) throw new Error(`${info.key} does not end with a newline`);
    const manifestText = await store.get(archiveManifestKey(info.key, logsPrefix)!);
    const manifest =
      manifestText === null
        ? null
        : parseArchiveManifest(Buffer.from(manifestText).toString('utf8'), info.key);
    files.push({
      key: info.key,
      hour,
      ...name,
      lines: text.slice(0, -1).split('\n'),
      bytes: bytes!.byteLength,
      sha256: manifestDigest(bytes!),
      manifest,
    });
  }
  return files;
}

/** Every archive file of the web stream's lake (`logs/`), decompressed and parsed line by line. */
export async function readLake(store: ObjectStore, logsPrefix = 'logs'): Promise<LakeFile[]> {
  return (await readLakeLines(store, logsPrefix)).map(({ lines, ...file }) => ({
    ...file,
    events: lines.map((line) => JSON.parse(line) as TandemEvent),
  }));
}

/** Waits until the group has committed every partition's end offset. */
export async function waitForCommitted(
  admin: Admin,
  groupId: string,
  topic: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const byPartition = new Map(
      (committed?.partitions ?? []).map((entry) => [entry.partition, entry.offset]),
    );
    if (ends.every((end) => byPartition.get(end.partition) === end.high)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `group ${groupId} did not commit the end of ${topic} within ${timeoutMs} ms: ` +
          JSON.stringify({ ends, committed: [...byPartition] }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Which truth events are missing, duplicated or altered in the lake's files. */
export function compareWithTruth(
  files: LakeFile[],
  truth: Map<string, TandemEvent>,
): { missing: string[]; duplicates: number; altered: string[]; unknown: string[]; misplaced: string[] } {
  const seen = new Map<string, number>();
  const altered: string[] = [];
  const unknown: string[] = [];
  const misplaced: string[] = [];
  for (const file of files) {
    for (const event of file.events) {
      seen.set(event.event_id, (seen.get(event.event_id) ?? 0) + 1);
      const expected = truth.get(event.event_id);
      if (expected === undefined) unknown.push(event.event_id);
      else if (JSON.stringify(sortKeys(expected)) !== JSON.stringify(sortKeys(event)))
        altered.push(event.event_id);
      if (Math.floor(event.timestamp / HOUR_MS) * HOUR_MS !== file.hour)
        misplaced.push(`${event.event_id}@${file.key}`);
    }
  }
  let duplicates = 0;
  for (const count of seen.values()) duplicates += count - 1;
  const missing = [...truth.keys()].filter((id) => !seen.has(id));
  return { missing, duplicates, altered, unknown, misplaced };
}

function sortKeys(value: object): object {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)));
}

export interface BatchComparison {
  /** (hour, endpoint) cells the batch computed. */
  cells: number;
  /** Human-readable differences from the truth; empty when the batch views are exact. */
  mismatches: string[];
  failedHours: string[];
}

/**
 * Runs the batch layer's `endpoint_hourly` over the archived hours and compares its finished values
 * with ones computed here, directly from the truth events: request counts, 2xx and 5xx counts,
 * average 2xx latency and average response size per (hour, endpoint).
 */
export async function batchAgainstTruth(
  store: ObjectStore,
  topic: string,
  truth: Iterable<TandemEvent>,
  firstHour: number,
  hours: number,
): Promise<BatchComparison> {
  const redis = connectRedis();
  const redisPrefix = uniqueName();
  const tempDirectory = await mkdtemp(join(tmpdir(), 'tandem-archiver-batch-'));
  const batch = await openBatchLayer({
    store,
    redis,
    redisPrefix,
    topic,
    tempDirectory,
    threads: 1,
    logger: pino({ level: 'silent' }),
  });
  try {
    const view = batch.view('endpoint_hourly');
    const failedHours: string[] = [];
    for (let hour = firstHour; hour < firstHour + hours * HOUR_MS; hour += HOUR_MS) {
      const outcome = await batch.runHour(view.name, hour, { force: true });
      if (outcome.status !== 'published')
        failedHours.push(`${new Date(hour).toISOString()}: ${outcome.status} ${outcome.reason}`);
    }
    const sealed = await batch.reader.sealedHours(view.name, {
      from: firstHour,
      to: firstHour + hours * HOUR_MS,
    });
    const rows = await batch.reader.readPartials(view.name, sealed, {});
    const expected = new Map<
      string,
      { n: number; n2xx: number; n5xx: number; lat: number; bytes: number; nBytes: number }
    >();
    for (const event of truth) {
      const key = `${Math.floor(event.timestamp / HOUR_MS) * HOUR_MS}|${event.endpoint}`;
      const cell = expected.get(key) ?? { n: 0, n2xx: 0, n5xx: 0, lat: 0, bytes: 0, nBytes: 0 };
      cell.n++;
      if (event.status_code >= 200 && event.status_code <= 299) {
        cell.n2xx++;
        cell.lat += event.response_time_ms;
      }
      if (event.status_code >= 500) cell.n5xx++;
      if (event.bytes_sent !== null) {
        cell.bytes += event.bytes_sent;
        cell.nBytes++;
      }
      expected.set(key, cell);
    }
    const mismatches: string[] = [];
    const close = (a: unknown, b: number | null): boolean =>
      b === null ? a === null : typeof a === 'number' && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
    const seen = new Set<string>();
    for (const row of rows) {
      const key = `${row.bucket}|${row.dims[0]}`;
      seen.add(key);
      const cell = expected.get(key);
      const values = finalizeStates(view, row.states);
      if (cell === undefined) {
        mismatches.push(`${key}: not in the truth`);
        continue;
      }
      const want = {
        requests: cell.n,
        requests_2xx: cell.n2xx,
        errors_5xx: cell.n5xx,
        avg_latency_ms: cell.n2xx === 0 ? null : cell.lat / cell.n2xx,
        avg_response_bytes: cell.nBytes === 0 ? null : cell.bytes / cell.nBytes,
      };
      for (const [name, value] of Object.entries(want)) {
        if (!close(values[name], value))
          mismatches.push(`${key} ${name}: batch ${values[name]}, truth ${value}`);
      }
    }
    for (const key of expected.keys())
      if (!seen.has(key)) mismatches.push(`${key}: missing from the batch view`);
    return { cells: rows.length, mismatches, failedHours };
  } finally {
    await batch.close();
    await deleteKeys(redis, `${redisPrefix}*`);
    await redis.quit();
    await rm(tempDirectory, { recursive: true, force: true });
  }
}

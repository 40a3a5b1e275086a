// A seeded stream of raw Kafka messages for the speed tests and benchmark, with what the speed
// layer must do with each one decided by construction: valid events, producer duplicates close
// behind their original, events out of order within the bound, events beyond the allowed
// lateness, poison of every kind, and one closing "sentinel" per partition that moves its
// watermark far enough to close every session.
import { parseEvent, type TandemEvent } from '@tandem/core';
import { mulberry32 } from '@tandem/test-support/random.ts';

export type MessageKind = 'valid' | 'duplicate' | 'late' | 'poison' | 'sentinel';

export interface StreamMessage {
  partition: number;
  key: string;
  value: Buffer;
  kind: MessageKind;
  /** For poison: which kind of garbage. */
  poison?: PoisonKind;
}

export const poisonKinds = [
  'invalid-json',
  'invalid-utf8',
  'wrong-type',
  'out-of-range',
  'oversize',
  'far-future',
  'missing-field',
  'not-an-object',
  'empty',
] as const;
export type PoisonKind = (typeof poisonKinds)[number];

export interface StreamSpec {
  /** Messages before the sentinels (every kind included). */
  count: number;
  partitions: number;
  seed: number;
  /** Event time of the first event; the stream spans `spanMs` after it. @defaultValue nowMs − 4 h */
  startMs: number | null;
  spanMs: number;
  duplicateRate: number;
  outOfOrderRate: number;
  /** Largest out-of-order delay; keep it below the worker's out-of-orderness bound. */
  outOfOrderMaxMs: number;
  lateRate: number;
  /** How far behind the stream a late event is; more than out-of-orderness + allowed lateness. */
  lateByMs: number;
  poisonRate: number;
  users: number;
  endpoints: number;
  pages: number;
  /** Event size limit of the worker, for the oversize poison. */
  maxBytes: number;
  /** Wall clock for the far-future poison. */
  nowMs: number;
  /** Append one sentinel per partition, `sentinelAfterMs` after the last event time. */
  sentinels: boolean;
  sentinelAfterMs: number;
}

export const defaultStreamSpec: StreamSpec = {
  count: 10_000,
  partitions: 6,
  seed: 1,
  startMs: null,
  spanMs: 2 * 3_600_000,
  duplicateRate: 0.01,
  outOfOrderRate: 0.05,
  outOfOrderMaxMs: 20_000,
  lateRate: 0.002,
  lateByMs: 20 * 60_000,
  poisonRate: 0.01,
  users: 400,
  endpoints: 25,
  pages: 60,
  maxBytes: 65_536,
  nowMs: Date.now(),
  sentinels: true,
  sentinelAfterMs: 40 * 60_000,
};

export interface GeneratedStream {
  messages: StreamMessage[];
  /** The events the speed layer must fold, in the form core's parser yields. */
  accepted: TandemEvent[];
  /** Accepted events of sentinel users (their sessions stay open). */
  sentinelUsers: Set<string>;
  counts: Record<MessageKind, number>;
  poisonByKind: Record<PoisonKind, number>;
}

/** Kafka's default partitioner is murmur2 on the key; any stable hash keeps a user on one partition. */
export function partitionOf(key: string, partitions: number): number {
  let hash = 2166136261;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return (hash >>> 0) % partitions;
}

export function generateStream(overrides: Partial<StreamSpec> = {}): GeneratedStream {
  const merged = { ...defaultStreamSpec, ...overrides };
  const spec = { ...merged, startMs: merged.startMs ?? merged.nowMs - 4 * 3_600_000 };
  const random = mulberry32(spec.seed);
  const pick = (n: number) => Math.floor(random() * n);
  const messages: StreamMessage[] = [];
  const accepted: TandemEvent[] = [];
  const counts: Record<MessageKind, number> = { valid: 0, duplicate: 0, late: 0, poison: 0, sentinel: 0 };
  const poisonByKind = Object.fromEntries(poisonKinds.map((kind) => [kind, 0])) as Record<PoisonKind, number>;
  const recent: Array<Array<{ key: string; value: Buffer }>> = Array.from(
    { length: spec.partitions },
    () => [],
  );
  const seenInPartition = new Array<number>(spec.partitions).fill(0);
  let lastTime = spec.startMs;
  let poisonTurn = 0;

  const push = (message: StreamMessage, event: TandemEvent | null) => {
    messages.push(message);
    counts[message.kind]++;
    seenInPartition[message.partition]!++;
    if (event !== null) accepted.push(event);
  };
  const accept = (value: Buffer): TandemEvent => {
    const parsed = parseEvent(value, { maxBytes: spec.maxBytes, now: () => spec.nowMs });
    if (!parsed.ok) throw new Error(`generator built an invalid event: ${parsed.error.message}`);
    return parsed.event;
  };

  for (let i = 0; i < spec.count; i++) {
    const time = spec.startMs + Math.floor((i * spec.spanMs) / spec.count);
    lastTime = time;
    // users come in three shifts of 25 minutes, so most visitors have several sessions
    const shift = Math.floor((time - spec.startMs) / (25 * 60_000)) % 3;
    const user = `u${shift * spec.users + pick(spec.users)}`;
    const hasUser = random() >= 0.02;
    const key = hasUser ? user : `anon-${i}`;
    const partition = partitionOf(key, spec.partitions);
    const roll = random();

    if (roll < spec.poisonRate) {
      const kind = poisonKinds[poisonTurn++ % poisonKinds.length]!;
      poisonByKind[kind]++;
      push({ partition, key, value: poison(kind, i, time, spec), kind: 'poison', poison: kind }, null);
      continue;
    }
    const history = recent[partition]!;
    if (roll < spec.poisonRate + spec.duplicateRate && history.length > 0) {
      const original = history[pick(history.length)]!;
      push({ partition, key: original.key, value: original.value, kind: 'duplicate' }, null);
      continue;
    }
    const warm = seenInPartition[partition]! > 200;
    if (roll < spec.poisonRate + spec.duplicateRate + spec.lateRate && warm) {
      const value = eventBytes(`late-${i}`, time - spec.lateByMs, hasUser ? user : null, random, spec);
      push({ partition, key, value, kind: 'late' }, null);
      continue;
    }
    const outOfOrder = roll > 1 - spec.outOfOrderRate;
    const eventTime = outOfOrder ? time - 1 - pick(spec.outOfOrderMaxMs) : time;
    const value = eventBytes(`e-${i}`, eventTime, hasUser ? user : null, random, spec);
    push({ partition, key, value, kind: 'valid' }, accept(value));
    history.push({ key, value });
    if (history.length > 20) history.shift();
  }

  const sentinelUsers = new Set<string>();
  if (spec.sentinels) {
    for (let partition = 0; partition < spec.partitions; partition++) {
      let n = 0;
      let user = `sentinel-${partition}-${n}`;
      while (partitionOf(user, spec.partitions) !== partition) user = `sentinel-${partition}-${++n}`;
      sentinelUsers.add(user);
      const value = eventBytes(`sentinel-${partition}`, lastTime + spec.sentinelAfterMs, user, random, spec);
      push({ partition, key: user, value, kind: 'sentinel' }, accept(value));
    }
  }
  return { messages, accepted, sentinelUsers, counts, poisonByKind };
}

function eventBytes(
  id: string,
  time: number,
  user: string | null,
  random: () => number,
  spec: StreamSpec,
): Buffer {
  const pick = (n: number) => Math.floor(random() * n);
  const statuses = [200, 200, 200, 200, 201, 204, 301, 404, 500, 503];
  const event: Record<string, unknown> = {
    event_id: id,
    // both accepted time forms
    timestamp: random() < 0.5 ? time : new Date(time).toISOString(),
    endpoint: `/api/v1/r${pick(spec.endpoints)}`,
    status_code: statuses[pick(statuses.length)],
    // quarter milliseconds: every sum stays exact in binary floating point, in any order
    response_time_ms: pick(4000) / 4,
  };
  if (random() < 0.7) event.method = random() < 0.8 ? 'GET' : 'POST';
  if (random() < 0.8) event.bytes_sent = pick(50_000);
  if (user !== null) event.user_id = user;
  if (random() < 0.6) event.page_id = `/p${pick(spec.pages)}`;
  if (random() < 0.3) event.session_id = `s-${pick(1000)}`;
  return Buffer.from(JSON.stringify(event));
}

function poison(kind: PoisonKind, i: number, time: number, spec: StreamSpec): Buffer {
  const base = {
    event_id: `poison-${i}`,
    timestamp: time,
    endpoint: '/api/x',
    status_code: 200,
    response_time_ms: 1,
  };
  switch (kind) {
    case 'invalid-json':
      return Buffer.from(`{"event_id": "poison-${i}", "timestamp": ${time}, `);
    case 'invalid-utf8':
      return Buffer.concat([
        Buffer.from(`{"event_id":"poison-${i}","timestamp":${time},"endpoint":"/a`),
        Buffer.from([0xff, 0xfe, 0xc3]),
        Buffer.from('","status_code":200,"response_time_ms":1}'),
      ]);
    case 'wrong-type':
      return Buffer.from(JSON.stringify({ ...base, status_code: '200' }));
    case 'out-of-range':
      return Buffer.from(
        JSON.stringify({ ...base, status_code: i % 2 === 0 ? 99 : 600, response_time_ms: -1 }),
      );
    case 'oversize':
      return Buffer.from(JSON.stringify({ ...base, page_id: 'x'.repeat(spec.maxBytes + 10) }));
    case 'far-future':
      return Buffer.from(JSON.stringify({ ...base, timestamp: spec.nowMs + 365 * 86_400_000 }));
    case 'missing-field': {
      const { endpoint: _dropped, ...rest } = base;
      return Buffer.from(JSON.stringify(rest));
    }
    case 'not-an-object':
      return Buffer.from(JSON.stringify([base]));
    case 'empty':
      return Buffer.alloc(0);
  }
}

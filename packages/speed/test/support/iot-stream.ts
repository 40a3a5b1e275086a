// A seeded stream of IoT sensor readings (a declared stream other than the web one) for the speed
// tests, with what the speed layer must do with each message decided by construction: valid
// readings, producer duplicates close behind their original (with an id field: the same
// `reading_id`, whatever the payload; without one: the same normalized content, written another
// way), near-duplicates that differ in one field (valid), readings out of order within the bound,
// readings beyond the allowed lateness, poison of every kind, and one sentinel per partition.
// The normalized events are built here from what was generated, not by core's validator.
import type { StreamEvent, StreamSpec } from '@tandem/core';
import { mulberry32 } from '@tandem/test-support/random.ts';
import { partitionOf } from './event-stream.ts';

export type IotMessageKind = 'valid' | 'duplicate' | 'late' | 'poison' | 'sentinel';

export const iotPoisonKinds = [
  'invalid-json',
  'invalid-utf8',
  'wrong-type',
  'out-of-range',
  'missing-field',
  'null-field',
  'bad-time',
  'far-future',
  'oversize',
  'not-an-object',
  'empty',
] as const;
export type IotPoisonKind = (typeof iotPoisonKinds)[number];

export interface IotMessage {
  partition: number;
  key: string;
  value: Buffer;
  kind: IotMessageKind;
  poison?: IotPoisonKind;
}

/** The schema of the test's IoT streams; `withId` adds the `reading_id` id field. */
export function iotStreamSpec(name: string, topic: string, withId: boolean): StreamSpec {
  return {
    name,
    topic,
    schema: {
      type: 'object',
      properties: {
        ...(withId ? { reading_id: { type: 'string', minLength: 1, maxLength: 64 } } : {}),
        ts: { type: 'integer', description: 'epoch milliseconds' },
        site: { type: 'string', minLength: 1, maxLength: 64 },
        device: { type: 'string', minLength: 1, maxLength: 64 },
        temperature_c: { type: 'number', minimum: -90, maximum: 150 },
        firmware: { type: 'string', maxLength: 16, default: 'v1' },
      },
      required: [...(withId ? ['reading_id'] : []), 'ts', 'site', 'device', 'temperature_c'],
    },
    time: { field: 'ts', encoding: 'epoch_ms' },
    idField: withId ? 'reading_id' : null,
  };
}

export interface IotStreamOptions {
  withId: boolean;
  count: number;
  partitions: number;
  seed: number;
  /** Time of the first reading. */
  startMs: number;
  spanMs: number;
  /** Wall clock for the far-future poison. */
  nowMs: number;
  /** The worker's event size limit, for the oversize poison. */
  maxBytes: number;
  sites: number;
  /** Devices per shift; devices report in three shifts of 20 minutes, so their sessions close. */
  devices: number;
  duplicateRate: number;
  nearDuplicateRate: number;
  outOfOrderRate: number;
  outOfOrderMaxMs: number;
  lateRate: number;
  lateByMs: number;
  poisonRate: number;
  sentinelAfterMs: number;
}

export const defaultIotOptions: Omit<IotStreamOptions, 'withId' | 'startMs' | 'nowMs'> = {
  count: 20_000,
  partitions: 4,
  seed: 7,
  spanMs: 2 * 3_600_000,
  maxBytes: 65_536,
  sites: 5,
  devices: 40,
  duplicateRate: 0.03,
  nearDuplicateRate: 0.02,
  outOfOrderRate: 0.05,
  outOfOrderMaxMs: 20_000,
  lateRate: 0.003,
  lateByMs: 20 * 60_000,
  poisonRate: 0.01,
  sentinelAfterMs: 40 * 60_000,
};

export interface GeneratedIotStream {
  messages: IotMessage[];
  /** The normalized events the speed layer must fold. */
  accepted: StreamEvent[];
  /** Devices of the sentinels (their sessions stay open). */
  sentinelDevices: Set<string>;
  counts: Record<IotMessageKind, number>;
  poisonByKind: Record<IotPoisonKind, number>;
  nearDuplicates: number;
}

/** A normalized reading (declaration order) and the choices of how to write it. */
interface Reading {
  event: Record<string, string | number>;
}

export function generateIotStream(
  options: Partial<IotStreamOptions> & Pick<IotStreamOptions, 'withId' | 'startMs' | 'nowMs'>,
): GeneratedIotStream {
  const spec: IotStreamOptions = { ...defaultIotOptions, ...options };
  const random = mulberry32(spec.seed);
  const pick = (n: number) => Math.floor(random() * n);
  const messages: IotMessage[] = [];
  const accepted: StreamEvent[] = [];
  const counts: Record<IotMessageKind, number> = { valid: 0, duplicate: 0, late: 0, poison: 0, sentinel: 0 };
  const poisonByKind = Object.fromEntries(iotPoisonKinds.map((kind) => [kind, 0])) as Record<
    IotPoisonKind,
    number
  >;
  // every identity ever accepted per partition: a fresh reading never repeats one by accident, so
  // every repeat is a duplicate generated on purpose, close behind its original
  const identities = Array.from({ length: spec.partitions }, () => new Set<string>());
  const recent: Reading[][] = Array.from({ length: spec.partitions }, () => []);
  const seen = new Array<number>(spec.partitions).fill(0);
  let nearDuplicates = 0;
  let poisonTurn = 0;
  let lastTime = spec.startMs;

  const identityOf = (event: Record<string, string | number>) =>
    spec.withId ? String(event.reading_id) : JSON.stringify(Object.values(event));
  const push = (message: IotMessage, event: Record<string, string | number> | null) => {
    messages.push(message);
    counts[message.kind]++;
    seen[message.partition]!++;
    if (event !== null) {
      accepted.push(event);
      identities[message.partition]!.add(identityOf(event));
    }
  };
  /** A reading, with a temperature nudged until its identity is new in the partition. */
  const fresh = (id: string, ts: number, device: string, partition: number) => {
    const event: Record<string, string | number> = {};
    if (spec.withId) event.reading_id = id;
    event.ts = ts;
    event.site = siteOf(device, spec.sites);
    event.device = device;
    // quarter degrees: every sum stays exact in binary floating point, in any order
    event.temperature_c = (pick(240) - 40) / 4;
    event.firmware = random() < 0.85 ? 'v1' : 'v2';
    while (identities[partition]!.has(identityOf(event)))
      event.temperature_c = (event.temperature_c as number) + 0.25;
    return event;
  };

  for (let i = 0; i < spec.count; i++) {
    const time = spec.startMs + Math.floor((i * spec.spanMs) / spec.count);
    lastTime = time;
    const shift = Math.floor((time - spec.startMs) / (20 * 60_000)) % 3;
    const device = `dev-${shift * spec.devices + pick(spec.devices)}`;
    const partition = partitionOf(device, spec.partitions);
    const history = recent[partition]!;
    const roll = random();

    if (roll < spec.poisonRate) {
      const kind = iotPoisonKinds[poisonTurn++ % iotPoisonKinds.length]!;
      poisonByKind[kind]++;
      push(
        { partition, key: device, value: poison(kind, i, time, device, spec), kind: 'poison', poison: kind },
        null,
      );
      continue;
    }
    if (roll < spec.poisonRate + spec.duplicateRate && history.length > 0) {
      const original = history[pick(history.length)]!;
      let event = original.event;
      if (spec.withId && random() < 0.3) {
        // a retry whose payload changed: the id alone decides
        event = { ...event, temperature_c: (event.temperature_c as number) + 0.5 };
      }
      push(
        { partition, key: String(original.event.device), value: encode(event, random), kind: 'duplicate' },
        null,
      );
      continue;
    }
    if (roll < spec.poisonRate + spec.duplicateRate + spec.nearDuplicateRate && history.length > 0) {
      // differs from a recent reading in one field: a reading of its own
      const original = history[pick(history.length)]!;
      const event = { ...original.event };
      if (spec.withId) event.reading_id = `near-${i}`;
      if (random() < 0.5) event.firmware = event.firmware === 'v1' ? 'v2' : 'v1';
      else event.temperature_c = (event.temperature_c as number) + 0.25;
      if (identities[partition]!.has(identityOf(event))) continue;
      nearDuplicates++;
      push({ partition, key: String(event.device), value: encode(event, random), kind: 'valid' }, event);
      history.push({ event });
      continue;
    }
    const warm = seen[partition]! > 100;
    if (roll < spec.poisonRate + spec.duplicateRate + spec.nearDuplicateRate + spec.lateRate && warm) {
      const event = fresh(`late-${i}`, time - spec.lateByMs, device, partition);
      // not applied, but the dedup window remembers it (dedup comes before the lateness check)
      messages.push({ partition, key: device, value: encode(event, random), kind: 'late' });
      counts.late++;
      seen[partition]!++;
      identities[partition]!.add(identityOf(event));
      continue;
    }
    const outOfOrder = roll > 1 - spec.outOfOrderRate;
    const ts = outOfOrder ? time - 1 - pick(spec.outOfOrderMaxMs) : time;
    const event = fresh(`r-${i}`, ts, device, partition);
    push({ partition, key: device, value: encode(event, random), kind: 'valid' }, event);
    history.push({ event });
    if (history.length > 20) history.shift();
  }

  const sentinelDevices = new Set<string>();
  for (let partition = 0; partition < spec.partitions; partition++) {
    let n = 0;
    let device = `sentinel-${partition}-${n}`;
    while (partitionOf(device, spec.partitions) !== partition) device = `sentinel-${partition}-${++n}`;
    sentinelDevices.add(device);
    const event = fresh(`sentinel-${partition}`, lastTime + spec.sentinelAfterMs, device, partition);
    push({ partition, key: device, value: encode(event, random), kind: 'sentinel' }, event);
  }
  return { messages, accepted, sentinelDevices, counts, poisonByKind, nearDuplicates };
}

/** Devices belong to one site. */
export function siteOf(device: string, sites: number): string {
  let hash = 0;
  for (let i = 0; i < device.length; i++) hash = (hash * 31 + device.charCodeAt(i)) >>> 0;
  return `site-${hash % sites}`;
}

/**
 * The JSON of a normalized reading, written one of several equivalent ways: keys in another order,
 * the time as a string of digits, the temperature with trailing zeros, the default firmware left out.
 */
function encode(event: Record<string, string | number>, random: () => number): Buffer {
  const entries: string[] = [];
  for (const [name, value] of Object.entries(event)) {
    if (name === 'firmware' && value === 'v1' && random() < 0.4) continue;
    let text = JSON.stringify(value);
    if (name === 'ts' && random() < 0.3) text = JSON.stringify(String(value));
    if (name === 'temperature_c' && random() < 0.3) text = (value as number).toFixed(3);
    entries.push(`${JSON.stringify(name)}:${text}`);
  }
  if (random() < 0.3) entries.reverse();
  return Buffer.from(`{${entries.join(',')}}`);
}

function poison(
  kind: IotPoisonKind,
  i: number,
  time: number,
  device: string,
  spec: IotStreamOptions,
): Buffer {
  const base: Record<string, unknown> = {
    ...(spec.withId ? { reading_id: `poison-${i}` } : {}),
    ts: time,
    site: 'site-x',
    device,
    temperature_c: 20,
  };
  switch (kind) {
    case 'invalid-json':
      return Buffer.from(`{"ts": ${time}, "site": "site-x", `);
    case 'invalid-utf8':
      return Buffer.concat([
        Buffer.from(`{"ts":${time},"site":"s`),
        Buffer.from([0xff, 0xfe, 0xc3]),
        Buffer.from(`","device":"${device}","temperature_c":1}`),
      ]);
    case 'wrong-type':
      return Buffer.from(JSON.stringify({ ...base, temperature_c: '20.5' }));
    case 'out-of-range':
      return Buffer.from(JSON.stringify({ ...base, temperature_c: i % 2 === 0 ? 151 : -90.25 }));
    case 'missing-field': {
      const { site: _dropped, ...rest } = base;
      return Buffer.from(JSON.stringify(rest));
    }
    case 'null-field':
      return Buffer.from(JSON.stringify({ ...base, device: null }));
    case 'bad-time':
      return Buffer.from(JSON.stringify({ ...base, ts: i % 2 === 0 ? 'yesterday' : time + 0.5 }));
    case 'far-future':
      return Buffer.from(JSON.stringify({ ...base, ts: spec.nowMs + 365 * 86_400_000 }));
    case 'oversize':
      return Buffer.from(JSON.stringify({ ...base, device: 'x'.repeat(spec.maxBytes + 10) }));
    case 'not-an-object':
      return Buffer.from(JSON.stringify([base]));
    case 'empty':
      return Buffer.alloc(0);
  }
}

// Synthetic traffic for any stream, driven by its schema alone: a pure, seeded generator of valid
// events (every keyword satisfied, optional fields and defaults left out now and then, the event
// time in the stream's encoding, unique ids when the stream has an id field) plus the faults a real
// stream carries — producer-retry duplicates, late events and invalid events that each break one
// rule. Every message carries its truth: the normalized event core must produce, or the verdict.
// The web stream keeps its richer simulation (traffic.ts); this one knows nothing but the schema.
import type { Stream, StreamEvent, StreamField, StreamScalar } from '@tandem/core';
import { createRandom, hashString, type Random } from './random.ts';
import {
  applicableBadKinds,
  badKindFields,
  DEFAULT_MAX_EVENT_BYTES,
  type ExpectedRejection,
  makeStreamPoison,
  type StreamBadKind,
} from './stream-poison.ts';
import { allowedEnum, encodeTime, integerRange, randomFieldValue, unsatisfiable } from './stream-values.ts';
import type { TrafficLabel } from './traffic.ts';

/** One message of a generated stream, in send order. */
export interface StreamTrafficRecord {
  /** Position in the stream, from 0. */
  seq: number;
  /** When a live producer sends it, epoch ms. */
  sendAt: number;
  /** Kafka message key. */
  key: string;
  /** The exact bytes on the wire. */
  value: Uint8Array;
  label: TrafficLabel;
  /** The event as core's validator must normalize it; null for bad messages. */
  event: StreamEvent | null;
  /**
   * What makes two events the same for dedup: the id field's value (as JSON) when the stream has
   * one, else the canonical JSON of the normalized event (fields in declaration order). Null for bad.
   */
  identity: string | null;
  /** For bad messages: the kind and the verdict (code, field, rule) the validator must give. */
  bad: ExpectedRejection | null;
}

/** Options of {@link generateStreamTraffic}; equal options give an identical stream. */
export interface StreamTrafficOptions {
  seed: number;
  /** Event time (and send time) of the first event, epoch ms. */
  start: number;
  /** On-time events to generate (or bad ones, with `onlyBad`); faults come on top. */
  count: number;
  /** On-time events per second (send times, and event times with them). @defaultValue 50 */
  rate: number;
  /** Producer-retry duplicates per on-time event. @defaultValue 0 */
  duplicateRatio: number;
  /** Late events per on-time event. @defaultValue 0 */
  lateRatio: number;
  /** How far behind the stream a late event's time is. @defaultValue 3_600_000 */
  lateByMs: number;
  /** Invalid messages per on-time event; kinds are cycled so every applicable kind appears. @defaultValue 0 */
  badRatio: number;
  /** Only invalid messages: `count` of them, no valid events. @defaultValue false */
  onlyBad: boolean;
  /** Restrict invalid messages to these kinds (those the schema can break). @defaultValue all */
  badKinds: readonly StreamBadKind[] | null;
  /** On-time events are stamped up to this much before they are sent. @defaultValue 5_000 */
  maxJitterMs: number;
  /** Distinct Kafka keys. @defaultValue 64 */
  keys: number;
  /** The validators' size limit: valid events stay below it, `too_large` goes above. @defaultValue 65536 */
  maxEventBytes: number;
  /** Prefix of string ids and keys; derived from seed and start when null. @defaultValue null */
  idPrefix: string | null;
  /**
   * Distinct values of each string and integer field other than the id and time fields (drawn
   * once, then picked with a skew), as the dimensions of real traffic have: sites, devices,
   * endpoints. 0 draws every value afresh. @defaultValue 0
   */
  valuePool: number;
}

export const defaultStreamTrafficOptions: Omit<StreamTrafficOptions, 'start' | 'count'> = {
  seed: 1,
  rate: 50,
  duplicateRatio: 0,
  lateRatio: 0,
  lateByMs: 3_600_000,
  badRatio: 0,
  onlyBad: false,
  badKinds: null,
  maxJitterMs: 5_000,
  keys: 64,
  maxEventBytes: DEFAULT_MAX_EVENT_BYTES,
  idPrefix: null,
  valuePool: 0,
};

/** Checks options and fills defaults; throws a RangeError naming the option and what is accepted. */
export function resolveStreamTrafficOptions(
  options: Partial<StreamTrafficOptions> & { start: number; count: number },
): StreamTrafficOptions {
  const o: StreamTrafficOptions = { ...defaultStreamTrafficOptions, ...options };
  const check = (ok: boolean, name: keyof StreamTrafficOptions, accepted: string): void => {
    if (!ok) throw new RangeError(`stream traffic option ${name} = ${String(o[name])}: expected ${accepted}`);
  };
  check(Number.isSafeInteger(o.start) && o.start >= 0, 'start', 'epoch milliseconds');
  check(Number.isInteger(o.seed), 'seed', 'an integer');
  check(Number.isSafeInteger(o.count) && o.count >= 0, 'count', 'a non-negative integer');
  check(Number.isFinite(o.rate) && o.rate > 0, 'rate', 'a positive number of events/s');
  check(Number.isSafeInteger(o.valuePool) && o.valuePool >= 0, 'valuePool', 'a non-negative integer');
  for (const name of ['duplicateRatio', 'lateRatio', 'badRatio'] as const) {
    check(o[name] >= 0 && o[name] <= 1, name, 'a ratio from 0 to 1');
  }
  check(o.maxJitterMs >= 0, 'maxJitterMs', 'a non-negative number');
  check(o.lateByMs > o.maxJitterMs, 'lateByMs', 'more than maxJitterMs');
  check(Number.isInteger(o.keys) && o.keys >= 1, 'keys', 'a positive integer');
  check(Number.isInteger(o.maxEventBytes) && o.maxEventBytes >= 256, 'maxEventBytes', 'at least 256');
  return o;
}

/** Throws a RangeError naming the field when no valid event of the stream can be generated. */
export function assertGeneratable(stream: Stream): void {
  for (const field of stream.fields) {
    const why = unsatisfiable(field);
    if (why !== null) throw new RangeError(`stream "${stream.name}": ${why}`);
  }
}

/** Unique values of the id field: counter-based strings or integers within the field's rules. */
class IdSource {
  readonly #field: StreamField;
  readonly #prefix: string;
  readonly #integerBase: number;
  readonly #capacity: number;
  #next = 0;

  constructor(field: StreamField, prefix: string, salt: number) {
    this.#field = field;
    this.#prefix = prefix;
    if (field.enum !== null) {
      this.#capacity = allowedEnum(field)!.length;
      this.#integerBase = 0;
    } else if (field.type === 'integer') {
      const range = integerRange(field)!;
      const span = range.hi - range.lo + 1;
      // Start at a salted offset when the range allows, so two runs do not reuse each other's ids.
      const room = Math.max(0, span - 1_000_000_000);
      this.#integerBase = range.lo + (room > 0 ? salt % Math.min(room, 2 ** 31) : 0);
      this.#capacity = range.hi - this.#integerBase + 1;
    } else {
      this.#integerBase = 0;
      const max = field.maxLength ?? Number.POSITIVE_INFINITY;
      this.#capacity = max >= 12 ? Number.POSITIVE_INFINITY : 36 ** max;
    }
  }

  next(): StreamScalar {
    const n = this.#next++;
    if (n >= this.#capacity) {
      throw new RangeError(
        `the id field "${this.#field.name}" admits only ${this.#capacity} distinct values; generate fewer events`,
      );
    }
    const field = this.#field;
    if (field.enum !== null) return allowedEnum(field)![n]!;
    if (field.type === 'integer') return this.#integerBase + n;
    const min = field.minLength ?? 0;
    const max = field.maxLength ?? Number.POSITIVE_INFINITY;
    let id = `${this.#prefix}-${n.toString(36)}`;
    if (id.length > max) id = n.toString(36);
    // `_` is not a base-36 digit, so padding keeps ids distinct.
    if (id.length < min) id = id.padEnd(min, '_');
    return id;
  }
}

/** A binary min-heap by (at, order): messages waiting for their send time. */
class Agenda<T> {
  readonly #items: Array<{ at: number; order: number; item: T }> = [];
  #order = 0;

  get size(): number {
    return this.#items.length;
  }

  peekAt(): number {
    return this.#items[0]?.at ?? Number.POSITIVE_INFINITY;
  }

  push(at: number, item: T): void {
    const items = this.#items;
    items.push({ at, order: this.#order++, item });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(i, parent)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && this.#before(left, smallest)) smallest = left;
        if (right < items.length && this.#before(right, smallest)) smallest = right;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest]!, items[i]!];
        i = smallest;
      }
    }
    return top?.item;
  }

  #before(a: number, b: number): boolean {
    const x = this.#items[a]!;
    const y = this.#items[b]!;
    return x.at < y.at || (x.at === y.at && x.order < y.order);
  }
}

const encoder = new TextEncoder();

/**
 * Sets an own property, whatever the name: a field may be called `__proto__` or `constructor`, and
 * `obj[name] = value` would then change the object's prototype instead.
 */
export function put(obj: object, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    // Every other inherited name (constructor, toString, …) is a writable data property, so an
    // assignment makes an own one.
    (obj as Record<string, unknown>)[key] = value;
  }
}

/** An own property's value, or undefined (never one inherited from Object.prototype). */
export function own(obj: object, key: string): unknown {
  return Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
}

/** The normalized form of a stream event as canonical JSON: the dedup identity of id-less streams. */
export function canonicalEvent(stream: Stream, event: StreamEvent): string {
  let out = '{';
  for (const [i, field] of stream.fields.entries()) {
    out += `${i === 0 ? '' : ','}${JSON.stringify(field.name)}:${JSON.stringify(own(event, field.name) ?? null)}`;
  }
  return `${out}}`;
}

/** The dedup identity of a normalized event (see {@link StreamTrafficRecord.identity}). */
export function eventIdentity(stream: Stream, event: StreamEvent): string {
  return stream.idField !== null ? JSON.stringify(own(event, stream.idField)) : canonicalEvent(stream, event);
}

/**
 * Builds one valid event: the wire object (fields in declaration order, optional ones sometimes
 * left out or null) and the normalized event core must produce from it.
 */
function buildEvent(
  random: Random,
  stream: Stream,
  eventTime: number,
  id: StreamScalar | null,
  pools: ReadonlyMap<string, readonly StreamScalar[]> | null = null,
): { wire: Record<string, unknown>; event: StreamEvent } {
  const wire: Record<string, unknown> = {};
  const event: Record<string, string | number | boolean | null> = {};
  for (const field of stream.fields) {
    if (field.name === stream.timeField) {
      const time = encodeTime(random, stream, eventTime);
      put(wire, field.name, time.wire);
      put(event, field.name, time.ms);
      continue;
    }
    if (field.name === stream.idField && id !== null) {
      put(wire, field.name, id);
      put(event, field.name, id);
      continue;
    }
    if (!field.required) {
      const roll = random.next();
      // Left out (more often when a default fills in), or an explicit null: both mean the default.
      if (roll < (field.default === null ? 0.2 : 0.3)) {
        put(event, field.name, field.default);
        continue;
      }
      if (roll < (field.default === null ? 0.3 : 0.4)) {
        put(wire, field.name, null);
        put(event, field.name, field.default);
        continue;
      }
    } else if (field.nullable && random.chance(0.15)) {
      put(wire, field.name, null);
      put(event, field.name, null);
      continue;
    }
    const pool = pools?.get(field.name);
    // Squaring skews the pick towards the pool's first values, as real dimensions are skewed.
    const value =
      pool === undefined
        ? randomFieldValue(random, field)
        : pool[Math.floor(random.next() ** 2 * pool.length)]!;
    put(wire, field.name, value);
    put(event, field.name, value);
  }
  return { wire, event };
}

/** Up to `size` distinct valid values per string and integer field (not the id or time field). */
function valuePools(random: Random, stream: Stream, size: number): Map<string, StreamScalar[]> {
  const pools = new Map<string, StreamScalar[]>();
  for (const field of stream.fields) {
    if (field.name === stream.timeField || field.name === stream.idField) continue;
    if (field.type !== 'string' && field.type !== 'integer') continue;
    if (allowedEnum(field) !== null) continue;
    const values = new Set<StreamScalar>();
    for (let attempt = 0; values.size < size && attempt < size * 4; attempt++)
      values.add(randomFieldValue(random, field));
    pools.set(field.name, [...values]);
  }
  return pools;
}

/**
 * Generates the stream, lazily and in send order. Pure: the same stream and options give the same
 * records, byte for byte. Throws a RangeError (before the first record) when the schema admits no
 * event, and while generating when the id field runs out of distinct values.
 */
export function* generateStreamTraffic(
  stream: Stream,
  options: Partial<StreamTrafficOptions> & { start: number; count: number },
): Generator<StreamTrafficRecord, void, undefined> {
  const o = resolveStreamTrafficOptions(options);
  assertGeneratable(stream);
  const root = createRandom(o.seed ^ hashString(stream.fingerprint));
  const arrivals = root.fork('arrivals');
  const events = root.fork('events');
  const faults = root.fork('faults');
  const pools = o.valuePool > 0 ? valuePools(root.fork('pools'), stream, o.valuePool) : null;
  const prefix = o.idPrefix ?? `g${hashString(`${o.seed}:${o.start}:${stream.name}`).toString(36)}`;
  const idField = stream.idField === null ? null : stream.fields.find((f) => f.name === stream.idField)!;
  const ids = idField === null ? null : new IdSource(idField, prefix, hashString(prefix));
  const kinds = (o.badKinds ?? applicableBadKinds(stream, root.fork('kinds'))).filter(
    (kind) => badKindFields(stream, kind, root.fork('probe')).length > 0,
  );
  if ((o.onlyBad || o.badRatio > 0) && kinds.length === 0) {
    throw new RangeError(`stream "${stream.name}": none of the requested kinds of invalid event applies`);
  }
  // Id-less streams: two events with equal fields are one event to the platform, so a chance
  // repeat is redrawn (or, if it keeps repeating, labelled a duplicate).
  const seen = idField === null ? new Set<string>() : null;
  const agenda = new Agenda<Omit<StreamTrafficRecord, 'seq'>>();
  let seq = 0;
  let kindCursor = 0;

  const fresh = (random: Random, eventTime: number) => {
    for (let attempt = 0; ; attempt++) {
      const built = buildEvent(random, stream, eventTime, ids === null ? null : ids.next(), pools);
      const identity = eventIdentity(stream, built.event);
      const repeated = seen?.has(identity) ?? false;
      if (!repeated || attempt >= 4) {
        seen?.add(identity);
        return { ...built, identity, repeated };
      }
    }
  };

  const poison = (sendAt: number, key: string): Omit<StreamTrafficRecord, 'seq'> => {
    for (let attempt = 0; ; attempt++) {
      const kind = kinds[kindCursor++ % kinds.length]!;
      const fields = badKindFields(stream, kind, faults);
      const field = fields[faults.int(fields.length)] ?? null;
      const eventTime = Math.max(o.start, Math.round(sendAt - faults.next() * o.maxJitterMs));
      // Any valid id will do: the event is rejected, so it takes none of the unique ones.
      const base = buildEvent(faults, stream, eventTime, null);
      // The base event carries every field, so the one broken rule is the only one.
      const full = { ...base.wire };
      for (const f of stream.fields) {
        if (own(full, f.name) === undefined || own(full, f.name) === null) {
          if (f.name === stream.timeField || (f.required && !f.nullable)) continue;
          put(full, f.name, randomFieldValue(faults, f));
        }
      }
      const made = makeStreamPoison(
        faults,
        stream,
        kind,
        field,
        orderLike(stream, full),
        sendAt,
        o.maxEventBytes,
      );
      if (made !== null)
        return {
          sendAt: Math.round(sendAt),
          key,
          value: made.value,
          label: 'bad',
          event: null,
          identity: null,
          bad: made.expected,
        };
      if (attempt > kinds.length * 2)
        throw new RangeError(`stream "${stream.name}": no invalid event could be built`);
    }
  };

  let sendAt = o.start;
  for (let i = 0; i < o.count; i++) {
    sendAt += arrivals.exponential(1000 / o.rate);
    const key = `${prefix}-k${arrivals.int(o.keys)}`;
    // Release what is due before this send time (retries scheduled earlier).
    while (agenda.peekAt() <= sendAt) yield { seq: seq++, ...agenda.pop()! };
    if (o.onlyBad) {
      yield { seq: seq++, ...poison(sendAt, key) };
      continue;
    }
    const eventTime = Math.max(o.start, Math.round(sendAt - events.next() * o.maxJitterMs));
    const built = fresh(events, eventTime);
    const value = encoder.encode(JSON.stringify(built.wire));
    const record: Omit<StreamTrafficRecord, 'seq'> = {
      sendAt: Math.round(sendAt),
      key,
      value,
      label: built.repeated ? 'duplicate' : 'valid',
      event: built.event,
      identity: built.identity,
      bad: null,
    };
    yield { seq: seq++, ...record };
    if (faults.chance(o.duplicateRatio)) {
      const resendAt = sendAt + 50 + faults.next() * 1_950;
      agenda.push(resendAt, { ...record, sendAt: Math.round(resendAt), label: 'duplicate' });
    }
    // A late event follows an on-time event of the same key, so it reaches the same partition
    // right behind it, further back than the watermark allows.
    if (faults.chance(o.lateRatio)) {
      const lateTime = Math.round(sendAt - o.lateByMs - faults.next() * 60_000);
      if (lateTime >= o.start) {
        const late = fresh(faults, lateTime);
        yield {
          seq: seq++,
          sendAt: Math.round(sendAt),
          key,
          value: encoder.encode(JSON.stringify(late.wire)),
          label: late.repeated ? 'duplicate' : 'late',
          event: late.event,
          identity: late.identity,
          bad: null,
        };
      }
    }
    if (faults.chance(o.badRatio)) yield { seq: seq++, ...poison(sendAt, key) };
  }
  while (agenda.size > 0) yield { seq: seq++, ...agenda.pop()! };
}

/** The object with the stream's fields first, in declaration order (as producers serialize them). */
function orderLike(stream: Stream, wire: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of stream.fields) {
    const value = own(wire, field.name);
    if (value !== undefined) put(out, field.name, value);
  }
  return out;
}

/** Expected number of messages for the options (all labels), for progress displays. */
export function expectedStreamMessages(
  options: Partial<StreamTrafficOptions> & { start: number; count: number },
): number {
  const o = resolveStreamTrafficOptions(options);
  if (o.onlyBad) return o.count;
  return Math.round(o.count * (1 + o.duplicateRatio + o.lateRatio + o.badRatio));
}

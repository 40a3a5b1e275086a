// The traffic model behind `tandem generate`, the demo, the tests and the benchmarks: a pure,
// seeded generator of HTTP/click events (Zipf-skewed endpoints, user sessions with page views, a
// diurnal rate curve) that also says, for every message, whether the platform should count it,
// treat it as late, drop it as a duplicate, or dead-letter it.
import type { TandemEvent } from '@tandem/core';
import { buildEndpointCatalog, type EndpointProfile } from './catalog.ts';
import { makePoison, type PoisonKind, poisonKinds } from './poison.ts';
import { createRandom, hashString, type Random, ZipfSampler } from './random.ts';

/** What the platform should do with a generated message. */
export type TrafficLabel =
  /** A valid event on time: both layers count it. */
  | 'valid'
  /** A valid event further behind the stream than the allowed lateness: the speed layer sends it
   * to the late topic and leaves it out; the batch layer counts it. */
  | 'late'
  /** A byte-identical resend of an earlier valid event (a producer retry): nobody counts it twice. */
  | 'duplicate'
  /** A message that fails validation: it belongs in the dead-letter queue. */
  | 'bad';

/** One message of the generated stream, in send order. */
export interface TrafficRecord {
  /** Position in the stream, from 0. */
  seq: number;
  /** When a live producer sends it, epoch ms (the simulated wall clock). */
  sendAt: number;
  /** Kafka message key: the user id, or the event id for anonymous traffic. */
  key: string;
  /** The exact bytes on the wire. */
  value: Uint8Array;
  label: TrafficLabel;
  /** The event id inside the message (null only for poison that has none to read). */
  eventId: string | null;
  /** The event as the core parser should normalize it; null for poison. */
  event: TandemEvent | null;
  /** The poison kind, for `bad` records. */
  poison: PoisonKind | null;
}

/** Options of {@link generateTraffic}. Everything that changes the output is here, so equal
 * options give an identical stream. */
export interface TrafficOptions {
  /** @defaultValue 1 */
  seed: number;
  /** Event time of the stream's first instant, epoch ms. */
  start: number;
  /** Length of the stream in event time. @defaultValue 60_000 */
  durationMs: number;
  /** Mean on-time valid events per second over a day (the diurnal curve moves around it). @defaultValue 50 */
  rate: number;
  /** Distinct endpoints of the simulated site. @defaultValue 40 */
  endpoints: number;
  /** Distinct users. @defaultValue 500 */
  users: number;
  /** Late events per on-time event. @defaultValue 0 */
  lateRatio: number;
  /** Producer-retry duplicates per on-time event. @defaultValue 0 */
  duplicateRatio: number;
  /** Poison messages per on-time event; kinds are cycled so every kind appears. @defaultValue 0 */
  badRatio: number;
  /** How far behind the stream a late event's time is. Must exceed the speed layer's
   * out-of-orderness plus allowed lateness plus `maxJitterMs`. @defaultValue 3_600_000 */
  lateByMs: number;
  /** On-time events are stamped up to this much before they are sent (out of order within the
   * watermark's bound). @defaultValue 5_000 */
  maxJitterMs: number;
  /** Relative swing of the rate over the day, 0 for flat; peak at 12:00 UTC. @defaultValue 0.5 */
  diurnalAmplitude: number;
  /** Zipf exponent over endpoints. @defaultValue 1.1 */
  endpointSkew: number;
  /** Zipf exponent over users. @defaultValue 0.8 */
  userSkew: number;
  /** Share of sessions with no user (crawlers, health checks). @defaultValue 0.05 */
  anonymousRatio: number;
  /** Prefix of every event id, session id; derived from seed and start when null. @defaultValue null */
  idPrefix: string | null;
}

/** Defaults of {@link TrafficOptions} (without `start`, which has no sensible default in a pure function). */
export const defaultTrafficOptions: Omit<TrafficOptions, 'start'> = {
  seed: 1,
  durationMs: 60_000,
  rate: 50,
  endpoints: 40,
  users: 500,
  lateRatio: 0,
  duplicateRatio: 0,
  badRatio: 0,
  lateByMs: 3_600_000,
  maxJitterMs: 5_000,
  diurnalAmplitude: 0.5,
  endpointSkew: 1.1,
  userSkew: 0.8,
  anonymousRatio: 0.05,
  idPrefix: null,
};

const BOUNCE_RATE = 0.3;
const MEAN_EXTRA_PAGES = 4;
const MEAN_PAGE_GAP_MS = 20_000;
const MAX_PAGE_GAP_MS = 10 * 60_000;
const WARMUP_MS = 15 * 60_000;
// Mean events per session: bounces have 1; others 2 + floor(Exp(MEAN_EXTRA_PAGES)).
const MEAN_EVENTS_PER_SESSION =
  BOUNCE_RATE + (1 - BOUNCE_RATE) * (2 + 1 / (Math.exp(1 / MEAN_EXTRA_PAGES) - 1));

/** The diurnal multiplier of the mean rate at time t: 1 ± amplitude, peak at 12:00 UTC. */
export function diurnalFactor(t: number, amplitude: number): number {
  const hourOfDay = (((t % 86_400_000) + 86_400_000) % 86_400_000) / 3_600_000;
  return 1 + amplitude * Math.sin((2 * Math.PI * (hourOfDay - 6)) / 24);
}

/** Checks options and fills defaults; throws a RangeError naming the option and what is accepted. */
export function resolveTrafficOptions(options: Partial<TrafficOptions> & { start: number }): TrafficOptions {
  const resolved: TrafficOptions = { ...defaultTrafficOptions, ...options };
  const check = (ok: boolean, name: keyof TrafficOptions, accepted: string): void => {
    if (!ok) throw new RangeError(`traffic option ${name} = ${String(resolved[name])}: expected ${accepted}`);
  };
  check(Number.isFinite(resolved.start), 'start', 'epoch milliseconds');
  check(Number.isInteger(resolved.seed), 'seed', 'an integer');
  check(Number.isFinite(resolved.durationMs) && resolved.durationMs > 0, 'durationMs', 'a positive number');
  check(Number.isFinite(resolved.rate) && resolved.rate > 0, 'rate', 'a positive number of events/s');
  check(
    Number.isInteger(resolved.endpoints) && resolved.endpoints >= 1 && resolved.endpoints <= 100_000,
    'endpoints',
    'an integer from 1 to 100000',
  );
  check(
    Number.isInteger(resolved.users) && resolved.users >= 1 && resolved.users <= 10_000_000,
    'users',
    'an integer from 1 to 10000000',
  );
  for (const name of ['lateRatio', 'duplicateRatio', 'badRatio', 'anonymousRatio'] as const) {
    check(resolved[name] >= 0 && resolved[name] <= 1, name, 'a ratio from 0 to 1');
  }
  check(resolved.diurnalAmplitude >= 0 && resolved.diurnalAmplitude < 1, 'diurnalAmplitude', 'from 0 to <1');
  check(resolved.maxJitterMs >= 0, 'maxJitterMs', 'a non-negative number');
  check(resolved.lateByMs > resolved.maxJitterMs, 'lateByMs', 'more than maxJitterMs');
  return resolved;
}

interface Session {
  id: string | null;
  user: string | null;
  pagesLeft: number;
}

interface Pending {
  at: number;
  order: number;
  session: Session | null;
  record: Omit<TrafficRecord, 'seq'> | null;
}

/** A binary min-heap by (at, order): the simulation's agenda. */
class Agenda {
  readonly #items: Pending[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): Pending | undefined {
    return this.#items[0];
  }

  push(item: Pending): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!Agenda.#before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): Pending | undefined {
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
        if (left < items.length && Agenda.#before(items[left]!, items[smallest]!)) smallest = left;
        if (right < items.length && Agenda.#before(items[right]!, items[smallest]!)) smallest = right;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest]!, items[i]!];
        i = smallest;
      }
    }
    return top;
  }

  static #before(a: Pending, b: Pending): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }
}

const encoder = new TextEncoder();

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** ISO-8601 with an explicit non-UTC offset, as some producers send it. */
function isoWithOffset(ts: number, offsetMinutes: number): string {
  const shifted = new Date(ts + offsetMinutes * 60_000);
  const sign = offsetMinutes >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  return (
    `${shifted.getUTCFullYear()}-${pad(shifted.getUTCMonth() + 1)}-${pad(shifted.getUTCDate())}` +
    `T${pad(shifted.getUTCHours())}:${pad(shifted.getUTCMinutes())}:${pad(shifted.getUTCSeconds())}` +
    `.${pad(shifted.getUTCMilliseconds(), 3)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

/**
 * Generates the stream, lazily and in send order. Pure: the same options give the same records,
 * byte for byte. Memory stays bounded by the number of concurrently open sessions.
 */
export function* generateTraffic(
  options: Partial<TrafficOptions> & { start: number },
): Generator<TrafficRecord, void, undefined> {
  const o = resolveTrafficOptions(options);
  const root = createRandom(o.seed);
  const catalog = buildEndpointCatalog(o.endpoints, root.fork('catalog'));
  const endpointZipf = new ZipfSampler(o.endpoints, o.endpointSkew);
  const userZipf = new ZipfSampler(o.users, o.userSkew);
  const arrivals = root.fork('arrivals');
  const sessions = root.fork('sessions');
  const events = root.fork('events');
  const faults = root.fork('faults');
  const prefix = o.idPrefix ?? `g${hashString(`${o.seed}:${o.start}`).toString(36)}`;
  const end = o.start + o.durationMs;
  const agenda = new Agenda();
  let order = 0;
  let seq = 0;
  let eventCounter = 0;
  let sessionCounter = 0;
  let poisonCursor = 0;

  const sessionRateAt = (t: number): number =>
    (o.rate * diurnalFactor(t, o.diurnalAmplitude)) / MEAN_EVENTS_PER_SESSION / 1000;
  // Sessions start arriving WARMUP_MS before the stream, so it opens in steady state (mid-session
  // users included) instead of ramping up; their events before the start are not emitted.
  const warmupFrom = o.start - WARMUP_MS;
  let nextSessionAt = warmupFrom + arrivals.exponential(1 / sessionRateAt(warmupFrom));

  const buildEvent = (
    random: Random,
    session: Session,
    eventTime: number,
  ): { wire: Record<string, unknown>; event: TandemEvent } => {
    const endpoint: EndpointProfile = catalog[endpointZipf.sample(random)]!;
    const roll = random.next();
    let status: number;
    if (roll < endpoint.serverErrorRate) status = [500, 502, 503, 504][random.int(4)]!;
    else if (roll < endpoint.serverErrorRate + endpoint.clientErrorRate)
      status = [400, 401, 403, 404, 429][random.int(5)]!;
    else if (endpoint.method === 'POST') status = random.chance(0.6) ? 201 : 200;
    else status = random.chance(0.04) ? 304 : 200;
    const slow = status >= 500 ? 3 : 1;
    const latency = Math.round(random.logNormal(endpoint.medianLatencyMs * slow, 0.55) * 10) / 10;
    const bytes = status === 304 ? 0 : Math.round(random.logNormal(endpoint.medianBytes, 0.4));
    const eventId = `${prefix}-${(eventCounter++).toString(36)}`;
    const formatRoll = random.next();
    const timestamp: string | number =
      formatRoll < 0.8
        ? new Date(eventTime).toISOString()
        : formatRoll < 0.9
          ? isoWithOffset(eventTime, 120)
          : eventTime;
    const omitMethod = endpoint.method === 'GET' && random.chance(0.1);
    const omitBytes = random.chance(0.08);
    const wire: Record<string, unknown> = { event_id: eventId, timestamp, endpoint: endpoint.path };
    if (!omitMethod) wire.method = endpoint.method;
    wire.status_code = status;
    wire.response_time_ms = latency;
    if (!omitBytes) wire.bytes_sent = bytes;
    if (session.user !== null) wire.user_id = session.user;
    if (session.id !== null) wire.session_id = session.id;
    if (endpoint.pageId !== null) wire.page_id = endpoint.pageId;
    const event: TandemEvent = {
      event_id: eventId,
      timestamp: eventTime,
      endpoint: endpoint.path,
      method: endpoint.method,
      status_code: status,
      response_time_ms: latency,
      bytes_sent: omitBytes ? null : bytes,
      user_id: session.user,
      session_id: session.id,
      page_id: endpoint.pageId,
    };
    return { wire, event };
  };

  const schedule = (at: number, session: Session | null, record: Omit<TrafficRecord, 'seq'> | null): void => {
    agenda.push({ at, order: order++, session, record });
  };

  for (;;) {
    const top = agenda.peek();
    if (nextSessionAt < end && (top === undefined || nextSessionAt <= top.at)) {
      const anonymous = sessions.chance(o.anonymousRatio);
      const bounce = sessions.chance(BOUNCE_RATE);
      const session: Session = {
        id: anonymous ? null : `${prefix}-s${(sessionCounter++).toString(36)}`,
        user: anonymous ? null : `user-${userZipf.sample(sessions) + 1}`,
        pagesLeft: bounce ? 1 : 2 + Math.floor(sessions.exponential(MEAN_EXTRA_PAGES)),
      };
      schedule(nextSessionAt, session, null);
      nextSessionAt += arrivals.exponential(1 / sessionRateAt(nextSessionAt));
      continue;
    }
    const item = agenda.pop();
    if (item === undefined) return;
    if (item.record !== null) {
      yield { seq: seq++, ...item.record };
      continue;
    }
    const session = item.session!;
    const now = item.at;
    if (now < o.start) {
      session.pagesLeft -= 1;
      if (session.pagesLeft > 0) {
        schedule(
          now + Math.min(MAX_PAGE_GAP_MS, 500 + sessions.exponential(MEAN_PAGE_GAP_MS)),
          session,
          null,
        );
      }
      continue;
    }
    // Clamped to the start so a stream (or a lake backfill) never reaches into the hour before it.
    const eventTime = Math.max(o.start, Math.round(now - events.next() * o.maxJitterMs));
    const { wire, event } = buildEvent(events, session, eventTime);
    const key = session.user ?? event.event_id;
    const value = encoder.encode(JSON.stringify(wire));
    yield {
      seq: seq++,
      sendAt: Math.round(now),
      key,
      value,
      label: 'valid',
      eventId: event.event_id,
      event,
      poison: null,
    };

    // Faults follow the on-time event of the same key, so they reach the same Kafka partition
    // right after it: a late event is then behind that partition's watermark whatever the
    // consumer's batching, as long as lateByMs exceeds the bound plus the allowed lateness.
    if (faults.chance(o.duplicateRatio)) {
      const resendAt = now + 50 + faults.next() * 1_950;
      schedule(resendAt, null, {
        sendAt: Math.round(resendAt),
        key,
        value,
        label: 'duplicate',
        eventId: event.event_id,
        event,
        poison: null,
      });
    }
    if (session.user !== null && faults.chance(o.lateRatio)) {
      const lateTime = Math.round(now - o.lateByMs - faults.next() * 60_000);
      // Never before the stream's start: a late event needs a watermark ahead of it, and a lake
      // backfill must not write into hours outside the requested range.
      if (lateTime >= o.start) {
        const late = buildEvent(faults, session, lateTime);
        yield {
          seq: seq++,
          sendAt: Math.round(now),
          key,
          value: encoder.encode(JSON.stringify(late.wire)),
          label: 'late',
          eventId: late.event.event_id,
          event: late.event,
          poison: null,
        };
      }
    }
    if (faults.chance(o.badRatio)) {
      const kind = poisonKinds[poisonCursor++ % poisonKinds.length]!;
      const victim = buildEvent(faults, session, eventTime);
      yield {
        seq: seq++,
        sendAt: Math.round(now),
        key,
        value: makePoison(kind, victim.wire, now),
        label: 'bad',
        eventId: victim.event.event_id,
        event: null,
        poison: kind,
      };
    }

    session.pagesLeft -= 1;
    if (session.pagesLeft > 0) {
      const next = now + Math.min(MAX_PAGE_GAP_MS, 500 + sessions.exponential(MEAN_PAGE_GAP_MS));
      if (next < end) schedule(next, session, null);
    }
  }
}

/** Expected number of messages (all labels) for the options: the diurnal rate integrated over the range. */
export function expectedMessages(options: Partial<TrafficOptions> & { start: number }): number {
  const o = resolveTrafficOptions(options);
  const step = Math.min(60_000, o.durationMs);
  let valid = 0;
  for (let t = o.start; t < o.start + o.durationMs; t += step) {
    const width = Math.min(step, o.start + o.durationMs - t);
    valid += (o.rate * diurnalFactor(t + width / 2, o.diurnalAmplitude) * width) / 1000;
  }
  return Math.round(valid * (1 + o.lateRatio + o.duplicateRatio + o.badRatio));
}

// The incremental sessionizer finds exactly the sessions a batch pass over sorted events finds,
// whatever the arrival order, across snapshots, and closes a session only when it is final.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { builtinViews } from '../src/builtin-views.ts';
import type { SessionRecord } from '../src/fields.ts';
import { where } from '../src/filter.ts';
import { compileReducer } from '../src/reducer.ts';
import {
  createSessionizer,
  type OpenSessionSnapshot,
  type Sessionizer,
  type SessionizerSnapshot,
} from '../src/sessionizer.ts';
import { DAY_MS, dayStart, HOUR_MS, MINUTE_MS } from '../src/time.ts';
import type { TandemEvent } from '../src/types.ts';
import { defineView } from '../src/view.ts';
import { eventsArb } from './support/arbitraries.ts';

const view = builtinViews.sessions_hourly;
const GAP = 30 * MINUTE_MS;
const users = fc.oneof(fc.constant(null), fc.constantFrom('u1', 'u2', ''));

/** Batch reference: per user and UTC day, sorted, split where the gap exceeds 30 minutes. */
function referenceSessions(events: TandemEvent[]): SessionRecord[] {
  const groups = new Map<string, TandemEvent[]>();
  for (const e of events) {
    if (e.user_id === null) continue;
    const key = `${dayStart(e.timestamp)}|${e.user_id}`;
    groups.set(key, [...(groups.get(key) ?? []), e]);
  }
  const out: SessionRecord[] = [];
  for (const list of groups.values()) {
    list.sort((a, b) => a.timestamp - b.timestamp);
    let current: TandemEvent[] = [];
    const close = () => {
      if (current.length === 0) return;
      const pages = current.map((e) => e.page_id).filter((p): p is string => p !== null);
      const start = (current[0] as TandemEvent).timestamp;
      const end = (current[current.length - 1] as TandemEvent).timestamp;
      out.push({
        user_id: (current[0] as TandemEvent).user_id as string,
        start,
        end,
        duration_ms: end - start,
        events: current.length,
        page_views: pages.length,
        unique_pages: new Set(pages).size,
        bounce: current.length === 1 ? 1 : 0,
      });
      current = [];
    };
    for (const e of list) {
      const last = current[current.length - 1];
      if (last !== undefined && e.timestamp - last.timestamp > GAP) close();
      current.push(e);
    }
    close();
  }
  return sortSessions(out);
}

function sortSessions(sessions: SessionRecord[]): SessionRecord[] {
  return [...sessions].sort(
    (a, b) =>
      a.end - b.end || a.start - b.start || (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0),
  );
}

function feed(sessionizer: Sessionizer, events: TandemEvent[]): void {
  for (const e of events) sessionizer.add(e);
}

/** `sessionsOf(key)` lists exactly the snapshot's sessions of that visitor, for every visitor. */
function expectSessionsOfMatchSnapshot(sessionizer: Sessionizer): void {
  const order = (list: OpenSessionSnapshot[]) => [...list].sort((a, b) => a.start - b.start);
  const all = sessionizer.snapshot().sessions;
  for (const key of ['u1', 'u2', '', 'never-seen']) {
    expect(order(sessionizer.sessionsOf(key))).toEqual(order(all.filter((x) => x.key === key)));
  }
}

describe('createSessionizer', () => {
  it('finds the batch sessions for events in any order', () => {
    fc.assert(
      fc.property(eventsArb({ userArb: users, maxLength: 100 }), (events) => {
        const s = createSessionizer(view);
        feed(s, events);
        expect(sortSessions(s.flush())).toEqual(referenceSessions(events));
        expect(s.openSessions).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('continues identically from a JSON snapshot', () => {
    fc.assert(
      fc.property(eventsArb({ userArb: users, maxLength: 80 }), fc.nat(), (events, cut) => {
        const k = cut % (events.length + 1);
        const first = createSessionizer(view);
        feed(first, events.slice(0, k));
        const snapshot = JSON.parse(JSON.stringify(first.snapshot())) as SessionizerSnapshot;
        const restored = createSessionizer(view, snapshot);
        expect(restored.openSessions).toBe(first.openSessions);
        expectSessionsOfMatchSnapshot(restored);
        feed(restored, events.slice(k));
        expectSessionsOfMatchSnapshot(restored);
        expect(sortSessions(restored.flush())).toEqual(referenceSessions(events));
      }),
      { numRuns: 200 },
    );
  });

  it('under a moving watermark, closes only final sessions and loses none of the accepted events', () => {
    const lateness = 5 * MINUTE_MS;
    fc.assert(
      fc.property(
        eventsArb({ userArb: users, maxLength: 100 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 20 * MINUTE_MS }),
        (events, batch, disorder) => {
          // Roughly time-ordered arrival with bounded disorder, in micro-batches.
          const arrival = [...events].sort(
            (a, b) =>
              a.timestamp +
              (hash(a.event_id) % (disorder + 1)) -
              (b.timestamp + (hash(b.event_id) % (disorder + 1))),
          );
          const s = createSessionizer(view);
          const accepted: TandemEvent[] = [];
          const closed: SessionRecord[] = [];
          let maxTs = Number.NEGATIVE_INFINITY;
          for (let i = 0; i < arrival.length; i += batch) {
            for (const e of arrival.slice(i, i + batch)) {
              const result = s.add(e);
              if (result === 'added') accepted.push(e);
              if (result === 'late') expect(e.timestamp).toBeLessThan(s.horizon as number);
              maxTs = Math.max(maxTs, e.timestamp);
            }
            closed.push(...s.advance(maxTs - 30_000, lateness));
            expectSessionsOfMatchSnapshot(s);
          }
          const reference = referenceSessions(accepted);
          // Every session closed early is one of the final sessions, unchanged.
          const key = (x: SessionRecord) => JSON.stringify(x);
          const referenceKeys = new Set(reference.map(key));
          for (const c of closed) expect(referenceKeys.has(key(c))).toBe(true);
          expect(sortSessions([...closed, ...s.flush()])).toEqual(reference);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('closes when the horizon passes end + gap (not at it) or the UTC day ends; refuses late events', () => {
    const t = Date.UTC(2024, 0, 1, 10);
    const event = (
      id: string,
      ts: number,
      user: string | null = 'u',
      page: string | null = '/p',
    ): TandemEvent => ({
      event_id: id,
      timestamp: ts,
      endpoint: '/x',
      method: 'GET',
      status_code: 200,
      response_time_ms: 1,
      bytes_sent: null,
      user_id: user,
      session_id: null,
      page_id: page,
    });
    const s = createSessionizer(view);
    expect(s.add(event('a', t))).toBe('added');
    expect(s.add(event('b', t + 50 * MINUTE_MS))).toBe('added');
    expect(s.openSessions).toBe(2);
    // A late event 25 min after the first bridges both sessions into one.
    expect(s.add(event('c', t + 25 * MINUTE_MS, 'u', null))).toBe('added');
    expect(s.openSessions).toBe(1);
    expect(s.add(event('d', t, null))).toBe('ignored');
    expect(s.advance(t + 50 * MINUTE_MS + GAP + 1000, 1000)).toEqual([]);
    const [session] = s.advance(t + 50 * MINUTE_MS + GAP + 1001, 1000);
    expect(session).toEqual({
      user_id: 'u',
      start: t,
      end: t + 50 * MINUTE_MS,
      duration_ms: 50 * MINUTE_MS,
      events: 3,
      page_views: 2,
      unique_pages: 1,
      bounce: 0,
    });
    expect(s.horizon).toBe(t + 50 * MINUTE_MS + GAP + 1);
    expect(s.add(event('e', t + HOUR_MS))).toBe('late');
    // Horizon never goes back.
    s.advance(0, 0);
    expect(s.horizon).toBe(t + 50 * MINUTE_MS + GAP + 1);

    const nearMidnight = Date.UTC(2024, 0, 1, 23, 50);
    const d = createSessionizer(view);
    d.add(event('f', nearMidnight));
    d.add(event('g', nearMidnight + 20 * MINUTE_MS)); // next day: a new session
    expect(d.openSessions).toBe(2);
    const closed = d.advance(Date.UTC(2024, 0, 2), 0);
    expect(closed.map((x) => x.end)).toEqual([nearMidnight]);
    expect(dayStart(nearMidnight) + DAY_MS).toBe(Date.UTC(2024, 0, 2));
  });

  it('applies the view filter, and refuses a snapshot of another view', () => {
    const filtered = defineView({
      name: 'post_sessions',
      bucket: '1h',
      filter: where.eq('method', 'POST'),
      sessionize: { by: 'user_id' },
      measures: { sessions: { kind: 'count' } },
    });
    const s = createSessionizer(filtered);
    const base = {
      event_id: 'x',
      timestamp: 0,
      endpoint: '/',
      status_code: 200,
      response_time_ms: 1,
      bytes_sent: null,
      user_id: 'u',
      session_id: null,
      page_id: null,
    };
    expect(s.add({ ...base, method: 'GET' })).toBe('ignored');
    expect(s.add({ ...base, method: 'POST' })).toBe('added');
    expect(() => createSessionizer(view, s.snapshot())).toThrow(
      expect.objectContaining({ code: 'TANDEM_ERR_STATE_VERSION' }),
    );
    expect(() => createSessionizer(builtinViews.endpoint_hourly)).toThrow(/not sessionized/);
  });

  it('feeds the reducer, which buckets each session by its last event', () => {
    const reducer = compileReducer(view);
    const t = Date.UTC(2024, 0, 1, 10, 50);
    const base = {
      endpoint: '/',
      method: 'GET',
      status_code: 200,
      response_time_ms: 1,
      bytes_sent: null,
      session_id: null,
    };
    reducer.add({ ...base, event_id: '1', timestamp: t, user_id: 'u', page_id: '/a' });
    reducer.add({ ...base, event_id: '2', timestamp: t + 20 * MINUTE_MS, user_id: 'u', page_id: '/b' });
    reducer.add({ ...base, event_id: '3', timestamp: t, user_id: 'v', page_id: null });
    expect(reducer.advance(t + 20 * MINUTE_MS + GAP + 1, 0)).toBe(2);
    const rows = reducer.rows();
    expect(rows.map((r) => r.bucket)).toEqual([Date.UTC(2024, 0, 1, 10), Date.UTC(2024, 0, 1, 11)]);
    expect({ ...rows[1]?.states.avg_duration_ms }).toEqual({ s: 20 * MINUTE_MS, n: 1 });
    expect({ ...rows[0]?.states.bounce_rate }).toEqual({ s: 1, n: 1 });
    reducer.clear();
    expect(reducer.rows()).toEqual([]);
  });
});

function hash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
  return h;
}

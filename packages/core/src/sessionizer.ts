// Incremental sessionizer for the speed layer: keeps open sessions per visitor and UTC day, merges
// out-of-order events (an event may bridge two sessions), and closes sessions once the watermark
// proves no accepted event can still join them. Its state is plain JSON, so it can live in Redis.
import { TandemError } from './errors.ts';
import type { SessionRecord } from './fields.ts';
import { compileFilterPredicate, type FilterPredicate } from './filter.ts';
import { DAY_MS, dayStart } from './time.ts';
import type { StreamEvent } from './types.ts';
import type { SessionizeSpec, View } from './view.ts';

/** One open session as stored in a snapshot. */
export interface OpenSessionSnapshot {
  key: string;
  start: number;
  end: number;
  events: number;
  page_views: number;
  pages: string[];
}

/** Everything a sessionizer knows, JSON-serializable. Restore with `createSessionizer(view, snapshot)`. */
export interface SessionizerSnapshot {
  version: 1;
  view: string;
  gapMs: number;
  /** Event times below this are late (see `add`); null before the first `advance`. */
  horizon: number | null;
  sessions: OpenSessionSnapshot[];
}

/** What `add` did with an event. */
export type SessionizerAddResult = 'added' | 'ignored' | 'late';

interface OpenSession {
  key: string;
  start: number;
  end: number;
  events: number;
  pageViews: number;
  pages: Set<string>;
}

/** See packages/core/README.md, "Sessionizer". */
export interface Sessionizer {
  readonly view: View;
  /** Event times below the horizon are refused as late; null before the first advance. */
  readonly horizon: number | null;
  /** Number of open sessions. */
  readonly openSessions: number;
  /**
   * Adds an event: 'ignored' when the view filter rejects it or its sessionize field is null,
   * 'late' when its time is below the horizon (the caller routes it like any late event), else 'added'.
   */
  add(event: StreamEvent): SessionizerAddResult;
  /**
   * Raises the horizon to `watermark - allowedLatenessMs` (never lowers it) and returns, closed, every
   * session that no event at or above the horizon can join: `horizon > end + gapMs`, or its UTC day ended.
   */
  advance(watermark: number, allowedLatenessMs: number): SessionRecord[];
  /** Closes and returns every open session (end of input). */
  flush(): SessionRecord[];
  /** A JSON-able copy of the state. */
  snapshot(): SessionizerSnapshot;
  /**
   * The open sessions of one visitor (`by` value), as `snapshot()` would list them: what a caller
   * persisting per-visitor state needs after a batch, without copying every open session.
   */
  sessionsOf(key: string): OpenSessionSnapshot[];
}

function toRecord(session: OpenSession): SessionRecord {
  return {
    user_id: session.key,
    start: session.start,
    end: session.end,
    duration_ms: session.end - session.start,
    events: session.events,
    page_views: session.pageViews,
    unique_pages: session.pages.size,
    bounce: session.events === 1 ? 1 : 0,
  };
}

function toSnapshot(s: OpenSession): OpenSessionSnapshot {
  return {
    key: s.key,
    start: s.start,
    end: s.end,
    events: s.events,
    page_views: s.pageViews,
    pages: [...s.pages],
  };
}

function byEnd(a: SessionRecord, b: SessionRecord): number {
  return a.end - b.end || (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : a.start - b.start);
}

/** Creates a sessionizer for a sessionized view, empty or from a snapshot. */
export function createSessionizer(view: View, snapshot?: SessionizerSnapshot): Sessionizer {
  const spec: SessionizeSpec | null = view.sessionize;
  if (spec === null) {
    throw new TandemError(
      'TANDEM_ERR_VIEW_INVALID',
      `view "${view.name}" is not sessionized; it has no sessionizer`,
    );
  }
  const { by, gapMs, page } = spec;
  const timeField = view.timeField;
  const filter: FilterPredicate = compileFilterPredicate(view.filter);
  const hasFilter = view.filter !== null;
  /** Open sessions by `${day}|${key}`; a visitor rarely has more than one open per day. */
  const open = new Map<string, OpenSession[]>();
  /** UTC days that have open sessions, with their number of slots: `sessionsOf` looks in each. */
  const days = new Map<number, number>();
  const slotOpened = (day: number) => days.set(day, (days.get(day) ?? 0) + 1);
  const slotClosed = (day: number) => {
    const left = (days.get(day) ?? 0) - 1;
    if (left > 0) days.set(day, left);
    else days.delete(day);
  };
  let horizon: number | null = null;
  let count = 0;

  if (snapshot !== undefined) {
    if (snapshot.version !== 1 || snapshot.view !== view.name || snapshot.gapMs !== gapMs) {
      throw new TandemError(
        'TANDEM_ERR_STATE_VERSION',
        `sessionizer snapshot (version ${snapshot.version}, view ${snapshot.view}, gap ${snapshot.gapMs}) ` +
          `does not match view "${view.name}" (gap ${gapMs}); drop the stored snapshot`,
      );
    }
    horizon = snapshot.horizon;
    for (const s of snapshot.sessions) {
      const day = dayStart(s.start);
      const slot = `${day}|${s.key}`;
      let list = open.get(slot);
      if (list === undefined) {
        list = [];
        open.set(slot, list);
        slotOpened(day);
      }
      list.push({
        key: s.key,
        start: s.start,
        end: s.end,
        events: s.events,
        pageViews: s.page_views,
        pages: new Set(s.pages),
      });
      count++;
    }
  }

  function add(event: StreamEvent): SessionizerAddResult {
    const key = event[by] as string | null;
    if (key === null || key === undefined) return 'ignored';
    if (hasFilter && filter(event as unknown as Record<string, unknown>) !== 1) return 'ignored';
    const ts = event[timeField] as number;
    if (horizon !== null && ts < horizon) return 'late';
    const pageValue = event[page] as string | null;
    const day = dayStart(ts);
    const slot = `${day}|${key}`;
    const list = open.get(slot);
    if (list === undefined) {
      open.set(slot, [newSession(key, ts, pageValue)]);
      slotOpened(day);
      count++;
      return 'added';
    }
    // Every open session within the gap of ts joins it; with out-of-order input that can be several.
    let target: OpenSession | null = null;
    for (let i = 0; i < list.length; i++) {
      const s = list[i] as OpenSession;
      if (ts < s.start - gapMs || ts > s.end + gapMs) continue;
      if (target === null) {
        target = s;
        continue;
      }
      target.start = Math.min(target.start, s.start);
      target.end = Math.max(target.end, s.end);
      target.events += s.events;
      target.pageViews += s.pageViews;
      for (const p of s.pages) target.pages.add(p);
      list.splice(i, 1);
      i--;
      count--;
    }
    if (target === null) {
      list.push(newSession(key, ts, pageValue));
      count++;
      return 'added';
    }
    if (ts < target.start) target.start = ts;
    if (ts > target.end) target.end = ts;
    target.events++;
    if (pageValue !== null && pageValue !== undefined) {
      target.pageViews++;
      target.pages.add(pageValue);
    }
    return 'added';
  }

  function newSession(key: string, ts: number, pageValue: string | null): OpenSession {
    const pages = new Set<string>();
    const hasPage = pageValue !== null && pageValue !== undefined;
    if (hasPage) pages.add(pageValue);
    return { key, start: ts, end: ts, events: 1, pageViews: hasPage ? 1 : 0, pages };
  }

  function close(shouldClose: (s: OpenSession) => boolean): SessionRecord[] {
    const closed: SessionRecord[] = [];
    for (const [slot, list] of open) {
      const keep = list.filter((s) => {
        if (!shouldClose(s)) return true;
        closed.push(toRecord(s));
        return false;
      });
      count -= list.length - keep.length;
      if (keep.length === 0) {
        open.delete(slot);
        slotClosed(dayStart((list[0] as OpenSession).start));
      } else if (keep.length !== list.length) open.set(slot, keep);
    }
    return closed.sort(byEnd);
  }

  return {
    view,
    get horizon() {
      return horizon;
    },
    get openSessions() {
      return count;
    },
    add,
    advance(watermark, allowedLatenessMs) {
      const next = watermark - allowedLatenessMs;
      if (horizon === null || next > horizon) horizon = next;
      const h = horizon;
      return close((s) => h > s.end + gapMs || h >= dayStart(s.start) + DAY_MS);
    },
    flush() {
      return close(() => true);
    },
    snapshot() {
      const sessions: OpenSessionSnapshot[] = [];
      for (const list of open.values()) for (const s of list) sessions.push(toSnapshot(s));
      return { version: 1, view: view.name, gapMs, horizon, sessions };
    },
    sessionsOf(key) {
      const sessions: OpenSessionSnapshot[] = [];
      for (const day of days.keys()) {
        const list = open.get(`${day}|${key}`);
        if (list !== undefined) for (const s of list) sessions.push(toSnapshot(s));
      }
      return sessions;
    },
  };
}

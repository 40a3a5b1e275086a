// Test fixtures: seeded events, in-memory readers that honour the reader contracts (pointer
// versions, filters, ranges), and a ground truth folded straight from events with the measures'
// `add`, never through partial rows or merges, so it is independent of the code under test.
import {
  builtinCatalog,
  type Catalog,
  type Cells,
  compileFilterPredicate,
  compileReducer,
  DAY_MS,
  type DimensionFilter,
  HOUR_MS,
  MINUTE_MS,
  type PartialRow,
  type StreamEvent,
  type TandemEvent,
  type TimeRange,
  type View,
  webStream,
} from '@tandem/core';
import type { BatchViewReader, RunRecord, SealedHour, SpeedStatus, SpeedViewReader } from '@tandem/core';
import { mulberry32 } from '@tandem/test-support/random.ts';

/**
 * Events spread over [from, to): integer latencies and sizes so sums are exact in any order.
 * Endpoints include awkward strings so filters and grouping see them.
 */
export function generateEvents(options: {
  seed: number;
  from: number;
  to: number;
  count: number;
  endpoints?: string[];
}): TandemEvent[] {
  const random = mulberry32(options.seed);
  const endpoints = options.endpoints ?? ['/a', '/b', "/c'; DROP TABLE x;--", '/ü/ünïcode', '/e'];
  const statuses = [200, 200, 200, 201, 204, 301, 404, 500, 503];
  const events: TandemEvent[] = [];
  for (let i = 0; i < options.count; i++) {
    const timestamp = options.from + Math.floor(random() * (options.to - options.from));
    const hasUser = random() < 0.9;
    const hasPage = random() < 0.8;
    events.push({
      event_id: `e-${options.seed}-${i}`,
      timestamp,
      endpoint: endpoints[Math.floor(random() * endpoints.length)]!,
      method: random() < 0.8 ? 'GET' : 'POST',
      status_code: statuses[Math.floor(random() * statuses.length)]!,
      response_time_ms: 1 + Math.floor(random() * 2000),
      bytes_sent: random() < 0.95 ? Math.floor(random() * 50_000) : null,
      user_id: hasUser ? `u${Math.floor(random() * 300)}` : null,
      session_id: null,
      page_id: hasPage ? `p${Math.floor(random() * 40)}` : null,
    });
  }
  return events.sort((a, b) => a.timestamp - b.timestamp);
}

/** Partial rows of a view over events of its stream, as either engine would produce them. */
export function partialsOf(view: View, events: readonly StreamEvent[]): PartialRow[] {
  const reducer = compileReducer(view);
  for (const event of events) reducer.add(event);
  return reducer.rows();
}

function matches(view: View, row: PartialRow, filter: DimensionFilter): boolean {
  return Object.entries(filter).every(([name, value]) => {
    const index = view.dimensions.indexOf(name as View['dimensions'][number]);
    return index >= 0 && row.dims[index] !== null && String(row.dims[index]) === value;
  });
}

interface StoredHour {
  runId: string;
  pointerVersion: string;
  versions: Map<string, PartialRow[]>;
}

/** A batch reader over memory: every publish makes a new pointer version; old versions stay readable. */
export class MemoryBatchReader implements BatchViewReader {
  readonly views: Map<string, View>;
  readonly #hours = new Map<string, Map<number, StoredHour>>();
  #counter = 0;
  /** Called between the steps of a query, so a test can publish "during" it. */
  onRead: (() => Promise<void> | void) | null = null;
  reads = 0;

  constructor(views: View[]) {
    this.views = new Map(views.map((view) => [view.name, view]));
  }

  publish(viewName: string, hour: number, rows: PartialRow[]): SealedHour {
    let hours = this.#hours.get(viewName);
    if (hours === undefined) {
      hours = new Map();
      this.#hours.set(viewName, hours);
    }
    const version = `v${++this.#counter}`;
    const stored = hours.get(hour) ?? { runId: '', pointerVersion: '', versions: new Map() };
    stored.runId = `run-${this.#counter}`;
    stored.pointerVersion = version;
    stored.versions.set(
      version,
      rows.filter((row) => row.bucket >= hour && row.bucket < hour + HOUR_MS),
    );
    hours.set(hour, stored);
    return { hour, runId: stored.runId, pointerVersion: version };
  }

  async sealedHours(view: string, range: TimeRange): Promise<SealedHour[]> {
    const hours = this.#hours.get(view) ?? new Map<number, StoredHour>();
    const result: SealedHour[] = [];
    for (const [hour, stored] of hours) {
      if (hour >= Math.floor(range.from / HOUR_MS) * HOUR_MS && hour < range.to) {
        result.push({ hour, runId: stored.runId, pointerVersion: stored.pointerVersion });
      }
    }
    return result.sort((a, b) => a.hour - b.hour);
  }

  async sealedThrough(view: string): Promise<number | null> {
    const hours = [...(this.#hours.get(view)?.keys() ?? [])].sort((a, b) => a - b);
    if (hours.length === 0) return null;
    let through = hours[0]!;
    for (const hour of hours) {
      if (hour !== through) break;
      through = hour + HOUR_MS;
    }
    return through;
  }

  async readPartials(view: string, hours: SealedHour[], filter: DimensionFilter): Promise<PartialRow[]> {
    this.reads++;
    await this.onRead?.();
    const model = this.views.get(view)!;
    const stored = this.#hours.get(view);
    const rows: PartialRow[] = [];
    for (const hour of hours) {
      const version = stored?.get(hour.hour)?.versions.get(hour.pointerVersion);
      if (version === undefined) throw new Error(`version ${hour.pointerVersion} of ${hour.hour} is gone`);
      for (const row of version) if (matches(model, row, filter)) rows.push(row);
    }
    return rows;
  }

  async staleHours(): Promise<number[]> {
    return [];
  }

  async runHistory(view: string, limit: number): Promise<RunRecord[]> {
    return [...(this.#hours.get(view)?.entries() ?? [])].slice(-limit).map(([hour, stored]) => ({
      runId: stored.runId,
      view,
      viewVersion: this.views.get(view)!.version,
      hour,
      status: 'published',
      trigger: 'hourly',
      attempt: 1,
      startedAt: hour + HOUR_MS,
      finishedAt: hour + HOUR_MS + 12,
      durationMs: 12,
      rowsIn: 0,
      rowsOut: 0,
      badRows: 0,
      duplicateRows: 0,
      fencingToken: 1,
      owner: 'memory',
      reason: null,
      quarantineKey: null,
      error: null,
    }));
  }
}

/**
 * A speed reader over memory: rows per view, a watermark per stream (`watermarks`, else the one
 * `watermark`), optional failure.
 */
export class MemorySpeedReader implements SpeedViewReader {
  readonly views: Map<string, View>;
  readonly rows = new Map<string, PartialRow[]>();
  watermark: number | null = null;
  readonly watermarks = new Map<string, number | null>();
  /** Streams `status` was asked about, in order. */
  readonly statusAsked: string[] = [];
  fail = false;
  reads = 0;

  constructor(views: View[]) {
    this.views = new Map(views.map((view) => [view.name, view]));
  }

  async readPartials(view: string, range: TimeRange, filter: DimensionFilter): Promise<PartialRow[]> {
    this.reads++;
    if (this.fail) throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
    const model = this.views.get(view)!;
    return (this.rows.get(view) ?? []).filter(
      (row) => row.bucket >= range.from && row.bucket < range.to && matches(model, row, filter),
    );
  }

  /** Drops a sealed hour, as the speed janitor does after the grace period. */
  dropHour(view: string, hour: number): void {
    this.rows.set(
      view,
      (this.rows.get(view) ?? []).filter((row) => row.bucket < hour || row.bucket >= hour + HOUR_MS),
    );
  }

  async status(stream: string): Promise<SpeedStatus> {
    this.statusAsked.push(stream);
    if (this.fail) throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
    const watermark = this.watermarks.has(stream) ? this.watermarks.get(stream)! : this.watermark;
    return {
      stream,
      watermark,
      maxEventTime: watermark === null ? null : watermark + 30_000,
      partitions: [{ partition: 0, appliedOffset: '42', lag: 0, watermark, updatedAt: watermark }],
      dlqCount: 1,
      lateCount: 2,
      eventsApplied: 3,
      duplicateCount: 0,
      closedThrough: watermark === null ? null : watermark - 5 * 60_000,
      schemaWarnings: [],
    };
  }
}

/**
 * Readers of every non-sessionized view of the catalog: speed holds all of its stream's events, as
 * it does until the grace period ends, and batch seals the `sealedHours` hours from `firstHour`, so
 * both sources overlap on purpose and the merge must pick one per bucket. `events` are the web
 * stream's; `streamEvents` those of the catalog's other streams. The caller sets the watermarks.
 */
export function seedReaders(
  events: readonly TandemEvent[],
  firstHour: number,
  sealedHours: number,
  options: { catalog?: Catalog; streamEvents?: Readonly<Record<string, readonly StreamEvent[]>> } = {},
): { batch: MemoryBatchReader; speed: MemorySpeedReader } {
  const views = (options.catalog ?? builtinCatalog()).views;
  const batch = new MemoryBatchReader([...views]);
  const speed = new MemorySpeedReader([...views]);
  for (const view of views) {
    if (view.sessionize !== null) continue;
    const streamEvents =
      view.stream === webStream.name ? events : (options.streamEvents?.[view.stream] ?? []);
    const rows = partialsOf(view, streamEvents);
    speed.rows.set(view.name, rows);
    for (let hour = 0; hour < sealedHours; hour++) batch.publish(view.name, firstHour + hour * HOUR_MS, rows);
  }
  return { batch, speed };
}

export type Granularity = '1m' | '5m' | '15m' | '30m' | '1h' | '1d' | 'all';

/**
 * Ground truth of a series query straight from events: per output bucket and group, one state per
 * measure folded with `add` over the matching events. Keys: group key → bucket → finished values.
 */
export function truthSeries(
  view: View,
  events: readonly StreamEvent[],
  query: { range: TimeRange; granularity: Granularity; filter: DimensionFilter; groupBy: string[] },
): Map<string, Map<number, Record<string, Cells>>> {
  const step = {
    '1m': MINUTE_MS,
    '5m': 5 * MINUTE_MS,
    '15m': 15 * MINUTE_MS,
    '30m': 30 * MINUTE_MS,
    '1h': HOUR_MS,
    '1d': DAY_MS,
    all: 0,
  }[query.granularity];
  const viewFilter = compileFilterPredicate(view.filter);
  const measures = Object.entries(view.measures).map(([name, measure]) => ({
    name,
    measure,
    where: measure.where === null ? null : compileFilterPredicate(measure.where),
  }));
  const result = new Map<string, Map<number, Record<string, Cells>>>();
  for (const event of events) {
    const time = event[view.timeField] as number;
    if (time < query.range.from || time >= query.range.to) continue;
    const row = event as Record<string, unknown>;
    if (view.filter !== null && viewFilter(row) !== 1) continue;
    const passes = Object.entries(query.filter).every(
      ([name, value]) => row[name] !== null && String(row[name]) === value,
    );
    if (!passes) continue;
    const bucket = step === 0 ? query.range.from : Math.floor(time / step) * step;
    const key = JSON.stringify(query.groupBy.map((name) => row[name] ?? null));
    let group = result.get(key);
    if (group === undefined) {
      group = new Map();
      result.set(key, group);
    }
    let states = group.get(bucket);
    if (states === undefined) {
      states = {};
      for (const { name, measure } of measures) states[name] = measure.empty();
      group.set(bucket, states);
    }
    for (const { name, measure, where } of measures) {
      if (where !== null && where(row) !== 1) continue;
      measure.add(states[name]!, measure.field === null ? 1 : row[measure.field]);
    }
  }
  return result;
}

// The incremental engine: folds events (or closed sessions) into the same partial states the
// compiled SQL produces. Used by the speed layer per micro-batch and by the parity tests.
import type { SessionRecord } from './fields.ts';
import { compileFilterPredicate, type FilterPredicate } from './filter.ts';
import type { Measure } from './measures.ts';
import { createSessionizer, type Sessionizer } from './sessionizer.ts';
import type { Cells, DimensionValue, PartialRow, TandemEvent } from './types.ts';
import { sortPartialRows, type View } from './view.ts';

/** Folds events into partial rows of one view. */
export interface ViewReducer {
  readonly view: View;
  /** Folds one validated event (sessionized views: feeds the sessionizer instead). */
  add(event: TandemEvent): void;
  /** Copies of the accumulated partial rows, sorted by bucket, then dimensions. */
  rows(): PartialRow[];
  /** Forgets the accumulated rows (sessionized views keep their open sessions). */
  clear(): void;
  /** Number of accumulated (bucket, dimensions) groups. */
  readonly size: number;
}

/** The reducer of a sessionized view: events go through its sessionizer; closed sessions fold in. */
export interface SessionViewReducer extends ViewReducer {
  readonly sessionizer: Sessionizer;
  /** Folds one closed session into its bucket (the bucket of its last event). */
  addSession(session: SessionRecord): void;
  /** `sessionizer.advance` and fold what it closed; returns how many sessions closed. */
  advance(watermark: number, allowedLatenessMs: number): number;
  /** Closes every open session and folds it; for complete inputs (tests, backfills). */
  flush(): number;
}

interface Group {
  bucket: number;
  dims: DimensionValue[];
  states: Cells[];
}

interface MeasurePlan {
  measure: Measure;
  field: string | null;
  filterSlot: number;
}

/** The fold shared by event and session reducers: row → (bucket, dims) group → measure states. */
function createFolder(view: View) {
  const measures = Object.values(view.measures);
  const names = Object.keys(view.measures);
  const filterSlots = new Map<string, number>();
  const predicates: FilterPredicate[] = [];
  const plans: MeasurePlan[] = measures.map((measure) => {
    let filterSlot = -1;
    if (measure.where !== null) {
      const key = JSON.stringify(measure.where);
      let slot = filterSlots.get(key);
      if (slot === undefined) {
        slot = predicates.length;
        predicates.push(compileFilterPredicate(measure.where));
        filterSlots.set(key, slot);
      }
      filterSlot = slot;
    }
    return { measure, field: measure.field, filterSlot };
  });
  const truth = new Uint8Array(predicates.length);
  const dimensions = view.dimensions;
  const bucketMs = view.bucketMs;
  const groups = new Map<string, Group>();

  function groupFor(bucket: number, row: Readonly<Record<string, unknown>>): Group {
    let key = String(bucket);
    for (const dim of dimensions) {
      const v = row[dim] as DimensionValue;
      key += v === null ? '\u0001' : typeof v === 'number' ? `\u0002${v}` : `\u0003${v.length}:${v}`;
    }
    let group = groups.get(key);
    if (group === undefined) {
      group = {
        bucket,
        dims: dimensions.map((dim) => row[dim] as DimensionValue),
        states: measures.map((m) => m.empty()),
      };
      groups.set(key, group);
    }
    return group;
  }

  function fold(time: number, row: Readonly<Record<string, unknown>>): void {
    const bucket = Math.floor(time / bucketMs) * bucketMs;
    const group = groupFor(bucket, row);
    for (let i = 0; i < predicates.length; i++) truth[i] = (predicates[i] as FilterPredicate)(row);
    const states = group.states;
    for (let i = 0; i < plans.length; i++) {
      const plan = plans[i] as MeasurePlan;
      if (plan.filterSlot >= 0 && truth[plan.filterSlot] !== 1) continue;
      plan.measure.add(states[i] as Cells, plan.field === null ? 1 : row[plan.field]);
    }
  }

  function rows(): PartialRow[] {
    const out: PartialRow[] = [];
    for (const group of groups.values()) {
      const states: Record<string, Cells> = {};
      names.forEach((name, i) => {
        states[name] = { ...(group.states[i] as Cells) };
        Object.setPrototypeOf(states[name], null);
      });
      out.push({ bucket: group.bucket, dims: [...group.dims], states });
    }
    return sortPartialRows(out);
  }

  return {
    fold,
    rows,
    clear: () => groups.clear(),
    size: () => groups.size,
  };
}

/** Compiles a view to an incremental reducer. Sessionized views get a `SessionViewReducer`. */
export function compileReducer(
  view: View & { sessionize: NonNullable<View['sessionize']> },
): SessionViewReducer;
export function compileReducer(view: View): ViewReducer;
export function compileReducer(view: View): ViewReducer | SessionViewReducer {
  const folder = createFolder(view);
  if (view.sessionize !== null) {
    const sessionizer = createSessionizer(view);
    const addSession = (session: SessionRecord) =>
      folder.fold(session.end, session as unknown as Record<string, unknown>);
    const foldAll = (sessions: SessionRecord[]) => {
      for (const s of sessions) addSession(s);
      return sessions.length;
    };
    const reducer: SessionViewReducer = {
      view,
      sessionizer,
      add: (event) => {
        sessionizer.add(event);
      },
      addSession,
      advance: (watermark, allowedLatenessMs) => foldAll(sessionizer.advance(watermark, allowedLatenessMs)),
      flush: () => foldAll(sessionizer.flush()),
      rows: folder.rows,
      clear: folder.clear,
      get size() {
        return folder.size();
      },
    };
    return reducer;
  }
  const filter = compileFilterPredicate(view.filter);
  const hasFilter = view.filter !== null;
  return {
    view,
    add: (event) => {
      const row = event as unknown as Record<string, unknown>;
      if (hasFilter && filter(row) !== 1) return;
      folder.fold(event.timestamp, row);
    },
    rows: folder.rows,
    clear: folder.clear,
    get size() {
      return folder.size();
    },
  };
}

// The incremental engine: folds events (or closed sessions) into the same partial states the
// compiled SQL produces. Used by the speed layer per micro-batch and by the parity tests.
import type { SessionRecord } from './fields.ts';
import { compileFilterPredicate, type FilterPredicate } from './filter.ts';
import { type Accumulator, accumulatorFactory } from './accumulators.ts';
import { createSessionizer, type Sessionizer } from './sessionizer.ts';
import { HllHashCache } from './sketches/hll.ts';
import type { Cells, DimensionValue, PartialRow, StreamEvent } from './types.ts';
import { type SessionizedView, sortPartialRows, type View } from './view.ts';

/** Folds events into partial rows of one view. */
export interface ViewReducer {
  readonly view: View;
  /** Folds one validated event (sessionized views: feeds the sessionizer instead). */
  add(event: StreamEvent): void;
  /** Copies of the accumulated partial rows, sorted by bucket, then dimensions. */
  rows(): PartialRow[];
  /** Forgets the accumulated rows (sessionized views keep their open sessions). */
  clear(): void;
  /** Number of accumulated (bucket, dimensions) groups. */
  readonly size: number;
  /**
   * Visits every accumulated group, unsorted, without copying: `cells[i]` appends the cells of the
   * view's i-th measure (in `view.measures` order) flat, exactly the cells `rows()` would hold.
   * For stores that write cells one by one; `dims` must not be kept or changed.
   */
  forEachGroup(visit: GroupVisitor): void;
}

/** Appends one measure's cells of one group as `prefix + cell` keys and values. */
export interface CellAppender {
  appendCells(prefix: string, keys: string[], values: number[]): void;
}

/** Called by `ViewReducer.forEachGroup` once per (bucket, dimensions) group. */
export type GroupVisitor = (
  bucket: number,
  dims: readonly DimensionValue[],
  cells: readonly CellAppender[],
) => void;

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
  accumulators: Accumulator[];
}

type GroupTree = Map<DimensionValue, GroupTree | Group>;

/** The fold shared by event and session reducers: row → (bucket, dims) group → accumulators. */
function createFolder(view: View) {
  const measures = Object.values(view.measures);
  const names = Object.keys(view.measures);
  const cache = new HllHashCache();
  const factories = measures.map((m) => accumulatorFactory(m, cache));
  const filterSlots = new Map<string, number>();
  const predicates: FilterPredicate[] = [];
  const measureFilter: number[] = [];
  const measureField: Array<string | null> = [];
  for (const measure of measures) {
    let slot = -1;
    if (measure.where !== null) {
      const key = JSON.stringify(measure.where);
      const known = filterSlots.get(key);
      if (known === undefined) {
        slot = predicates.length;
        predicates.push(compileFilterPredicate(measure.where));
        filterSlots.set(key, slot);
      } else {
        slot = known;
      }
    }
    measureFilter.push(slot);
    measureField.push(measure.field);
  }
  const truth = new Uint8Array(predicates.length);
  const dimensions = view.dimensions;
  const dimCount = dimensions.length;
  const bucketMs = view.bucketMs;
  // bucket → d0 → d1 → … → group; Map keys keep null, numbers and strings apart with no encoding.
  let tree = new Map<number, GroupTree | Group>();
  let size = 0;

  function newGroup(bucket: number, row: Readonly<Record<string, unknown>>): Group {
    size++;
    return {
      bucket,
      dims: dimensions.map((dim) => (row[dim] ?? null) as DimensionValue),
      accumulators: factories.map((f) => f()),
    };
  }

  function groupFor(bucket: number, row: Readonly<Record<string, unknown>>): Group {
    if (dimCount === 0) {
      let group = tree.get(bucket) as Group | undefined;
      if (group === undefined) {
        group = newGroup(bucket, row);
        tree.set(bucket, group);
      }
      return group;
    }
    let level = tree.get(bucket) as GroupTree | undefined;
    if (level === undefined) {
      level = new Map();
      tree.set(bucket, level);
    }
    for (let i = 0; i < dimCount - 1; i++) {
      const value = (row[dimensions[i] as string] ?? null) as DimensionValue;
      let next = level.get(value) as GroupTree | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(value, next);
      }
      level = next;
    }
    const last = (row[dimensions[dimCount - 1] as string] ?? null) as DimensionValue;
    let group = level.get(last) as Group | undefined;
    if (group === undefined) {
      group = newGroup(bucket, row);
      level.set(last, group);
    }
    return group;
  }

  function fold(time: number, row: Readonly<Record<string, unknown>>): void {
    const group = groupFor(Math.floor(time / bucketMs) * bucketMs, row);
    for (let i = 0; i < predicates.length; i++) truth[i] = (predicates[i] as FilterPredicate)(row);
    const accumulators = group.accumulators;
    for (let i = 0; i < accumulators.length; i++) {
      const slot = measureFilter[i] as number;
      if (slot >= 0 && truth[slot] !== 1) continue;
      const field = measureField[i] as string | null;
      (accumulators[i] as Accumulator).add(field === null ? 1 : row[field]);
    }
  }

  function collect(node: GroupTree | Group, depth: number, out: PartialRow[]): void {
    if (depth === dimCount) {
      const group = node as Group;
      const states: Record<string, Cells> = {};
      names.forEach((name, i) => {
        states[name] = (group.accumulators[i] as Accumulator).cells();
      });
      out.push({ bucket: group.bucket, dims: [...group.dims], states });
      return;
    }
    for (const child of (node as GroupTree).values()) collect(child, depth + 1, out);
  }

  function rows(): PartialRow[] {
    const out: PartialRow[] = [];
    for (const node of tree.values()) collect(node, 0, out);
    return sortPartialRows(out);
  }

  function visitNode(node: GroupTree | Group, depth: number, visit: GroupVisitor): void {
    if (depth === dimCount) {
      const group = node as Group;
      visit(group.bucket, group.dims, group.accumulators);
      return;
    }
    for (const child of (node as GroupTree).values()) visitNode(child, depth + 1, visit);
  }

  function forEachGroup(visit: GroupVisitor): void {
    for (const node of tree.values()) visitNode(node, 0, visit);
  }

  return {
    fold,
    rows,
    forEachGroup,
    clear: () => {
      tree = new Map();
      size = 0;
    },
    size: () => size,
  };
}

/** Compiles a view to an incremental reducer. Sessionized views get a `SessionViewReducer`. */
export function compileReducer(view: SessionizedView): SessionViewReducer;
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
      forEachGroup: folder.forEachGroup,
      clear: folder.clear,
      get size() {
        return folder.size();
      },
    };
    return reducer;
  }
  const filter = compileFilterPredicate(view.filter);
  const hasFilter = view.filter !== null;
  const timeField = view.timeField;
  return {
    view,
    add: (event) => {
      const row = event as unknown as Record<string, unknown>;
      if (hasFilter && filter(row) !== 1) return;
      folder.fold(event[timeField] as number, row);
    },
    rows: folder.rows,
    forEachGroup: folder.forEachGroup,
    clear: folder.clear,
    get size() {
      return folder.size();
    },
  };
}

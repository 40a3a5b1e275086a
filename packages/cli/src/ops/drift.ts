// How far the speed layer was from the truth for one hour: both layers' partial rows are rolled up
// to the hour per dimension tuple with the measures' own merge, finalized, and compared measure by
// measure, over the whole hour and per group. Pure, so `tandem verify` and tests share it.
import { type Cells, finalizeStates, mergeStates, type PartialRow, type View } from '@tandem/core';

/** Drift of one finalized measure value (quantiles expand to one entry per q). */
export interface MeasureDrift {
  measure: string;
  batch: number | null;
  speed: number | null;
  /** speed − batch; null when either is null. */
  drift: number | null;
  /** (speed − batch) / |batch|; null when undefined (batch 0 or null). */
  relativeDrift: number | null;
  /** Groups (dimension tuples) whose values differ by more than 1e-9 relative. */
  groupsDiffering: number;
  /** The group with the largest relative drift, when any differs. */
  worst: {
    dims: Record<string, unknown>;
    batch: number | null;
    speed: number | null;
    relativeDrift: number | null;
  } | null;
}

export interface DriftReport {
  groups: { both: number; batchOnly: number; speedOnly: number };
  measures: MeasureDrift[];
  /** Largest |relativeDrift| over the whole-hour values (0 when they agree). */
  maxRelativeDrift: number;
}

function rollUp(
  view: View,
  rows: PartialRow[],
): Map<string, { dims: PartialRow['dims']; states: Record<string, Cells> }> {
  const groups = new Map<string, { dims: PartialRow['dims']; states: Record<string, Cells> }>();
  for (const row of rows) {
    const key = JSON.stringify(row.dims);
    const current = groups.get(key);
    if (current) current.states = mergeStates(view, current.states, row.states);
    else groups.set(key, { dims: row.dims, states: row.states });
  }
  return groups;
}

/** Numbers a finalized value contributes to the comparison: numbers as they are, top-K lists by total count. */
function numericValues(values: Record<string, unknown>): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const [name, value] of Object.entries(values)) {
    if (typeof value === 'number' || value === null) out.set(name, value);
    else if (Array.isArray(value)) {
      out.set(
        `${name} (top total)`,
        value.reduce((sum: number, entry: { count?: number }) => sum + (entry.count ?? 0), 0),
      );
    } else if (typeof value === 'object') {
      for (const [inner, innerValue] of Object.entries(value as Record<string, unknown>)) {
        if (typeof innerValue === 'number' || innerValue === null) out.set(`${name}.${inner}`, innerValue);
      }
    }
  }
  return out;
}

function relative(batch: number | null, speed: number | null): number | null {
  if (batch === null || speed === null) return null;
  if (!differs(batch, speed)) return 0;
  if (batch === 0) return null;
  return (speed - batch) / Math.abs(batch);
}

function differs(batch: number | null, speed: number | null): boolean {
  if (batch === null || speed === null) return batch !== speed;
  return Math.abs(speed - batch) > 1e-9 * Math.max(1, Math.abs(batch));
}

/** Compares the batch layer's rows (the truth) with the speed layer's for the same hour. */
export function computeDrift(view: View, batchRows: PartialRow[], speedRows: PartialRow[]): DriftReport {
  const batchGroups = rollUp(view, batchRows);
  const speedGroups = rollUp(view, speedRows);
  const keys = new Set([...batchGroups.keys(), ...speedGroups.keys()]);
  const empty = (): Record<string, Cells> =>
    Object.fromEntries(Object.keys(view.measures).map((m) => [m, {}]));
  let batchTotal = empty();
  let speedTotal = empty();
  const perGroup: Array<{
    dims: Record<string, unknown>;
    batch: Map<string, number | null>;
    speed: Map<string, number | null>;
  }> = [];
  const groups = { both: 0, batchOnly: 0, speedOnly: 0 };
  for (const key of keys) {
    const b = batchGroups.get(key);
    const s = speedGroups.get(key);
    if (b && s) groups.both++;
    else if (b) groups.batchOnly++;
    else groups.speedOnly++;
    const bStates = b?.states ?? empty();
    const sStates = s?.states ?? empty();
    batchTotal = mergeStates(view, batchTotal, bStates);
    speedTotal = mergeStates(view, speedTotal, sStates);
    const dimsArray = (b ?? s)!.dims;
    perGroup.push({
      dims: Object.fromEntries(view.dimensions.map((name, i) => [name, dimsArray[i] ?? null])),
      batch: numericValues(finalizeStates(view, bStates)),
      speed: numericValues(finalizeStates(view, sStates)),
    });
  }
  const totalBatch = numericValues(finalizeStates(view, batchTotal));
  const totalSpeed = numericValues(finalizeStates(view, speedTotal));
  const measures: MeasureDrift[] = [];
  let maxRelativeDrift = 0;
  for (const [measure, batchValue] of totalBatch) {
    const speedValue = totalSpeed.get(measure) ?? null;
    const rel = relative(batchValue, speedValue);
    if (rel !== null) maxRelativeDrift = Math.max(maxRelativeDrift, Math.abs(rel));
    else if (differs(batchValue, speedValue)) maxRelativeDrift = Number.POSITIVE_INFINITY;
    let groupsDiffering = 0;
    let worst: MeasureDrift['worst'] = null;
    let worstScore = -1;
    for (const group of perGroup) {
      const gb = group.batch.get(measure) ?? null;
      const gs = group.speed.get(measure) ?? null;
      if (!differs(gb, gs)) continue;
      groupsDiffering++;
      const grel = relative(gb, gs);
      const score = grel === null ? Number.POSITIVE_INFINITY : Math.abs(grel);
      if (score > worstScore) {
        worstScore = score;
        worst = { dims: group.dims, batch: gb, speed: gs, relativeDrift: grel };
      }
    }
    measures.push({
      measure,
      batch: batchValue,
      speed: speedValue,
      // Float sums folded in another order differ in the last bits; that is not drift.
      drift:
        batchValue === null || speedValue === null
          ? null
          : differs(batchValue, speedValue)
            ? speedValue - batchValue
            : 0,
      relativeDrift: rel,
      groupsDiffering,
      worst,
    });
  }
  return { groups, measures, maxRelativeDrift };
}

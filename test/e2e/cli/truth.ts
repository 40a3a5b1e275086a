// Independent truth for the cli end-to-end tests: the generator replayed in the test (the command
// printed its exact options) and core's reducer folded over the events a layer must count. The
// platform's answers are compared with this, finalized, measure by measure.
import {
  compileReducer,
  finalizeStates,
  getView,
  HOUR_MS,
  type PartialRow,
  type TandemEvent,
} from '@tandem/core';
import {
  generateTraffic,
  type TrafficOptions,
  type TrafficRecord,
  type TruthLayer,
  truthEvents,
} from '@tandem/cli';

export function regenerate(options: TrafficOptions): TrafficRecord[] {
  return [...generateTraffic(options)];
}

/** The events a layer must count for the given streams, deduplicated by event_id across them. */
export function eventsFor(streams: TrafficRecord[][], layer: TruthLayer): TandemEvent[] {
  const seen = new Set<string>();
  const events: TandemEvent[] = [];
  for (const records of streams) {
    for (const event of truthEvents(records, layer)) {
      if (seen.has(event.event_id)) continue;
      seen.add(event.event_id);
      events.push(event);
    }
  }
  return events;
}

/** The reducer's partial rows of a (non-sessionized) view for the events of one hour. */
export function expectedRows(viewName: string, events: TandemEvent[], hour: number): PartialRow[] {
  const view = getView(viewName);
  const reducer = compileReducer(view);
  for (const event of events)
    if (event.timestamp >= hour && event.timestamp < hour + HOUR_MS) reducer.add(event);
  return reducer.rows();
}

/** Finalized values per (bucket, dims). */
export function finalized(viewName: string, rows: PartialRow[]): Record<string, Record<string, unknown>> {
  const view = getView(viewName);
  const out: Record<string, Record<string, unknown>> = {};
  for (const row of rows) {
    out[`${new Date(row.bucket).toISOString()} ${JSON.stringify(row.dims)}`] = finalizeStates(
      view,
      row.states,
    );
  }
  return out;
}

/**
 * Where two finalized value trees differ: exactly for everything but non-integer numbers, which
 * may differ by 1e-9 relative (float sums folded in another order). Empty when they agree.
 */
export function differences(actual: unknown, expected: unknown, path = ''): string[] {
  if (typeof actual === 'number' && typeof expected === 'number') {
    const same =
      Number.isInteger(expected) && Number.isInteger(actual)
        ? actual === expected
        : Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
    return same ? [] : [`${path}: ${actual} ≠ ${expected}`];
  }
  if (actual !== null && expected !== null && typeof actual === 'object' && typeof expected === 'object') {
    const keys = new Set([...Object.keys(actual), ...Object.keys(expected)]);
    return [...keys].flatMap((key) =>
      differences(
        (actual as Record<string, unknown>)[key],
        (expected as Record<string, unknown>)[key],
        `${path}/${key}`,
      ),
    );
  }
  return Object.is(actual, expected)
    ? []
    : [`${path}: ${JSON.stringify(actual)} ≠ ${JSON.stringify(expected)}`];
}

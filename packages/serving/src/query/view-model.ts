// What the HTTP layer needs to know about a view, computed once per server: its dimensions, the
// finished value names each measure yields, the granularities it answers, and empty states.
import { type Cells, finalizeStates, type View } from '@tandem/core';
import { type Granularity, granularitiesFor } from './time-grid.ts';

export interface ViewModel {
  view: View;
  name: string;
  dimensions: string[];
  measureNames: string[];
  /** Finished value names per measure (a quantiles measure yields one per q). */
  outputsByMeasure: Record<string, readonly string[]>;
  /** Every finished value name, in display order. */
  outputs: string[];
  granularities: Granularity[];
  /** Finished values of `states` (missing measures count as empty), keeping only `outputs`. */
  finalize(states: Record<string, Cells>, outputs: readonly string[]): Record<string, unknown>;
}

export function buildViewModel(view: View): ViewModel {
  const measureNames = Object.keys(view.measures);
  const outputsByMeasure: Record<string, readonly string[]> = {};
  for (const name of measureNames) outputsByMeasure[name] = view.measures[name]!.outputs;
  return {
    view,
    name: view.name,
    dimensions: view.dimensions.map(String),
    measureNames,
    outputsByMeasure,
    outputs: measureNames.flatMap((name) => [...outputsByMeasure[name]!]),
    granularities: granularitiesFor(view.bucket),
    finalize(states, wanted) {
      const finished = finalizeStates(view, states);
      const values: Record<string, unknown> = {};
      for (const key of wanted) values[key] = finished[key] ?? null;
      return values;
    },
  };
}

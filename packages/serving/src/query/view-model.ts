// What the HTTP layer needs to know about a view, computed once per server: its stream, dimensions
// (with their types and the query parameter that filters each), the finished value names each
// measure yields, the granularities it answers, and empty states.
import { type Cells, type FieldType, finalizeStates, type MeasureKind, type View } from '@tandem/core';
import { type Granularity, granularitiesFor } from './time-grid.ts';

/** Query parameters of the series and top routes: a dimension of the same name cannot use them. */
export const reservedParameters: ReadonlySet<string> = new Set([
  'from',
  'to',
  'granularity',
  'groupBy',
  'measures',
  'by',
  'k',
  'dimension',
]);

/** Prefix of the filter parameter of a dimension whose own name is taken (`filter.to=x`). */
export const filterParameterPrefix = 'filter.';

/** A dimension as the API describes it. */
export interface DimensionModel {
  name: string;
  /** The stream field's type; filter values are compared in their canonical text form. */
  type: FieldType;
  /**
   * The query parameter that filters on it: the dimension's name, or `filter.<name>` when the name
   * is a query parameter of its own (`from`, `to`, ...) or a member of every JS object (`__proto__`).
   */
  parameter: string;
}

/** A measure as the API describes it. */
export interface MeasureModel {
  name: string;
  kind: MeasureKind;
  /** The field it reads; null for a count of rows. */
  field: string | null;
  /** Finished value names (a quantiles measure yields one per q). */
  values: readonly string[];
}

export interface ViewModel {
  view: View;
  name: string;
  /** Name of the stream the view reads. */
  stream: string;
  dimensions: string[];
  dimensionModels: DimensionModel[];
  measureNames: string[];
  measureModels: MeasureModel[];
  /** Finished value names per measure (a quantiles measure yields one per q). */
  outputsByMeasure: Record<string, readonly string[]>;
  /** Every finished value name, in display order. */
  outputs: string[];
  /** Finished values that are single numbers (not top-K lists): what can be charted and ranked. */
  numericOutputs: string[];
  granularities: Granularity[];
  /** Finished values of `states` (missing measures count as empty), keeping only `outputs`. */
  finalize(states: Record<string, Cells>, outputs: readonly string[]): Record<string, unknown>;
}

/** The filter parameter of a dimension (see `DimensionModel.parameter`). */
export function filterParameterOf(dimension: string): string {
  return reservedParameters.has(dimension) || dimension in Object.prototype
    ? `${filterParameterPrefix}${dimension}`
    : dimension;
}

/** Whether a view has a `/top` route: a dimension to rank and a number to rank it by. */
export function hasTopRoute(model: ViewModel): boolean {
  return model.dimensions.length > 0 && model.numericOutputs.length > 0;
}

export function buildViewModel(view: View): ViewModel {
  const measureNames = Object.keys(view.measures);
  const outputsByMeasure: Record<string, readonly string[]> = {};
  for (const name of measureNames) outputsByMeasure[name] = view.measures[name]!.outputs;
  const dimensions = view.dimensions.map(String);
  const numericOutputs = measureNames.flatMap((name) =>
    view.measures[name]!.kind === 'topK' ? [] : [...outputsByMeasure[name]!],
  );
  return {
    view,
    name: view.name,
    stream: view.stream,
    dimensions,
    dimensionModels: dimensions.map((name) => ({
      name,
      type: view.eventSchema[name] ?? 'string',
      parameter: filterParameterOf(name),
    })),
    measureNames,
    measureModels: measureNames.map((name) => {
      const measure = view.measures[name]!;
      return { name, kind: measure.kind, field: measure.field, values: outputsByMeasure[name]! };
    }),
    outputsByMeasure,
    outputs: measureNames.flatMap((name) => [...outputsByMeasure[name]!]),
    numericOutputs,
    granularities: granularitiesFor(view.bucket),
    finalize(states, wanted) {
      const finished = finalizeStates(view, states);
      const values: Record<string, unknown> = {};
      for (const key of wanted) values[key] = finished[key] ?? null;
      return values;
    },
  };
}

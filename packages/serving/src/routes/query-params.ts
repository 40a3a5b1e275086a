// Turns validated query parameters into a merge query: time range with defaults, granularity,
// dimension filters, groupBy and measure selection, plus the range-length limits.
import { DAY_MS, type DimensionFilter, HOUR_MS, type TimeRange } from '@tandem/core';
import { queryInvalid, queryTooLarge } from '../http-errors.ts';
import type { SeriesQuery } from '../query/merge-engine.ts';
import { alignRange, type Granularity } from '../query/time-grid.ts';
import type { ViewModel } from '../query/view-model.ts';
import { parseTimeParameter, timeInputRule } from './schemas.ts';

/** Limits on what one query may ask for; exceeding one is a 400 `TANDEM_ERR_QUERY_TOO_LARGE`. */
export interface QueryLimits {
  /** Longest range per granularity. */
  maxRangeMs: Record<Granularity, number>;
  /** Most series (dimension tuples) in one answer. */
  maxGroups: number;
  /** Most values (series x buckets x values) in one answer. */
  maxValues: number;
  /** Largest serialized answer, in bytes. */
  maxResponseBytes: number;
  /** Longest range a top-k query may rank over (it merges every hour of it). */
  maxTopRangeMs: number;
  /**
   * Most distinct values a top-k query may rank (each is merged over the range in memory; only
   * k of them are kept ranked). Far above `maxGroups`, which bounds what an answer carries.
   */
  maxTopGroups: number;
  /** Longest range one recompute request may cover. */
  maxRecomputeRangeMs: number;
}

export const defaultQueryLimits: QueryLimits = {
  // About 3,000 buckets at most for the sub-hour granularities, as for minutes.
  maxRangeMs: {
    '1m': 2 * DAY_MS,
    '5m': 10 * DAY_MS,
    '15m': 31 * DAY_MS,
    '30m': 62 * DAY_MS,
    '1h': 93 * DAY_MS,
    '1d': 400 * DAY_MS,
    all: 400 * DAY_MS,
  },
  maxTopRangeMs: 93 * DAY_MS,
  maxTopGroups: 1_000_000,
  maxGroups: 5000,
  maxValues: 1_000_000,
  maxResponseBytes: 16 * 1024 * 1024,
  maxRecomputeRangeMs: 31 * DAY_MS,
};

export interface RangeParameters {
  from?: string;
  to?: string;
}

/**
 * The requested range: `to` defaults to now, `from` to 24 hours before `to`; relative times
 * (`now`, `-2h`) count from `now`; both widen to whole buckets of the granularity (and whole hours).
 */
export function resolveRange(
  parameters: RangeParameters,
  granularity: Granularity,
  now: number,
  limits: QueryLimits,
): TimeRange {
  const to = parameters.to === undefined ? now : parseTime('to', parameters.to, now);
  const from = parameters.from === undefined ? to - 24 * HOUR_MS : parseTime('from', parameters.from, now);
  if (from >= to) throw queryInvalid('to', 'querystring/to must be later than from');
  const maxRange = limits.maxRangeMs[granularity];
  if (to - from > maxRange) {
    throw queryTooLarge(
      'from',
      `the range spans ${Math.ceil((to - from) / HOUR_MS)} hours, more than the ${maxRange / HOUR_MS} allowed ` +
        `at granularity ${granularity}; use a shorter range or a coarser granularity`,
    );
  }
  return alignRange({ from, to }, granularity);
}

/** Relative times (`-2h`) count from the same `now` as the defaults, once per request. */
function parseTime(parameter: string, text: string, now: number): number {
  const value = parseTimeParameter(text, now);
  if (value === null) throw queryInvalid(parameter, `querystring/${parameter} ${timeInputRule}`);
  return value;
}

/**
 * Dimension equality filters: one per query parameter that names a dimension (`site=berlin`, or
 * `filter.<name>` for a dimension whose name is taken, see `DimensionModel.parameter`). Values of
 * numeric dimensions are compared in their canonical text form, so `7`, `07` and `7.0` all match 7.
 * The object has no prototype: dimension names are stream field names, and `__proto__` is one.
 */
export function dimensionFilter(model: ViewModel, query: Record<string, unknown>): DimensionFilter {
  const filter: DimensionFilter = Object.create(null) as DimensionFilter;
  for (const dimension of model.dimensionModels) {
    const value = Object.hasOwn(query, dimension.parameter) ? query[dimension.parameter] : undefined;
    if (typeof value !== 'string') continue;
    filter[dimension.name] =
      dimension.type === 'integer' || dimension.type === 'number'
        ? canonicalNumber(dimension.parameter, dimension.type, value)
        : value;
  }
  return filter;
}

/** The text a number dimension's value has in partial rows (`String(number)`). */
function canonicalNumber(parameter: string, type: 'integer' | 'number', text: string): string {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || (type === 'integer' && !Number.isSafeInteger(value))) {
    throw queryInvalid(
      parameter,
      `querystring/${parameter} must be ${type === 'integer' ? 'an integer' : 'a finite number'}`,
    );
  }
  return String(value);
}

/** `groupBy`: comma-separated dimensions, or `none` for one total series. Default: every dimension. */
export function resolveGroupBy(model: ViewModel, text: string | undefined): string[] {
  if (text === undefined) return [...model.dimensions];
  if (text === 'none') return [];
  const wanted = new Set(text.split(','));
  for (const name of wanted) {
    if (!model.dimensions.includes(name)) {
      throw queryInvalid('groupBy', `querystring/groupBy: "${name}" is not a dimension of ${model.name}`);
    }
  }
  return model.dimensions.filter((dimension) => wanted.has(dimension));
}

/**
 * `measures`: comma-separated measure names or finished value names (`p95_latency_ms`).
 * Default: every value. Returns the values to answer and the measures whose states they need.
 */
export function resolveMeasures(
  model: ViewModel,
  text: string | undefined,
): Pick<SeriesQuery, 'outputs' | 'measures'> {
  if (text === undefined) return { outputs: [...model.outputs], measures: [...model.measureNames] };
  const outputs = new Set<string>();
  const measures = new Set<string>();
  for (const name of text.split(',')) {
    const fromMeasure = model.outputsByMeasure[name];
    if (fromMeasure !== undefined) {
      for (const output of fromMeasure) outputs.add(output);
      measures.add(name);
      continue;
    }
    const owner = model.measureNames.find((measure) => model.outputsByMeasure[measure]!.includes(name));
    if (owner === undefined) {
      throw queryInvalid('measures', `querystring/measures: "${name}" is not a measure of ${model.name}`);
    }
    outputs.add(name);
    measures.add(owner);
  }
  return {
    outputs: model.outputs.filter((output) => outputs.has(output)),
    measures: model.measureNames.filter((measure) => measures.has(measure)),
  };
}

/**
 * Re-checks an integer parameter after ajv: its string coercion turns "1e309" or 400 nines into
 * Infinity and then skips `minimum` / `maximum` (ajv 8.20), so the schema alone is not enough.
 */
export function integerParameter(parameter: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw queryInvalid(parameter, `querystring/${parameter} must be an integer from ${min} to ${max}`);
  }
  return value;
}

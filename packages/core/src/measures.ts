// Measures as monoids over flat numeric cells: one MergeOp per measure, so any store can merge
// a partial state without knowing the measure. Each measure has a version; a change to its state
// layout bumps it, and decodeStates refuses states of another version.
import { TandemError } from './errors.ts';
import type { FieldSchema, FieldType } from './fields.ts';
import { compareCodePoints, type Filter, validateFilter } from './filter.ts';
import { ddAdd, ddQuantiles } from './sketches/ddsketch.ts';
import { hllAdd, hllEstimate } from './sketches/hll.ts';
import type { Cells, MergeOp } from './types.ts';

export const measureKinds = ['count', 'sum', 'min', 'max', 'avg', 'distinct', 'quantiles', 'topK'] as const;
export type MeasureKind = (typeof measureKinds)[number];

/** How a view declares a measure. */
export interface MeasureSpec {
  kind: MeasureKind;
  /** The measured field. Optional for count (rows are counted; with a field, its non-null values). */
  field?: string;
  /** Only rows passing this filter feed the measure. */
  where?: Filter | null;
  /** quantiles: the fractions to report, e.g. [0.5, 0.95, 0.99]. */
  qs?: readonly number[];
  /** topK: how many keys to report. @defaultValue 10 */
  k?: number;
}

export type TopKEntry = { key: string; count: number };
export type MeasureValue = number | null | TopKEntry[] | Record<string, number | null>;

/** A measure: a commutative monoid over `Cells` plus its finishing function. */
export interface Measure {
  readonly name: string;
  readonly kind: MeasureKind;
  readonly version: number;
  readonly op: MergeOp;
  readonly field: string | null;
  readonly where: Filter | null;
  /** quantiles only: the fractions, in declared order. */
  readonly qs: readonly number[];
  /** topK only: keys kept at finalize. */
  readonly k: number | null;
  /** Names of the finished values (`[name]`, or `p50_<name>`, ... for quantiles). */
  readonly outputs: readonly string[];
  /** The identity state. */
  empty(): Cells;
  /**
   * Folds one input value into `state` in place and returns it. Null/undefined inputs are skipped
   * (count without a field is fed any non-null value per row). Filtering by `where` is the caller's.
   */
  add(state: Cells, value: unknown): Cells;
  /** A new state equal to a ⊕ b; neither argument is changed. */
  merge(a: Cells, b: Cells): Cells;
  /** The finished value: a number, null (no input), top-K entries or quantile values by output name. */
  finalize(state: Cells): MeasureValue;
}

/**
 * A fresh cells object. Null prototype: topK and sketch cells are keyed by data ("__proto__" is a
 * perfectly good page id), which must never reach Object.prototype.
 */
export function newCells(): Cells {
  return Object.create(null) as Cells;
}

/** Merges two cells objects with one op; a cell missing on one side takes the other's value. */
export function mergeCells(op: MergeOp, a: Cells, b: Cells): Cells {
  const out = newCells();
  for (const key in a) out[key] = a[key] as number;
  for (const key in b) {
    const v = b[key] as number;
    const current = out[key];
    if (current === undefined) out[key] = v;
    else if (op === 'add') out[key] = current + v;
    else if (op === 'min') out[key] = Math.min(v, current);
    else out[key] = Math.max(v, current);
  }
  return out;
}

function measureError(name: string, message: string): TandemError {
  return new TandemError('TANDEM_ERR_MEASURE_INVALID', `measure "${name}": ${message}`, {
    details: { measure: name },
  });
}

/** `0.5` → `50`, `0.999` → `99_9`: the part of a quantile output name after `p`. */
export function quantileLabel(q: number): string {
  return String(Number((q * 100).toPrecision(12))).replace('.', '_');
}

const numericTypes: readonly FieldType[] = ['integer', 'number'];
const keyTypes: readonly FieldType[] = ['string', 'integer'];
/** count takes any field (it counts non-null values); booleans only ever feed count and filters. */
const countTypes: readonly FieldType[] = ['string', 'integer', 'number', 'boolean'];

/** Why a measure kind can not read a field of a type, in words. */
function typeHint(kind: MeasureKind, type: FieldType): string {
  if (type === 'boolean') {
    return ' (a boolean field can be counted, or filter a measure: { kind: "count", where: { op: "eq", field, value: true } })';
  }
  if (kind === 'distinct' || kind === 'topK')
    return ' (keys must print the same in SQL and TS, which doubles do not)';
  return '';
}

function requireField(
  name: string,
  spec: MeasureSpec,
  schema: FieldSchema,
  allowed: readonly FieldType[],
): string {
  const field = spec.field;
  if (typeof field !== 'string' || !Object.hasOwn(schema, field)) {
    throw new TandemError(
      'TANDEM_ERR_VIEW_FIELD_UNKNOWN',
      `measure "${name}" (${spec.kind}): unknown field ${JSON.stringify(field)}; known fields: ${Object.keys(schema).join(', ')}`,
      { details: { measure: name, field } },
    );
  }
  const type = schema[field] as FieldType;
  if (!allowed.includes(type)) {
    throw new TandemError(
      'TANDEM_ERR_MEASURE_INVALID',
      `measure "${name}": ${spec.kind} needs a field of type ${allowed.join(' or ')}, but "${field}" is ${type}` +
        typeHint(spec.kind, type),
      { details: { measure: name, field } },
    );
  }
  return field;
}

/** Builds a measure from its spec, validating fields and filter against `schema`. */
export function createMeasure(name: string, spec: MeasureSpec, schema: FieldSchema): Measure {
  if (typeof spec !== 'object' || spec === null) throw measureError(name, 'a measure spec must be an object');
  const where =
    spec.where === undefined || spec.where === null
      ? null
      : validateFilter(spec.where, schema, `measure "${name}" where`);
  const base = { name, where, qs: [] as number[], k: null as number | null, outputs: [name] };
  switch (spec.kind) {
    case 'count': {
      const field = spec.field === undefined ? null : requireField(name, spec, schema, countTypes);
      return {
        ...base,
        kind: 'count',
        version: 1,
        op: 'add',
        field,
        empty: () => {
          const c = newCells();
          c.n = 0;
          return c;
        },
        add: (state, value) => {
          if (value !== null && value !== undefined) state.n = (state.n ?? 0) + 1;
          return state;
        },
        merge: (a, b) => mergeCells('add', a, b),
        finalize: (state) => state.n ?? 0,
      };
    }
    case 'sum': {
      const field = requireField(name, spec, schema, numericTypes);
      return {
        ...base,
        kind: 'sum',
        version: 1,
        op: 'add',
        field,
        empty: () => {
          const c = newCells();
          c.s = 0;
          return c;
        },
        add: (state, value) => {
          if (value !== null && value !== undefined) state.s = (state.s ?? 0) + (value as number);
          return state;
        },
        merge: (a, b) => mergeCells('add', a, b),
        finalize: (state) => state.s ?? 0,
      };
    }
    case 'min':
    case 'max': {
      const field = requireField(name, spec, schema, numericTypes);
      const isMin = spec.kind === 'min';
      return {
        ...base,
        kind: spec.kind,
        version: 1,
        op: spec.kind,
        field,
        empty: newCells,
        add: (state, value) => {
          if (value === null || value === undefined) return state;
          const v = value as number;
          const current = state.v;
          if (current === undefined || (isMin ? v < current : v > current)) state.v = v;
          return state;
        },
        merge: (a, b) => mergeCells(isMin ? 'min' : 'max', a, b),
        finalize: (state) => state.v ?? null,
      };
    }
    case 'avg': {
      const field = requireField(name, spec, schema, numericTypes);
      return {
        ...base,
        kind: 'avg',
        version: 1,
        op: 'add',
        field,
        empty: () => {
          const c = newCells();
          c.s = 0;
          c.n = 0;
          return c;
        },
        add: (state, value) => {
          if (value === null || value === undefined) return state;
          state.s = (state.s ?? 0) + (value as number);
          state.n = (state.n ?? 0) + 1;
          return state;
        },
        merge: (a, b) => mergeCells('add', a, b),
        finalize: (state) => (state.n ? (state.s ?? 0) / state.n : null),
      };
    }
    case 'distinct': {
      const field = requireField(name, spec, schema, keyTypes);
      return {
        ...base,
        kind: 'distinct',
        version: 1,
        op: 'max',
        field,
        empty: newCells,
        add: (state, value) => {
          if (value === null || value === undefined) return state;
          return hllAdd(state, typeof value === 'string' ? value : String(value));
        },
        merge: (a, b) => mergeCells('max', a, b),
        finalize: (state) => hllEstimate(state),
      };
    }
    case 'quantiles': {
      const field = requireField(name, spec, schema, numericTypes);
      const qs = spec.qs;
      if (
        !Array.isArray(qs) ||
        qs.length === 0 ||
        qs.some((q) => typeof q !== 'number' || !(q >= 0 && q <= 1))
      ) {
        throw measureError(
          name,
          'quantiles needs qs: a non-empty array of fractions in [0, 1], e.g. [0.5, 0.99]',
        );
      }
      const outputs = qs.map((q) => `p${quantileLabel(q)}_${name}`);
      if (new Set(outputs).size !== outputs.length) throw measureError(name, 'qs must not repeat');
      return {
        ...base,
        qs: [...qs],
        outputs,
        kind: 'quantiles',
        version: 1,
        op: 'add',
        field,
        empty: newCells,
        add: (state, value) =>
          value === null || value === undefined ? state : ddAdd(state, value as number),
        merge: (a, b) => mergeCells('add', a, b),
        finalize: (state) => {
          const values = ddQuantiles(state, qs);
          const out: Record<string, number | null> = {};
          outputs.forEach((output, i) => {
            out[output] = values[i] ?? null;
          });
          return out;
        },
      };
    }
    case 'topK': {
      const field = requireField(name, spec, schema, keyTypes);
      const k = spec.k ?? 10;
      if (!Number.isInteger(k) || k < 1 || k > 10_000)
        throw measureError(name, 'k must be an integer 1-10000');
      return {
        ...base,
        k,
        kind: 'topK',
        version: 1,
        op: 'add',
        field,
        empty: newCells,
        add: (state, value) => {
          if (value === null || value === undefined) return state;
          const key = typeof value === 'string' ? value : String(value);
          state[key] = (state[key] ?? 0) + 1;
          return state;
        },
        merge: (a, b) => mergeCells('add', a, b),
        finalize: (state) => topKEntries(state, k),
      };
    }
    default:
      throw measureError(
        name,
        `unknown kind ${JSON.stringify((spec as { kind: unknown }).kind)}; use ${measureKinds.join(', ')}`,
      );
  }
}

/** The k largest counts, ties broken by key in code-point order (deterministic across engines). */
export function topKEntries(state: Cells, k: number): TopKEntry[] {
  const entries: TopKEntry[] = [];
  for (const key in state) {
    const count = state[key] as number;
    if (count > 0) entries.push({ key, count });
  }
  entries.sort((a, b) => b.count - a.count || compareCodePoints(a.key, b.key));
  return entries.slice(0, k);
}

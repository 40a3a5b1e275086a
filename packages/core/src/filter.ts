// The declarative filter of views and measures: validated once against a field allow-list, then
// compiled both to a TS predicate and to a SQL expression with identical three-valued semantics
// (a comparison with a null field is unknown; NOT unknown is unknown; only true passes).
import { TandemError } from './errors.ts';
import { type FieldSchema, type FieldType, hasField } from './fields.ts';
import { type SqlParams, sqlParam, quoteIdent } from './sql.ts';

/** A value filters compare with: a string, a finite number, or a boolean (boolean fields: eq, ne, in only). */
export type FilterValue = string | number | boolean;
export type ComparisonOp = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte';

/** A filter over a view's fields. JSON-able; never code. */
export type Filter =
  | { op: ComparisonOp; field: string; value: FilterValue }
  | { op: 'in'; field: string; values: FilterValue[] }
  | { op: 'between'; field: string; low: FilterValue; high: FilterValue }
  | { op: 'exists'; field: string }
  | { op: 'and' | 'or'; filters: Filter[] }
  | { op: 'not'; filter: Filter };

/** Every operator a filter may use. */
export const filterOperators = [
  'eq',
  'ne',
  'gt',
  'gte',
  'lt',
  'lte',
  'in',
  'between',
  'exists',
  'and',
  'or',
  'not',
] as const;

/** Builders, so view definitions read like the DSL: `where.between('status_code', 200, 299)`. */
export const where = {
  eq: (field: string, value: FilterValue): Filter => ({ op: 'eq', field, value }),
  ne: (field: string, value: FilterValue): Filter => ({ op: 'ne', field, value }),
  gt: (field: string, value: FilterValue): Filter => ({ op: 'gt', field, value }),
  gte: (field: string, value: FilterValue): Filter => ({ op: 'gte', field, value }),
  lt: (field: string, value: FilterValue): Filter => ({ op: 'lt', field, value }),
  lte: (field: string, value: FilterValue): Filter => ({ op: 'lte', field, value }),
  in: (field: string, values: FilterValue[]): Filter => ({ op: 'in', field, values }),
  between: (field: string, low: FilterValue, high: FilterValue): Filter => ({
    op: 'between',
    field,
    low,
    high,
  }),
  exists: (field: string): Filter => ({ op: 'exists', field }),
  and: (...filters: Filter[]): Filter => ({ op: 'and', filters }),
  or: (...filters: Filter[]): Filter => ({ op: 'or', filters }),
  not: (filter: Filter): Filter => ({ op: 'not', filter }),
};

function invalid(message: string, details: Record<string, unknown> = {}): TandemError {
  return new TandemError('TANDEM_ERR_VIEW_INVALID', message, { details });
}

function checkValue(field: string, type: FieldType, value: unknown, context: string): FilterValue {
  if (type === 'boolean') {
    if (typeof value !== 'boolean') {
      throw invalid(`${context}: field "${field}" is a boolean field; compare it with true or false`, {
        field,
      });
    }
    return value;
  }
  if (type === 'string') {
    if (typeof value !== 'string' || !value.isWellFormed()) {
      throw invalid(`${context}: field "${field}" is a string field; compare it with a string`, { field });
    }
    return value;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalid(`${context}: field "${field}" is numeric; compare it with a finite number`, { field });
  }
  return value;
}

/** Booleans have no order: only eq, ne, in and exists apply to them. */
function checkOrdered(type: FieldType, field: string, op: string, context: string): void {
  if (type === 'boolean') {
    throw invalid(
      `${context}: "${op}" needs an ordered field, but "${field}" is boolean; use eq, ne, in or exists`,
      {
        field,
        op,
      },
    );
  }
}

function checkField(schema: FieldSchema, field: unknown, context: string): FieldType {
  if (typeof field !== 'string' || !hasField(schema, field)) {
    throw new TandemError(
      'TANDEM_ERR_VIEW_FIELD_UNKNOWN',
      `${context}: unknown field ${JSON.stringify(field)}; known fields: ${Object.keys(schema).join(', ')}`,
      { details: { field } },
    );
  }
  return schema[field] as FieldType;
}

/**
 * Validates a filter against a field schema and returns a normalized deep copy.
 * Throws `TANDEM_ERR_VIEW_OPERATOR_UNKNOWN`, `TANDEM_ERR_VIEW_FIELD_UNKNOWN` or `TANDEM_ERR_VIEW_INVALID`.
 */
export function validateFilter(filter: unknown, schema: FieldSchema, context = 'filter'): Filter {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) {
    throw invalid(`${context}: a filter must be an object like { op: 'eq', field, value }`);
  }
  const f = filter as Record<string, unknown>;
  const op = f.op;
  switch (op) {
    case 'eq':
    case 'ne':
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const type = checkField(schema, f.field, context);
      if (op !== 'eq' && op !== 'ne') checkOrdered(type, f.field as string, op, context);
      return { op, field: f.field as string, value: checkValue(f.field as string, type, f.value, context) };
    }
    case 'in': {
      const type = checkField(schema, f.field, context);
      if (!Array.isArray(f.values) || f.values.length === 0) {
        throw invalid(`${context}: "in" needs a non-empty values array`, { field: f.field });
      }
      return {
        op,
        field: f.field as string,
        values: f.values.map((v) => checkValue(f.field as string, type, v, context)),
      };
    }
    case 'between': {
      const type = checkField(schema, f.field, context);
      checkOrdered(type, f.field as string, op, context);
      return {
        op,
        field: f.field as string,
        low: checkValue(f.field as string, type, f.low, context),
        high: checkValue(f.field as string, type, f.high, context),
      };
    }
    case 'exists':
      checkField(schema, f.field, context);
      return { op, field: f.field as string };
    case 'and':
    case 'or':
      if (!Array.isArray(f.filters)) throw invalid(`${context}: "${op}" needs a filters array`);
      return { op, filters: f.filters.map((inner) => validateFilter(inner, schema, context)) };
    case 'not':
      return { op, filter: validateFilter(f.filter, schema, context) };
    default:
      throw new TandemError(
        'TANDEM_ERR_VIEW_OPERATOR_UNKNOWN',
        `${context}: unknown operator ${JSON.stringify(op)}; use one of ${filterOperators.join(', ')}`,
        { details: { op } },
      );
  }
}

/** Three-valued truth: 0 false, 1 true, 2 unknown (SQL NULL). */
export type Truth = 0 | 1 | 2;
const FALSE = 0;
const TRUE = 1;
const UNKNOWN = 2;

/** A compiled filter: evaluates a row (an event or a session) to a three-valued truth. */
export type FilterPredicate = (row: Readonly<Record<string, unknown>>) => Truth;

/**
 * Orders strings by Unicode code point, as DuckDB compares UTF-8 bytes. JS's `<` compares UTF-16
 * units, which puts astral characters (surrogates, 0xD800-0xDFFF) below U+E000-U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

function compare(a: FilterValue, b: FilterValue): number {
  if (typeof a === 'string') return compareCodePoints(a, b as string);
  // Booleans only meet eq / ne (validateFilter refuses the rest): equal or not.
  if (typeof a === 'boolean') return a === b ? 0 : 1;
  return a - (b as number);
}

/** Compiles a validated filter to a predicate. `null` means "no filter": everything passes. */
export function compileFilterPredicate(filter: Filter | null): FilterPredicate {
  if (filter === null) return () => TRUE;
  switch (filter.op) {
    case 'eq':
    case 'ne':
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const { field, value } = filter;
      const test = comparisonTest(filter.op);
      return (row) => {
        const v = row[field] as FilterValue | null | undefined;
        if (v === null || v === undefined) return UNKNOWN;
        return test(compare(v, value)) ? TRUE : FALSE;
      };
    }
    case 'in': {
      const { field } = filter;
      const values = new Set<FilterValue>(filter.values.map((v) => (v === 0 ? 0 : v)));
      return (row) => {
        const v = row[field] as FilterValue | null | undefined;
        if (v === null || v === undefined) return UNKNOWN;
        return values.has(v === 0 ? 0 : v) ? TRUE : FALSE;
      };
    }
    case 'between': {
      const { field, low, high } = filter;
      return (row) => {
        const v = row[field] as FilterValue | null | undefined;
        if (v === null || v === undefined) return UNKNOWN;
        return compare(v, low) >= 0 && compare(v, high) <= 0 ? TRUE : FALSE;
      };
    }
    case 'exists': {
      const { field } = filter;
      return (row) => (row[field] === null || row[field] === undefined ? FALSE : TRUE);
    }
    case 'and': {
      const parts = filter.filters.map(compileFilterPredicate);
      return (row) => {
        let result: Truth = TRUE;
        for (const part of parts) {
          const t = part(row);
          if (t === FALSE) return FALSE;
          if (t === UNKNOWN) result = UNKNOWN;
        }
        return result;
      };
    }
    case 'or': {
      const parts = filter.filters.map(compileFilterPredicate);
      return (row) => {
        let result: Truth = FALSE;
        for (const part of parts) {
          const t = part(row);
          if (t === TRUE) return TRUE;
          if (t === UNKNOWN) result = UNKNOWN;
        }
        return result;
      };
    }
    case 'not': {
      const inner = compileFilterPredicate(filter.filter);
      return (row) => {
        const t = inner(row);
        return t === UNKNOWN ? UNKNOWN : t === TRUE ? FALSE : TRUE;
      };
    }
  }
}

function comparisonTest(op: ComparisonOp): (c: number) => boolean {
  switch (op) {
    case 'eq':
      return (c) => c === 0;
    case 'ne':
      return (c) => c !== 0;
    case 'gt':
      return (c) => c > 0;
    case 'gte':
      return (c) => c >= 0;
    case 'lt':
      return (c) => c < 0;
    case 'lte':
      return (c) => c <= 0;
  }
}

const sqlComparison: Record<ComparisonOp, string> = {
  eq: '=',
  ne: '<>',
  gt: '>',
  gte: '>=',
  lt: '<',
  lte: '<=',
};

/**
 * Compiles a validated filter to a SQL boolean expression over columns named like the fields
 * (quoted), or over `columnOf(field)` when given. Values become parameters in `params`.
 */
export function compileFilterSql(
  filter: Filter | null,
  params: SqlParams,
  columnOf: (field: string) => string = quoteIdent,
  fieldType?: (field: string) => FieldType | undefined,
): string {
  if (filter === null) return 'TRUE';
  // Integer values against integer columns bind as BIGINT: same truth, and no per-row cast to DOUBLE.
  const param = (field: string, value: FilterValue) =>
    typeof value === 'boolean'
      ? `CAST(${sqlParam(params, String(value))} AS BOOLEAN)`
      : typeof value === 'number' && Number.isSafeInteger(value) && fieldType?.(field) === 'integer'
        ? sqlParam(params, value, 'BIGINT')
        : sqlParam(params, value);
  const inner = (f: Filter) => compileFilterSql(f, params, columnOf, fieldType);
  switch (filter.op) {
    case 'eq':
    case 'ne':
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return `(${columnOf(filter.field)} ${sqlComparison[filter.op]} ${param(filter.field, filter.value)})`;
    case 'in':
      return `(${columnOf(filter.field)} IN (${filter.values.map((v) => param(filter.field, v)).join(', ')}))`;
    case 'between':
      return `(${columnOf(filter.field)} BETWEEN ${param(filter.field, filter.low)} AND ${param(filter.field, filter.high)})`;
    case 'exists':
      return `(${columnOf(filter.field)} IS NOT NULL)`;
    case 'and':
      return filter.filters.length === 0 ? 'TRUE' : `(${filter.filters.map(inner).join(' AND ')})`;
    case 'or':
      return filter.filters.length === 0 ? 'FALSE' : `(${filter.filters.map(inner).join(' OR ')})`;
    case 'not':
      return `(NOT ${inner(filter.filter)})`;
  }
}

/** Field names a filter reads. */
export function filterFields(filter: Filter | null, into: Set<string> = new Set()): Set<string> {
  if (filter === null) return into;
  switch (filter.op) {
    case 'and':
    case 'or':
      for (const f of filter.filters) filterFields(f, into);
      return into;
    case 'not':
      return filterFields(filter.filter, into);
    default:
      into.add(filter.field);
      return into;
  }
}

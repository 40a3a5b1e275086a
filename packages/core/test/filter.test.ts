// Filters: definition-time validation with coded errors, SQL-like three-valued logic in TS, and
// code-point string order (DuckDB compares UTF-8 bytes).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTandemError } from '../src/errors.ts';
import { eventFieldTypes } from '../src/fields.ts';
import {
  compareCodePoints,
  compileFilterPredicate,
  compileFilterSql,
  validateFilter,
  where,
} from '../src/filter.ts';
import type { SqlParams } from '../src/sql.ts';

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (error) {
    return isTandemError(error) ? error.code : 'not a TandemError';
  }
}

describe('validateFilter', () => {
  it('rejects unknown fields, unknown operators and ill-typed values with coded errors', () => {
    expect(codeOf(() => validateFilter(where.eq('nope', 1), eventFieldTypes))).toBe(
      'TANDEM_ERR_VIEW_FIELD_UNKNOWN',
    );
    expect(codeOf(() => validateFilter({ op: 'like', field: 'endpoint', value: '%' }, eventFieldTypes))).toBe(
      'TANDEM_ERR_VIEW_OPERATOR_UNKNOWN',
    );
    expect(
      codeOf(() => validateFilter(where.and(where.not({ op: 'regex' } as never)), eventFieldTypes)),
    ).toBe('TANDEM_ERR_VIEW_OPERATOR_UNKNOWN');
    expect(codeOf(() => validateFilter(where.eq('status_code', '200'), eventFieldTypes))).toBe(
      'TANDEM_ERR_VIEW_INVALID',
    );
    expect(codeOf(() => validateFilter(where.eq('endpoint', 5), eventFieldTypes))).toBe(
      'TANDEM_ERR_VIEW_INVALID',
    );
    expect(codeOf(() => validateFilter(where.gte('response_time_ms', Number.NaN), eventFieldTypes))).toBe(
      'TANDEM_ERR_VIEW_INVALID',
    );
    expect(codeOf(() => validateFilter(where.in('method', []), eventFieldTypes))).toBe(
      'TANDEM_ERR_VIEW_INVALID',
    );
    expect(codeOf(() => validateFilter('status_code = 200', eventFieldTypes))).toBe(
      'TANDEM_ERR_VIEW_INVALID',
    );
    expect(validateFilter(where.between('status_code', 200, 299), eventFieldTypes)).toEqual({
      op: 'between',
      field: 'status_code',
      low: 200,
      high: 299,
    });
  });
});

describe('compileFilterPredicate', () => {
  const row = { status_code: 200, user_id: null, endpoint: '/a' };
  const t = (f: Parameters<typeof compileFilterPredicate>[0]) => compileFilterPredicate(f)(row);

  it('treats comparisons with null as unknown, and only true passes', () => {
    expect(t(where.eq('user_id', 'u'))).toBe(2);
    expect(t(where.ne('user_id', 'u'))).toBe(2);
    expect(t(where.not(where.eq('user_id', 'u')))).toBe(2);
    expect(t(where.exists('user_id'))).toBe(0);
    expect(t(where.not(where.exists('user_id')))).toBe(1);
    expect(t(where.or(where.eq('user_id', 'u'), where.eq('status_code', 200)))).toBe(1);
    expect(t(where.or(where.eq('user_id', 'u'), where.eq('status_code', 500)))).toBe(2);
    expect(t(where.and(where.eq('user_id', 'u'), where.eq('status_code', 500)))).toBe(0);
    expect(t(where.and(where.eq('user_id', 'u'), where.eq('status_code', 200)))).toBe(2);
    expect(t(where.and())).toBe(1);
    expect(t(where.or())).toBe(0);
    expect(t(where.between('status_code', 200, 200))).toBe(1);
    expect(t(where.in('endpoint', ['/b', '/a']))).toBe(1);
  });

  it('compiles to SQL with every value as a parameter', () => {
    const params: SqlParams = {};
    const sql = compileFilterSql(
      where.and(where.eq('endpoint', "x' OR 1=1 --"), where.gte('status_code', 500)),
      params,
    );
    expect(sql).toBe('(("endpoint" = CAST($p1 AS VARCHAR)) AND ("status_code" >= CAST($p2 AS DOUBLE)))');
    expect(params).toEqual({ p1: "x' OR 1=1 --", p2: '500' });
  });
});

describe('compareCodePoints', () => {
  it('orders strings like their UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        expect(Math.sign(compareCodePoints(a, b))).toBe(
          Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))),
        );
      }),
      { numRuns: 500 },
    );
    expect(compareCodePoints('\uFFFF', '😀')).toBeLessThan(0);
    expect('\uFFFF' < '😀').toBe(false);
  });
});

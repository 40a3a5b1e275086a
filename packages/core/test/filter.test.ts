// Filters: definition-time validation with coded errors, SQL-like three-valued logic in TS, and
// code-point string order (DuckDB compares UTF-8 bytes).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTandemError } from '../src/errors.ts';
import { eventFieldTypes, type FieldSchema } from '../src/fields.ts';
import {
  compareCodePoints,
  compileFilterPredicate,
  compileFilterSql,
  validateFilter,
  where,
} from '../src/filter.ts';
import type { SqlParams } from '../src/sql.ts';
import { filterArb } from './support/arbitraries.ts';
import { openTestDuck, type TestDuck } from './support/duckdb.ts';

let duck: TestDuck;
beforeAll(async () => {
  duck = await openTestDuck();
});
afterAll(() => duck.close());

/** A stream's fields with booleans among them (an IoT reading, say). */
const readingFields: FieldSchema = {
  low_battery: 'boolean',
  online: 'boolean',
  level: 'integer',
  site: 'string',
};

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

describe('filters over boolean fields', () => {
  it('accept eq, ne, in and exists with boolean values, and refuse order comparisons', () => {
    expect(validateFilter(where.eq('low_battery', true), readingFields)).toEqual({
      op: 'eq',
      field: 'low_battery',
      value: true,
    });
    expect(validateFilter(where.in('online', [false, true]), readingFields)).toEqual({
      op: 'in',
      field: 'online',
      values: [false, true],
    });
    expect(codeOf(() => validateFilter(where.ne('online', false), readingFields))).toBeNull();
    expect(codeOf(() => validateFilter(where.exists('online'), readingFields))).toBeNull();
    for (const filter of [
      where.gt('low_battery', false),
      where.gte('low_battery', true),
      where.lt('low_battery', true),
      where.lte('low_battery', true),
      where.between('low_battery', false, true),
      where.eq('low_battery', 'true'),
      where.eq('low_battery', 1),
      where.in('low_battery', [true, 0]),
      where.eq('site', true),
      where.eq('level', false),
    ]) {
      expect(
        codeOf(() => validateFilter(filter, readingFields)),
        JSON.stringify(filter),
      ).toBe('TANDEM_ERR_VIEW_INVALID');
    }
    let message = '';
    try {
      validateFilter(where.gt('low_battery', false), readingFields, 'view "site_minutely" filter');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(
      'view "site_minutely" filter: "gt" needs an ordered field, but "low_battery" is boolean; use eq, ne, in or exists',
    );
  });

  it('compile to a predicate and to SQL with the boolean as a parameter', () => {
    const row = { low_battery: true, online: null };
    expect(compileFilterPredicate(where.eq('low_battery', true))(row)).toBe(1);
    expect(compileFilterPredicate(where.ne('low_battery', true))(row)).toBe(0);
    expect(compileFilterPredicate(where.eq('online', false))(row)).toBe(2);
    expect(compileFilterPredicate(where.in('low_battery', [false]))(row)).toBe(0);
    expect(compileFilterPredicate(where.exists('online'))(row)).toBe(0);
    const params: SqlParams = {};
    expect(compileFilterSql(where.in('low_battery', [true, false]), params)).toBe(
      '("low_battery" IN (CAST(CAST($p1 AS VARCHAR) AS BOOLEAN), CAST(CAST($p2 AS VARCHAR) AS BOOLEAN)))',
    );
    expect(params).toEqual({ p1: 'true', p2: 'false' });
  });

  it('give the same three-valued truth in TS and in DuckDB', async () => {
    const rowArb = fc.record({
      low_battery: fc.option(fc.boolean()),
      online: fc.option(fc.boolean()),
      level: fc.option(fc.integer({ min: -2, max: 2 })),
      site: fc.option(fc.constantFrom('a', 'b', '')),
    });
    const rows = fc.sample(rowArb, { numRuns: 60, seed: 7 });
    await duck.connection.run(
      'CREATE OR REPLACE TABLE readings (id INTEGER, low_battery BOOLEAN, online BOOLEAN, level BIGINT, site VARCHAR)',
    );
    const appender = await duck.connection.createAppender('readings');
    rows.forEach((row, id) => {
      appender.appendInteger(id);
      for (const flag of [row.low_battery, row.online]) {
        if (flag === null) appender.appendNull();
        else appender.appendBoolean(flag);
      }
      if (row.level === null) appender.appendNull();
      else appender.appendBigInt(BigInt(row.level));
      if (row.site === null) appender.appendNull();
      else appender.appendVarchar(row.site);
      appender.endRow();
    });
    appender.closeSync();
    await fc.assert(
      fc.asyncProperty(filterArb(readingFields), async (raw) => {
        const filter = validateFilter(raw, readingFields);
        const params: SqlParams = {};
        const sql = compileFilterSql(filter, params, undefined, (field) => readingFields[field]);
        const result = await duck.rows(
          `SELECT id, CASE WHEN ${sql} THEN 1 WHEN NOT ${sql} THEN 0 ELSE 2 END AS truth FROM readings ORDER BY id`,
          params,
        );
        const predicate = compileFilterPredicate(filter);
        expect(result.map((r) => r.truth)).toEqual(rows.map((row) => predicate(row)));
      }),
      { numRuns: 150 },
    );
  });
});

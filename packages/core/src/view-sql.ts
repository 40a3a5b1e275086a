// The batch engine: compiles a view to one DuckDB query yielding a row of partial states per
// (bucket, dimensions), equal to what the reducer folds. Scalar measures are plain FILTERed
// aggregates in one pass; sketches (HLL registers, DDSketch bins, topK keys) aggregate at a second
// grouping level and fold into JSON objects, joined back on (bucket, dimensions).
import { TandemError } from './errors.ts';
import { eventFieldTypes, type FieldType } from './fields.ts';
import { compileFilterSql } from './filter.ts';
import type { Measure } from './measures.ts';
import { DDSKETCH_MIN_INDEXABLE, DDSKETCH_ZERO_CELL, ddKeySql } from './sketches/ddsketch.ts';
import { hllSqlExpressions } from './sketches/hll.ts';
import { type CompiledSql, quoteIdent, type SqlParams, sqlDouble, sqlInteger, sqlParam } from './sql.ts';
import { bucketCeil, DAY_MS, dayStart } from './time.ts';
import type { Cells, DimensionValue, PartialRow, TimeRange } from './types.ts';
import { toCells, type View } from './view.ts';

export interface CompileViewSqlOptions {
  /**
   * The events relation: a table/view name or a parenthesized subquery, with the TandemEvent
   * columns (timestamp BIGINT epoch ms), validated and deduplicated. Trusted SQL from the caller.
   */
  eventsRelation: string;
  /** Buckets `b` with `from <= b < to` are produced. Events outside `inputRangeFor(view, range)` are ignored. */
  range: TimeRange;
}

/**
 * The event-time range to read to compute the buckets of `outputRange`. For plain views, the
 * buckets' own span. Sessionized views bucket a session by its last event and break sessions at
 * UTC midnight, so an hour H needs [start of H's day, min(H + 1h + gap, next midnight)).
 */
export function inputRangeFor(view: View, outputRange: TimeRange): TimeRange {
  const from = bucketCeil(outputRange.from, view.bucketMs);
  const to = bucketCeil(outputRange.to, view.bucketMs);
  if (to <= from) return { from, to: from };
  if (view.sessionize === null) return { from, to };
  const lastBucket = to - view.bucketMs;
  return { from: dayStart(from), to: Math.min(to + view.sessionize.gapMs, dayStart(lastBucket) + DAY_MS) };
}

function measureColumn(i: number, suffix: string): string {
  return `m${i}_${suffix}`;
}

/** A JSON string literal of a measure name (names are validated: [a-z0-9_]). */
function jsonKey(name: string): string {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`unexpected name ${name}`);
  return `'${name}'`;
}

interface SketchCte {
  name: string;
  sql: string;
}

/**
 * Builds the measure part over a source CTE `src` that has `bucket`, `d0..dN`, the measured
 * fields (quoted field names) and one boolean column `w<slot>` per distinct measure filter.
 */
function compileMeasures(
  view: View,
  fieldType: (field: string) => FieldType,
  params: SqlParams,
  dimCount: number,
): { flags: string[]; fields: Set<string>; ctes: string[]; select: string } {
  const measures = Object.values(view.measures);
  const flagSlots = new Map<string, string>();
  const flags: string[] = [];
  const fields = new Set<string>();
  const flagOf = (measure: Measure): string | null => {
    if (measure.where === null) return null;
    const key = JSON.stringify(measure.where);
    let column = flagSlots.get(key);
    if (column === undefined) {
      column = `w${flagSlots.size}`;
      flagSlots.set(key, column);
      flags.push(`${compileFilterSql(measure.where, params)} AS ${column}`);
    }
    return column;
  };
  const dims = Array.from({ length: dimCount }, (_, i) => `d${i}`);
  const groupCols = ['bucket', ...dims].join(', ');
  const aggregates: string[] = [];
  const sketches: SketchCte[] = [];
  const jsonParts: string[] = [];

  measures.forEach((measure, i) => {
    const flag = flagOf(measure);
    const field = measure.field === null ? null : quoteIdent(measure.field);
    if (measure.field !== null) fields.add(measure.field);
    const filterOn = (...conds: string[]) => {
      const all = [...(flag === null ? [] : [flag]), ...conds];
      return all.length === 0 ? '' : ` FILTER (WHERE ${all.join(' AND ')})`;
    };
    const key = jsonKey(measure.name);
    switch (measure.kind) {
      case 'count':
        aggregates.push(`count(${field ?? '*'})${filterOn()} AS ${measureColumn(i, 'n')}`);
        jsonParts.push(`${key}, json_object('n', ${measureColumn(i, 'n')})`);
        break;
      case 'sum':
        aggregates.push(
          `CAST(coalesce(sum(${field})${filterOn()}, 0) AS DOUBLE) AS ${measureColumn(i, 's')}`,
        );
        jsonParts.push(`${key}, json_object('s', ${measureColumn(i, 's')})`);
        break;
      case 'avg':
        aggregates.push(
          `CAST(coalesce(sum(${field})${filterOn()}, 0) AS DOUBLE) AS ${measureColumn(i, 's')}`,
        );
        aggregates.push(`count(${field})${filterOn()} AS ${measureColumn(i, 'n')}`);
        jsonParts.push(`${key}, json_object('s', ${measureColumn(i, 's')}, 'n', ${measureColumn(i, 'n')})`);
        break;
      case 'min':
      case 'max': {
        const v = measureColumn(i, 'v');
        aggregates.push(`${measure.kind}(${field})${filterOn()} AS ${v}`);
        jsonParts.push(
          `${key}, CASE WHEN ${v} IS NULL THEN CAST('{}' AS JSON) ELSE json_object('v', ${v}) END`,
        );
        break;
      }
      case 'quantiles': {
        const z = measureColumn(i, 'z');
        const value = `CAST(${field} AS DOUBLE)`;
        const min = sqlDouble(DDSKETCH_MIN_INDEXABLE);
        aggregates.push(`count(*)${filterOn(`${value} < ${min}`)} AS ${z}`);
        const cte = `s${i}`;
        const keyExpr = ddKeySql(`greatest(${value}, ${min})`);
        sketches.push({
          name: cte,
          sql:
            `${cte} AS (SELECT ${groupCols}, json_group_object(k, c) AS cells FROM (` +
            `SELECT ${groupCols}, k, count(*) AS c FROM (SELECT ${groupCols}, ${keyExpr} AS k FROM src ` +
            `WHERE ${[...(flag === null ? [] : [flag]), `${value} >= ${min}`].join(' AND ')}) ` +
            `GROUP BY ${groupCols}, k) GROUP BY ${groupCols})`,
        });
        const bins = `coalesce(${cte}.cells, CAST('{}' AS JSON))`;
        jsonParts.push(
          `${key}, CASE WHEN ${z} > 0 THEN json_merge_patch(${bins}, json_object('${DDSKETCH_ZERO_CELL}', ${z})) ELSE ${bins} END`,
        );
        break;
      }
      case 'distinct': {
        const cte = `s${i}`;
        const asText = fieldType(measure.field as string) === 'string' ? field : `CAST(${field} AS VARCHAR)`;
        const hll = hllSqlExpressions('v');
        sketches.push({
          name: cte,
          sql:
            `${cte} AS (SELECT ${groupCols}, json_group_object(reg, rnk) AS cells FROM (` +
            `SELECT ${groupCols}, reg, max(rnk) AS rnk FROM (` +
            `SELECT ${groupCols}, ${hll.register('h')} AS reg, ${hll.rank('h')} AS rnk FROM (` +
            `SELECT ${groupCols}, ${hll.hash} AS h FROM (` +
            `SELECT DISTINCT ${groupCols}, ${asText} AS v FROM src WHERE ${[...(flag === null ? [] : [flag]), `${field} IS NOT NULL`].join(' AND ')}` +
            `))) GROUP BY ${groupCols}, reg) GROUP BY ${groupCols})`,
        });
        jsonParts.push(`${key}, coalesce(${cte}.cells, CAST('{}' AS JSON))`);
        break;
      }
      case 'topK': {
        const cte = `s${i}`;
        const asText = fieldType(measure.field as string) === 'string' ? field : `CAST(${field} AS VARCHAR)`;
        sketches.push({
          name: cte,
          sql:
            `${cte} AS (SELECT ${groupCols}, json_group_object(k, c) AS cells FROM (` +
            `SELECT ${groupCols}, ${asText} AS k, count(*) AS c FROM src ` +
            `WHERE ${[...(flag === null ? [] : [flag]), `${field} IS NOT NULL`].join(' AND ')} ` +
            `GROUP BY ${groupCols}, k) GROUP BY ${groupCols})`,
        });
        jsonParts.push(`${key}, coalesce(${cte}.cells, CAST('{}' AS JSON))`);
        break;
      }
    }
  });

  const ctes = [
    `agg AS (SELECT ${groupCols}${aggregates.length === 0 ? '' : `, ${aggregates.join(', ')}`} FROM src GROUP BY ${groupCols})`,
    ...sketches.map((s) => s.sql),
  ];
  const joins = sketches
    .map((s) => {
      const on = ['bucket', ...dims].map((c) =>
        c === 'bucket' ? `agg.bucket = ${s.name}.bucket` : `agg.${c} IS NOT DISTINCT FROM ${s.name}.${c}`,
      );
      return ` LEFT JOIN ${s.name} ON ${on.join(' AND ')}`;
    })
    .join('');
  const select =
    `SELECT agg.bucket AS bucket${dims.map((d) => `, agg.${d} AS ${d}`).join('')}, ` +
    `CAST(json_object(${jsonParts.join(', ')}) AS VARCHAR) AS states FROM agg${joins}`;
  return { flags, fields, ctes, select };
}

/**
 * Compiles a view to DuckDB SQL producing `bucket BIGINT, d0 … dN, states VARCHAR` (JSON of
 * `Record<measure, Cells>`), one row per (bucket, dimensions) with at least one event passing the
 * view filter (sessionized: at least one session), only for buckets inside `range`, ordered by
 * bucket and dimensions. Values are bound from `params` by name.
 */
export function compileViewSql(view: View, options: CompileViewSqlOptions): CompiledSql {
  const { eventsRelation, range } = options;
  if (typeof eventsRelation !== 'string' || eventsRelation.trim() === '') {
    throw new TandemError(
      'TANDEM_ERR_VIEW_INVALID',
      'compileViewSql needs an eventsRelation (table name or subquery)',
    );
  }
  const params: SqlParams = {};
  const input = inputRangeFor(view, range);
  const bucketMs = sqlInteger(view.bucketMs);
  const inRange = `"timestamp" >= ${sqlParam(params, input.from, 'BIGINT')} AND "timestamp" < ${sqlParam(params, input.to, 'BIGINT')}`;
  const viewFilter = compileFilterSql(view.filter, params);

  if (view.sessionize === null) {
    const measuresSql = compileMeasures(
      view,
      (f) => eventFieldTypes[f as keyof typeof eventFieldTypes],
      params,
      view.dimensions.length,
    );
    const dimCols = view.dimensions.map((d, i) => `${quoteIdent(d)} AS d${i}`);
    const srcCols = [
      `("timestamp" // ${bucketMs}) * ${bucketMs} AS bucket`,
      ...dimCols,
      ...[...measuresSql.fields].map(quoteIdent),
      ...measuresSql.flags,
    ];
    const src = `src AS (SELECT ${srcCols.join(', ')} FROM ${eventsRelation} WHERE ${inRange} AND ${viewFilter})`;
    const order = ['bucket', ...view.dimensions.map((_, i) => `d${i}`)].join(', ');
    return {
      sql: `WITH ${[src, ...measuresSql.ctes].join(',\n')}\n${measuresSql.select} ORDER BY ${order}`,
      params,
    };
  }

  const { by, gapMs, page } = view.sessionize;
  const outFrom = sqlParam(params, bucketCeil(range.from, view.bucketMs), 'BIGINT');
  const outTo = sqlParam(params, bucketCeil(range.to, view.bucketMs), 'BIGINT');
  const sessionCtes = [
    `ev AS (SELECT ${quoteIdent(by)} AS sk, "timestamp" AS ts, ${quoteIdent(page)} AS pg, "timestamp" // ${DAY_MS} AS day ` +
      `FROM ${eventsRelation} WHERE ${inRange} AND ${quoteIdent(by)} IS NOT NULL AND ${viewFilter})`,
    `marked AS (SELECT sk, ts, pg, day, CASE WHEN ts - lag(ts) OVER (PARTITION BY sk, day ORDER BY ts) > ${sqlInteger(gapMs)} ` +
      `THEN 1 ELSE 0 END AS nb FROM ev)`,
    // RANGE frame (the default): rows with equal ts get the same session number whatever their order.
    `numbered AS (SELECT sk, ts, pg, day, sum(nb) OVER (PARTITION BY sk, day ORDER BY ts) AS sn FROM marked)`,
    `sessions AS (SELECT sk AS user_id, min(ts) AS start, max(ts) AS "end", max(ts) - min(ts) AS duration_ms, ` +
      `count(*) AS events, count(pg) AS page_views, count(DISTINCT pg) AS unique_pages, ` +
      `CASE WHEN count(*) = 1 THEN 1 ELSE 0 END AS bounce FROM numbered GROUP BY sk, day, sn)`,
  ];
  const measuresSql = compileMeasures(view, (f) => view.measureSchema[f] as FieldType, params, 0);
  const srcCols = [
    `("end" // ${bucketMs}) * ${bucketMs} AS bucket`,
    ...[...measuresSql.fields].map(quoteIdent),
    ...measuresSql.flags,
  ];
  const src = `src AS (SELECT ${srcCols.join(', ')} FROM sessions WHERE "end" >= ${outFrom} AND "end" < ${outTo})`;
  return {
    sql: `WITH ${[...sessionCtes, src, ...measuresSql.ctes].join(',\n')}\n${measuresSql.select} ORDER BY bucket`,
    params,
  };
}

function toNumber(value: unknown, what: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  throw new TandemError(
    'TANDEM_ERR_BATCH_BAD_ROWS',
    `compiled view row has a non-numeric ${what}: ${String(value)}`,
  );
}

/**
 * Converts one row of compileViewSql's result (as DuckDB node-api returns it: bigints, strings
 * or numbers; states as a JSON string or an already parsed object) to a PartialRow.
 */
export function sqlRowToPartialRow(view: View, row: Record<string, unknown>): PartialRow {
  const dims: DimensionValue[] = view.dimensions.map((field, i) => {
    const v = row[`d${i}`];
    if (v === null || v === undefined) return null;
    return eventFieldTypes[field] === 'string' ? String(v) : toNumber(v, `d${i}`);
  });
  const raw = typeof row.states === 'string' ? (JSON.parse(row.states) as unknown) : row.states;
  if (typeof raw !== 'object' || raw === null) {
    throw new TandemError(
      'TANDEM_ERR_BATCH_BAD_ROWS',
      `compiled view row of "${view.name}" has no states object`,
    );
  }
  const states: Record<string, Cells> = {};
  for (const [name, measure] of Object.entries(view.measures)) {
    const cells = (raw as Record<string, unknown>)[name];
    states[name] = cells === undefined ? measure.empty() : toCells(cells, view, name);
  }
  return { bucket: toNumber(row.bucket, 'bucket'), dims, states };
}

// The batch engine: compiles a view to one DuckDB query yielding a row of partial states per
// (bucket, dimensions), equal to what the reducer folds. Scalar measures are plain FILTERed
// aggregates in one pass; sketches (HLL registers, DDSketch bins, topK keys) aggregate at a second
// grouping level and fold into JSON objects, joined back on (bucket, dimensions).
import { TandemError } from './errors.ts';
import type { FieldType } from './fields.ts';
import { compileFilterSql } from './filter.ts';
import type { Measure } from './measures.ts';
import {
  DDSKETCH_LN_GAMMA,
  DDSKETCH_MIN_INDEXABLE,
  DDSKETCH_ZERO_CELL,
  ddKeySqlFromLog,
} from './sketches/ddsketch.ts';
import { hllSqlExpressions } from './sketches/hll.ts';
import { type CompiledSql, quoteIdent, type SqlParams, sqlDouble, sqlInteger, sqlParam } from './sql.ts';
import { bucketCeil, DAY_MS, dayStart } from './time.ts';
import type { Cells, DimensionValue, PartialRow, TimeRange } from './types.ts';
import { adoptCells, toCells, type View } from './view.ts';

/** Where compileViewSql reads events from and which buckets it produces. */
export interface CompileViewSqlOptions {
  /**
   * The events relation: a table/view name or a parenthesized subquery, with the stream's
   * normalized columns (the time field BIGINT epoch ms), validated and deduplicated. Trusted SQL.
   * Only the columns the view reads (`viewInputFields`) need to be there.
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

/** Measure names go into the SQL text as JSON keys; defineView allows only [a-z0-9_] in them. */
function jsonKey(name: string): void {
  if (!/^[a-z][a-z0-9_]*$/.test(name))
    throw new TandemError('TANDEM_ERR_MEASURE_INVALID', `unexpected measure name ${name}`);
}

/**
 * A DOUBLE/integer column as JSON number text (pieces are joined with concat(), one copy per row). DuckDB prints doubles in shortest round-trip form
 * ("0.1", "1e-07", "-0.0"), all valid JSON that JSON.parse reads back to the same double.
 */
function jsonNumber(column: string): string {
  return `CAST(${column} AS VARCHAR)`;
}

interface SketchCte {
  name: string;
  sql: string;
}

/**
 * Builds the measure part over a source CTE `src` that has `bucket`, `d0..dN`, the measured
 * fields (quoted field names) and one boolean column `w<slot>` per distinct measure filter.
 *
 * Shape (chosen by measurement, see scripts/bench/core.ts): `agg` computes every scalar measure in
 * one hash aggregation over (bucket, dims). Sketch measures aggregate at a second level keyed by
 * `gid = hash(bucket, dims)` (a UBIGINT `src` carries), so those big aggregations group by narrow
 * integer keys (gid, bin) / (gid, register) instead of (bucket, dimension strings, ...) and need
 * no join back to the events. A 64-bit collision between two groups of one query would merge
 * their sketches, so the query checks gid is unique over `agg` and fails loudly if not (expected
 * never: ~1e-12 for thousands of groups) rather than answer wrongly.
 */
function compileMeasures(
  view: View,
  fieldType: (field: string) => FieldType,
  params: SqlParams,
  dimCount: number,
): { flags: string[]; fields: Set<string>; ctes: string[]; select: string; gid: string | null } {
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
      flags.push(`${compileFilterSql(measure.where, params, quoteIdent, fieldType)} AS ${column}`);
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
    const whereOn = (...conds: string[]) => [...(flag === null ? [] : [flag]), ...conds].join(' AND ');
    jsonKey(measure.name);
    switch (measure.kind) {
      case 'count':
        aggregates.push(`count(${field ?? '*'})${filterOn()} AS ${measureColumn(i, 'n')}`);
        jsonParts.push(`'"${measure.name}":{"n":', ${measureColumn(i, 'n')}, '}'`);
        break;
      case 'sum':
        aggregates.push(
          `CAST(coalesce(sum(${field})${filterOn()}, 0) AS DOUBLE) AS ${measureColumn(i, 's')}`,
        );
        jsonParts.push(`'"${measure.name}":{"s":', ${jsonNumber(measureColumn(i, 's'))}, '}'`);
        break;
      case 'avg':
        aggregates.push(
          `CAST(coalesce(sum(${field})${filterOn()}, 0) AS DOUBLE) AS ${measureColumn(i, 's')}`,
        );
        aggregates.push(`count(${field})${filterOn()} AS ${measureColumn(i, 'n')}`);
        jsonParts.push(
          `'"${measure.name}":{"s":', ${jsonNumber(measureColumn(i, 's'))}, ',"n":', ${measureColumn(i, 'n')}, '}'`,
        );
        break;
      case 'min':
      case 'max': {
        const v = measureColumn(i, 'v');
        aggregates.push(`${measure.kind}(${field})${filterOn()} AS ${v}`);
        jsonParts.push(
          `'"${measure.name}":', CASE WHEN ${v} IS NULL THEN '{}' ELSE concat('{"v":', ${jsonNumber(v)}, '}') END`,
        );
        break;
      }
      case 'quantiles': {
        const z = measureColumn(i, 'z');
        const value = `CAST(${field} AS DOUBLE)`;
        const min = sqlDouble(DDSKETCH_MIN_INDEXABLE);
        aggregates.push(`count(*)${filterOn(`${value} < ${min}`)} AS ${z}`);
        const cte = `s${i}`;
        sketches.push({
          name: cte,
          sql:
            `${cte} AS (SELECT gid, string_agg(concat('"', k, '":', c), ',') AS cells FROM (` +
            `SELECT gid, k, count(*) AS c FROM (SELECT gid, ${ddKeySqlFromLog('x', 'q')} AS k FROM (` +
            `SELECT gid, x, ln(x) / ${sqlDouble(DDSKETCH_LN_GAMMA)} AS q FROM (` +
            `SELECT gid, ${value} AS x FROM src WHERE ${whereOn(`${value} >= ${min}`)}))) ` +
            `GROUP BY gid, k) GROUP BY gid)`,
        });
        // cells holds the bins without braces; the zero cell joins them when it is non-empty.
        jsonParts.push(
          `'"${measure.name}":{', concat_ws(',', CASE WHEN ${z} > 0 THEN concat('"${DDSKETCH_ZERO_CELL}":', ${z}) END, ${cte}.cells), '}'`,
        );
        break;
      }
      case 'distinct': {
        const cte = `s${i}`;
        const asText = fieldType(measure.field as string) === 'string' ? field : `CAST(${field} AS VARCHAR)`;
        const hll = hllSqlExpressions('v');
        // Dedupe (group, value) before hashing: md5 is the expensive part, and register maxima
        // are idempotent, so each distinct value needs hashing once per group.
        sketches.push({
          name: cte,
          sql:
            `${cte} AS (SELECT gid, string_agg(concat('"', reg, '":', rnk), ',') AS cells FROM (` +
            `SELECT gid, reg, max(rnk) AS rnk FROM (` +
            `SELECT gid, p // 64 AS reg, p % 64 AS rnk FROM (` +
            `SELECT gid, ${hll.packed('h')} AS p FROM (` +
            `SELECT gid, ${hll.hash} AS h FROM (` +
            `SELECT DISTINCT gid, ${asText} AS v FROM src WHERE ${whereOn(`${field} IS NOT NULL`)})))) ` +
            `GROUP BY gid, reg) GROUP BY gid)`,
        });
        jsonParts.push(`'"${measure.name}":{', ${cte}.cells, '}'`);
        break;
      }
      case 'topK': {
        const cte = `s${i}`;
        const asText = fieldType(measure.field as string) === 'string' ? field : `CAST(${field} AS VARCHAR)`;
        sketches.push({
          name: cte,
          sql:
            `${cte} AS (SELECT gid, string_agg(concat(to_json(k), ':', c), ',') AS cells FROM (` +
            `SELECT gid, ${asText} AS k, count(*) AS c FROM src WHERE ${whereOn(`${field} IS NOT NULL`)} ` +
            `GROUP BY gid, k) GROUP BY gid)`,
        });
        jsonParts.push(`'"${measure.name}":{', ${cte}.cells, '}'`);
        break;
      }
    }
  });

  const hasSketches = sketches.length > 0;
  const ctes = [
    `agg AS (SELECT ${groupCols}${aggregates.map((a) => `, ${a}`).join('')}` +
      `${hasSketches ? `, hash(${groupCols}) AS gid` : ''} FROM src GROUP BY ${groupCols})`,
  ];
  if (hasSketches) {
    ctes.push(...sketches.map((s) => s.sql));
    ctes.push(
      `guard AS (SELECT CASE WHEN count(*) = count(DISTINCT gid) THEN 1 ELSE ` +
        `error('TANDEM: two groups share a 64-bit group hash; rerun with the view split by bucket range') END AS ok FROM agg)`,
    );
  }
  const joins = sketches.map((s) => ` LEFT JOIN ${s.name} ON agg.gid = ${s.name}.gid`).join('');
  const select =
    `SELECT agg.bucket AS bucket${dims.map((d) => `, agg.${d} AS ${d}`).join('')}, ` +
    `concat('{', ${jsonParts.join(`, ',', `)}, '}') AS states FROM agg${joins}` +
    (hasSketches ? ' CROSS JOIN guard WHERE guard.ok = 1' : '');
  return { flags, fields, ctes, select, gid: hasSketches ? `hash(${groupCols}) AS gid` : null };
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
  const eventFieldTypes = view.eventSchema;
  const time = quoteIdent(view.timeField);
  const inRange = `${time} >= ${sqlParam(params, input.from, 'BIGINT')} AND ${time} < ${sqlParam(params, input.to, 'BIGINT')}`;
  const viewFilter = compileFilterSql(
    view.filter,
    params,
    quoteIdent,
    (f) => eventFieldTypes[f] as FieldType,
  );

  if (view.sessionize === null) {
    const measuresSql = compileMeasures(
      view,
      (f) => eventFieldTypes[f] as FieldType,
      params,
      view.dimensions.length,
    );
    const dimCols = view.dimensions.map((d, i) => `${quoteIdent(d)} AS d${i}`);
    const bucketExpr = `(${time} // ${bucketMs}) * ${bucketMs}`;
    const srcCols = [
      `${bucketExpr} AS bucket`,
      ...dimCols,
      ...(measuresSql.gid === null
        ? []
        : [`hash(${[bucketExpr, ...view.dimensions.map(quoteIdent)].join(', ')}) AS gid`]),
      ...[...measuresSql.fields].map(quoteIdent),
      ...measuresSql.flags,
    ];
    const src = `src AS NOT MATERIALIZED (SELECT ${srcCols.join(', ')} FROM ${eventsRelation} WHERE ${inRange} AND ${viewFilter})`;
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
    `ev AS (SELECT ${quoteIdent(by)} AS sk, ${time} AS ts, ${quoteIdent(page)} AS pg, ${time} // ${DAY_MS} AS day ` +
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
    ...(measuresSql.gid === null ? [] : [`hash(("end" // ${bucketMs}) * ${bucketMs}) AS gid`]),
    ...[...measuresSql.fields].map(quoteIdent),
    ...measuresSql.flags,
  ];
  const src = `src AS NOT MATERIALIZED (SELECT ${srcCols.join(', ')} FROM sessions WHERE "end" >= ${outFrom} AND "end" < ${outTo})`;
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
    return view.eventSchema[field] === 'string' ? String(v) : toNumber(v, `d${i}`);
  });
  const parsedHere = typeof row.states === 'string';
  const raw = parsedHere ? (JSON.parse(row.states as string) as unknown) : row.states;
  if (typeof raw !== 'object' || raw === null) {
    throw new TandemError(
      'TANDEM_ERR_BATCH_BAD_ROWS',
      `compiled view row of "${view.name}" has no states object`,
    );
  }
  const states: Record<string, Cells> = {};
  for (const [name, measure] of Object.entries(view.measures)) {
    const cells = (raw as Record<string, unknown>)[name];
    states[name] =
      cells === undefined
        ? measure.empty()
        : parsedHere
          ? adoptCells(cells, view, name)
          : toCells(cells, view, name);
  }
  return { bucket: toNumber(row.bucket, 'bucket'), dims, states };
}

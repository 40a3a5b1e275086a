// TEST-ONLY ORACLE: the first build's hand-written DuckDB staging SQL of web events
// (src/event-staging-sql.ts before streams became data), kept verbatim but for import paths. The
// compiled stream staging SQL (src/stream-staging-sql.ts) must give the web stream exactly these
// verdicts and values; the parity tests run both on the same lines. Never import it from src.
// The batch layer's twin of parseEvent: one DuckDB query turning raw NDJSON lines into TandemEvent
// columns plus the same (code, field, rule) verdict the TS validator gives. DuckDB's JSON reader is
// more lenient than JSON.parse (trailing commas, NaN/Infinity literals), so those are rejected here
// explicitly; JSON.parse accepts escaped lone surrogates that DuckDB refuses, so events.ts rejects
// those. Keep this file and events.ts in step; the parity property test holds them together.
import { eventNumberLimits, eventStringLimits, type EventRule, rejectionCode } from './web-event-oracle.ts';
import { eventFields, eventFieldTypes } from '../../src/fields.ts';
import { type CompiledSql, type SqlParams, sqlParam } from '../../src/sql.ts';
import { DAY_MS, EVENT_EPOCH_STRING_PATTERN, EVENT_ISO_PATTERN, HOUR_MS, MINUTE_MS } from '../../src/time.ts';

/** Input relation and the validation limits of the staging query (same as parseEvent's). */
export interface EventStagingSqlOptions {
  /** A relation (table name or parenthesized subquery) with one `line VARCHAR` column. Trusted SQL. */
  linesRelation: string;
  /** The clock for the future check (epoch ms). */
  nowMs: number;
  /** @defaultValue 300000 */
  futureToleranceMs: number;
  /** @defaultValue 65536 */
  maxBytes: number;
}

const numberTypes = `('UBIGINT', 'BIGINT', 'DOUBLE', 'HUGEINT')`;
/** Outside string literals (each replaced by "" first), valid JSON never holds these; DuckDB accepts them. */
const lenientJson = `'(?i),[ \\t\\n\\r]*[\\]}]|nan|inf'`;
const jsonStringLiteral = `'"(?:[^"\\\\]|\\\\.)*"'`;

function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function isAbsent(i: number): string {
  return `(t${i} IS NULL OR t${i} = 'NULL')`;
}

function stringRule(i: number, min: number, max: number, required: boolean): string {
  return (
    `CASE WHEN ${isAbsent(i)} THEN ${required ? `'required'` : 'NULL'} WHEN t${i} <> 'VARCHAR' THEN 'type' ` +
    (min > 0 ? `WHEN length(s${i}) < ${min} THEN 'minLength' ` : '') +
    `WHEN length(s${i}) > ${max} THEN 'maxLength' END`
  );
}

/**
 * Compiles the staging query: from `linesRelation(line)` to the TandemEvent columns (NULL when the
 * line is rejected) plus `error_code`, `error_field`, `error_rule` (NULL when valid) and `line`.
 * Verdicts equal `parseEvent(line, { now: () => nowMs, futureToleranceMs, maxBytes })`, except that
 * invalid UTF-8 cannot exist in a VARCHAR (DuckDB refuses it when reading). `message` can be
 * rebuilt with `describeRejection(error_field, error_rule)`. `canonical` tells which lines the fast
 * path judged (diagnostics and tests; the verdicts do not depend on it).
 */
export function compileEventStagingSql(options: EventStagingSqlOptions): CompiledSql {
  const params: SqlParams = {};
  const maxBytes = sqlParam(params, options.maxBytes, 'BIGINT');
  const latest = `(${sqlParam(params, options.nowMs, 'BIGINT')} + ${sqlParam(params, options.futureToleranceMs, 'BIGINT')})`;
  const iso = sqlString(EVENT_ISO_PATTERN);
  const epochString = sqlString(EVENT_EPOCH_STRING_PATTERN);
  const paths = eventFields.map((f) => `'$.${f}'`).join(', ');
  const idx = Object.fromEntries(eventFields.map((f, i) => [f, i])) as Record<
    (typeof eventFields)[number],
    number
  >;
  // Fast path: a line that is exactly the canonical serialization of its own fields (keys in
  // eventFields order, no whitespace, no other keys, strings without escapes, numbers as DuckDB
  // writes them back) is a strict JSON object whose values have the types the reconstruction
  // assumed, so the lenient-JSON scan, json_type and the per-field re-parsing are skipped. One
  // json_transform gives every value: string fields as their content (re-quoted, an escape or a
  // non-string value cannot reproduce the line), number fields as their text (checked finite
  // numbers: `true`, `NaN`, `Infinity` fail), timestamp as its JSON text (string or number).
  const fieldKinds = Object.fromEntries(
    eventFields.map((f) => [
      f,
      f === 'timestamp' ? 'json' : eventFieldTypes[f] === 'string' ? 'string' : 'number',
    ]),
  ) as Record<(typeof eventFields)[number], 'json' | 'string' | 'number'>;
  const tokenStruct = `{${eventFields.map((f) => `"${f}":"${fieldKinds[f] === 'json' ? 'JSON' : 'VARCHAR'}"`).join(',')}}`;
  const tokenType = `STRUCT(${eventFields.map((f) => `"${f}" VARCHAR`).join(', ')})`;
  const reconstructed = `concat(${eventFields
    .map((f, i) => {
      const key = `${i === 0 ? '{' : ','}"${f}":`;
      const present = fieldKinds[f] === 'string' ? `'${key}"', tk.${f}, '"'` : `'${key}', tk.${f}`;
      return `CASE WHEN tk.${f} IS NOT NULL THEN concat(${present}) WHEN contains(line, '"${f}":null') THEN '${key}null' END`;
    })
    .join(', ')}, '}')`;
  const finiteNumber = (text: string) => `isfinite(TRY_CAST(${text} AS DOUBLE))`;
  const fastShape = eventFields
    .filter((f) => fieldKinds[f] !== 'string')
    .map((f) =>
      fieldKinds[f] === 'json'
        ? `(tk.${f} IS NULL OR (starts_with(tk.${f}, '"') AND NOT contains(tk.${f}, '\\')) OR (NOT starts_with(tk.${f}, '"') AND ${finiteNumber(`tk.${f}`)}))`
        : `(tk.${f} IS NULL OR ${finiteNumber(`tk.${f}`)})`,
    )
    .join(' AND ');
  const typeCols = eventFields.map((f, i) => {
    const fastType =
      fieldKinds[f] === 'string'
        ? `'VARCHAR'`
        : fieldKinds[f] === 'number'
          ? `'DOUBLE'`
          : `CASE WHEN starts_with(tk.${f}, '"') THEN 'VARCHAR' ELSE 'DOUBLE' END`;
    const fastText =
      fieldKinds[f] === 'json'
        ? `CASE WHEN starts_with(tk.${f}, '"') THEN substr(tk.${f}, 2, length(tk.${f}) - 2) ELSE tk.${f} END`
        : `tk.${f}`;
    return (
      `CASE WHEN NOT fast THEN json_type(v[${i + 1}]) WHEN tk.${f} IS NULL THEN NULL ELSE ${fastType} END AS t${i}, ` +
      `CASE WHEN NOT fast THEN v[${i + 1}] ->> '$' ELSE ${fastText} END AS s${i}`
    );
  });
  const numCols = eventFields.map(
    (_, i) => `CASE WHEN t${i} IN ${numberTypes} THEN TRY_CAST(s${i} AS DOUBLE) END AS n${i}`,
  );
  const ts = idx.timestamp;
  // The ISO pattern has fixed-width parts, so once it matched, substrings are its groups (cheaper
  // than a regex with 11 capture groups): date and time at 1-19, a fraction from 21 when char 20 is
  // '.', then `Z` or `±HH:MM` at the end.
  const isoParts =
    `{'y': substr(s${ts}, 1, 4), 'mo': substr(s${ts}, 6, 2), 'd': substr(s${ts}, 9, 2), 'h': substr(s${ts}, 12, 2), ` +
    `'mi': substr(s${ts}, 15, 2), 'sec': substr(s${ts}, 18, 2), ` +
    `'frac': CASE WHEN substr(s${ts}, 20, 1) = '.' THEN substr(s${ts}, 21, strlen(s${ts}) - CASE WHEN right(s${ts}, 1) = 'Z' THEN 1 ELSE 6 END - 20) ELSE '' END, ` +
    `'z': CASE WHEN right(s${ts}, 1) = 'Z' THEN 'Z' ELSE '' END, 'sign': substr(s${ts}, strlen(s${ts}) - 5, 1), ` +
    `'oh': substr(s${ts}, strlen(s${ts}) - 4, 2), 'om': right(s${ts}, 2)}`;

  const isInteger = (i: number) => `(isfinite(n${i}) AND n${i} = trunc(n${i}))`;
  const numberRule = (i: number, opts: { required: boolean; integer: boolean; min: number; max?: number }) =>
    `CASE WHEN ${isAbsent(i)} THEN ${opts.required ? `'required'` : 'NULL'} WHEN t${i} NOT IN ${numberTypes} THEN 'type' ` +
    (opts.integer ? `WHEN NOT ${isInteger(i)} THEN 'integer' ` : `WHEN NOT isfinite(n${i}) THEN 'finite' `) +
    `WHEN n${i} < ${opts.min} THEN 'minimum' ` +
    (opts.max === undefined ? '' : `WHEN n${i} > ${opts.max} THEN 'maximum' `) +
    'END';

  const rules: Array<[string, string]> = [
    [
      'event_id',
      stringRule(idx.event_id, eventStringLimits.event_id.min, eventStringLimits.event_id.max, true),
    ],
    [
      'timestamp',
      `CASE WHEN ${isAbsent(ts)} THEN 'required' ` +
        `WHEN t${ts} = 'VARCHAR' THEN (CASE WHEN ts_str IS NULL THEN 'format' WHEN ts_str < 0 THEN 'minimum' ` +
        `WHEN ts_str > ${latest} THEN 'future' END) ` +
        `WHEN t${ts} IN ${numberTypes} THEN (CASE WHEN NOT ${isInteger(ts)} THEN 'integer' WHEN n${ts} < 0 THEN 'minimum' ` +
        `WHEN n${ts} > ${latest} THEN 'future' END) ELSE 'type' END`,
    ],
    [
      'endpoint',
      stringRule(idx.endpoint, eventStringLimits.endpoint.min, eventStringLimits.endpoint.max, true),
    ],
    ['method', stringRule(idx.method, eventStringLimits.method.min, eventStringLimits.method.max, false)],
    [
      'status_code',
      numberRule(idx.status_code, { required: true, integer: true, ...eventNumberLimits.status_code }),
    ],
    [
      'response_time_ms',
      numberRule(idx.response_time_ms, {
        required: true,
        integer: false,
        ...eventNumberLimits.response_time_ms,
      }),
    ],
    [
      'bytes_sent',
      numberRule(idx.bytes_sent, { required: false, integer: true, ...eventNumberLimits.bytes_sent }),
    ],
    ['user_id', stringRule(idx.user_id, 0, eventStringLimits.user_id.max, false)],
    ['session_id', stringRule(idx.session_id, 0, eventStringLimits.session_id.max, false)],
    ['page_id', stringRule(idx.page_id, 0, eventStringLimits.page_id.max, false)],
  ];

  const codeOf = (rule: EventRule) => sqlString(rejectionCode(rule));
  const i = idx;
  const sql = `WITH raw AS (
  SELECT line, strlen(line) > ${maxBytes} AS too_large FROM ${options.linesRelation}
), tokens AS (
  SELECT line, too_large,
    CASE WHEN NOT too_large AND starts_with(line, '{') AND json_valid(line) THEN CAST(json_transform(line, '${tokenStruct}') AS ${tokenType}) END AS tk
  FROM raw
), proved AS (
  SELECT line, too_large, tk, coalesce(tk IS NOT NULL AND ${fastShape} AND ${reconstructed} = line, FALSE) AS fast
  FROM tokens
), parsed AS (
  SELECT line, too_large, tk, fast,
    CASE WHEN fast THEN TRUE WHEN too_large OR NOT json_valid(line) THEN FALSE
      WHEN NOT regexp_matches(line, ${lenientJson}) THEN TRUE
      ELSE NOT regexp_matches(regexp_replace(line, ${jsonStringLiteral}, '""', 'g'), ${lenientJson}) END AS json_ok
  FROM proved
), objects AS (
  SELECT line, too_large, tk, fast, json_ok,
    CASE WHEN fast THEN TRUE WHEN json_ok THEN json_type(line) = 'OBJECT' ELSE FALSE END AS is_object
  FROM parsed
), fields AS (
  SELECT line, too_large, tk, fast, json_ok, is_object,
    CASE WHEN is_object AND NOT fast THEN json_extract(line, [${paths}]) END AS v
  FROM objects
), typed AS (
  SELECT line, too_large, fast, json_ok, is_object, ${typeCols.join(',\n    ')} FROM fields
), numbers AS (
  SELECT *, ${numCols.join(', ')},
    CASE WHEN t${ts} = 'VARCHAR' AND strlen(s${ts}) <= 15 AND regexp_matches(s${ts}, ${epochString}) THEN CAST(s${ts} AS BIGINT) END AS ts_epoch,
    CASE WHEN t${ts} = 'VARCHAR' AND strlen(s${ts}) >= 20 AND regexp_matches(s${ts}, ${iso}) THEN ${isoParts} END AS iso
  FROM typed
), calendar AS (
  SELECT *,
    CAST(iso.y AS BIGINT) AS cy, CAST(iso.mo AS BIGINT) AS cmo, CAST(iso.d AS BIGINT) AS cd,
    CAST(iso.h AS BIGINT) AS ch, CAST(iso.mi AS BIGINT) AS cmi, CAST(iso.sec AS BIGINT) AS cs,
    CASE WHEN iso.frac = '' THEN 0 ELSE CAST(substr(iso.frac || '00', 1, 3) AS BIGINT) END AS cfrac,
    CASE WHEN iso.z = 'Z' THEN 0 ELSE CAST(iso.oh AS BIGINT) END AS coh,
    CASE WHEN iso.z = 'Z' THEN 0 ELSE CAST(iso.om AS BIGINT) END AS com,
    CASE WHEN iso.sign = '-' THEN -1 ELSE 1 END AS csign
  FROM numbers
), civil AS (
  SELECT *,
    cmo BETWEEN 1 AND 12 AND cd >= 1 AND ch <= 23 AND cmi <= 59 AND cs <= 59 AND coh <= 23 AND com <= 59
      AND cd <= CASE WHEN cmo = 2 THEN CASE WHEN (cy % 4 = 0 AND cy % 100 <> 0) OR cy % 400 = 0 THEN 29 ELSE 28 END
        WHEN cmo IN (4, 6, 9, 11) THEN 30 ELSE 31 END AS cal_ok,
    cy - CASE WHEN cmo <= 2 THEN 1 ELSE 0 END + 400 AS yy
  FROM calendar
), days AS (
  SELECT *,
    (yy // 400) * 146097 + (yy - (yy // 400) * 400) * 365 + (yy - (yy // 400) * 400) // 4
      - (yy - (yy // 400) * 400) // 100
      + (153 * CASE WHEN cmo > 2 THEN cmo - 3 ELSE cmo + 9 END + 2) // 5 + cd - 1 - 719468 - 146097 AS epoch_day
  FROM civil
), stamped AS (
  SELECT *,
    CASE WHEN ts_epoch IS NOT NULL THEN ts_epoch
      WHEN iso IS NOT NULL AND cal_ok THEN epoch_day * ${DAY_MS} + ch * ${HOUR_MS} + cmi * ${MINUTE_MS} + cs * 1000 + cfrac
        - csign * (coh * 60 + com) * ${MINUTE_MS}
    END AS ts_str
  FROM days
), ruled AS (
  SELECT *, ${rules.map(([f, r]) => `${r} AS r_${f}`).join(',\n    ')}
  FROM stamped
), verdict AS (
  SELECT *,
    CASE WHEN too_large THEN 'size' WHEN NOT json_ok THEN 'json' WHEN NOT is_object THEN 'object'
      ELSE coalesce(${rules.map(([f]) => `r_${f}`).join(', ')}) END AS error_rule,
    CASE WHEN too_large OR NOT json_ok OR NOT is_object THEN NULL
      ${rules.map(([f]) => `WHEN r_${f} IS NOT NULL THEN '${f}'`).join(' ')} END AS error_field
  FROM ruled
)
SELECT
  CASE WHEN error_rule IS NULL THEN s${i.event_id} END AS event_id,
  CASE WHEN error_rule IS NULL THEN CAST(CASE WHEN t${ts} = 'VARCHAR' THEN ts_str ELSE n${ts} END AS BIGINT) END AS "timestamp",
  CASE WHEN error_rule IS NULL THEN s${i.endpoint} END AS endpoint,
  CASE WHEN error_rule IS NULL THEN CASE WHEN ${isAbsent(i.method)} THEN 'GET' ELSE s${i.method} END END AS method,
  CASE WHEN error_rule IS NULL THEN CAST(n${i.status_code} AS INTEGER) END AS status_code,
  CASE WHEN error_rule IS NULL THEN n${i.response_time_ms} END AS response_time_ms,
  CASE WHEN error_rule IS NULL THEN CAST(n${i.bytes_sent} AS BIGINT) END AS bytes_sent,
  CASE WHEN error_rule IS NULL AND t${i.user_id} = 'VARCHAR' THEN s${i.user_id} END AS user_id,
  CASE WHEN error_rule IS NULL AND t${i.session_id} = 'VARCHAR' THEN s${i.session_id} END AS session_id,
  CASE WHEN error_rule IS NULL AND t${i.page_id} = 'VARCHAR' THEN s${i.page_id} END AS page_id,
  CASE WHEN error_rule IS NULL THEN NULL WHEN error_rule = 'size' THEN ${codeOf('size')}
    WHEN error_rule = 'json' THEN ${codeOf('json')} ELSE ${codeOf('required')} END AS error_code,
  error_field,
  error_rule,
  line,
  fast AS canonical
FROM verdict`;
  return { sql, params };
}

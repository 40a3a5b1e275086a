// The batch layer's twin of the stream validator: one DuckDB query, compiled from a stream's schema,
// turning raw NDJSON lines into the stream's columns plus the same (code, field, rule) verdict the TS
// validator (stream-validator.ts) gives. DuckDB's JSON reader is more lenient than JSON.parse
// (trailing commas, NaN/Infinity literals), so those are rejected here explicitly; JSON.parse accepts
// escaped lone surrogates that DuckDB refuses, so the TS side rejects those. Keep the two files in
// step; the parity property tests (random schemas × random lines) hold them together.
import { type EventRule, integerBounds, rejectionCode } from './event-rules.ts';
import { type CompiledSql, quoteIdent, type SqlParams, sqlParam } from './sql.ts';
import type { Stream } from './stream.ts';
import type { StreamField } from './stream-schema.ts';
import { EVENT_EPOCH_STRING_PATTERN, EVENT_ISO_PATTERN, MINUTE_MS } from './time.ts';
import { TandemError } from './errors.ts';

/** Input relation and the validation limits of the staging query (same as the TS validator's). */
export interface StreamStagingSqlOptions {
  /** A relation (table name or parenthesized subquery) with one `line VARCHAR` column. Trusted SQL. */
  linesRelation: string;
  /** The clock for the future check (epoch ms). */
  nowMs: number;
  /** @defaultValue 300000 */
  futureToleranceMs: number;
  /** @defaultValue 65536 */
  maxBytes: number;
  /**
   * Other columns of `linesRelation` passed through unchanged, after `canonical` (say, which
   * partition or file a line came from, so that one query stages many). Identifiers, not SQL.
   */
  carry?: readonly string[];
}

/**
 * JSON types of values as small integers (cheaper to compare per row than type names): NULL when
 * the field is absent or JSON null.
 */
const STRING = 1;
const NUMBER = 2;
const BOOLEAN = 3;
/** Arrays and objects. */
const NESTED = 4;
/** Outside string literals (each replaced by "" first), valid JSON never holds these; DuckDB accepts them. */
const lenientJson = `'(?i),[ \\t\\n\\r]*[\\]}]|nan|inf'`;
const jsonStringLiteral = `'"(?:[^"\\\\]|\\\\.)*"'`;
/**
 * Field names are embedded in JSON paths and in the json_transform structure (which must be
 * constants): only names of this shape (what stream schemas allow) ever reach the SQL text.
 */
const safeFieldName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A SQL string literal of a constant the compiler chose or a checked field name (never raw input). */
function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * How the fast path reads a field's token: `string` (its content, re-quoted to rebuild the line),
 * `number` / `boolean` (its JSON text), `json` (the event-time field, whatever its encoding: its JSON
 * text, as the general path reads it, so both feed the time rules the same text).
 */
type TokenKind = 'string' | 'number' | 'boolean' | 'json';

function tokenKind(stream: Stream, field: StreamField): TokenKind {
  if (field.name === stream.timeField) return 'json';
  return field.type === 'integer' ? 'number' : field.type;
}

/**
 * Compiles the staging query of `stream`: from `linesRelation(line)` to one column per stream field
 * (named like the field, typed by `stream.sqlTypes`, the event-time field as BIGINT epoch ms; all
 * NULL when the line is rejected) plus `error_code`, `error_field`, `error_rule` (NULL when valid),
 * `line`, `canonical` (which lines the fast path judged; diagnostics and tests, the verdicts do
 * not depend on it), and the `carry` columns of the input. Verdicts and values equal `compileStreamValidator(stream).parse(line, { now: ()
 * => nowMs, futureToleranceMs, maxBytes })`, except that invalid UTF-8 cannot exist in a VARCHAR
 * (DuckDB refuses it when reading). Rebuild `message` with `describeStreamRejection(stream,
 * error_field, error_rule)`.
 *
 * A line is parsed by `json_valid` and one `json_transform` (two for a line that starts like the
 * canonical serialization but is not it). Fast path: a line that starts with the first field's key
 * gets a transform of the fast path's tokens, and if it equals the canonical serialization rebuilt from them (`JSON.stringify` of the fields in
 * declaration order, absent ones left out or null, strings without escapes, numbers and booleans as
 * DuckDB prints them) it is a strict JSON object whose value types are known, so it skips the
 * lenient-JSON scan. Every other line takes the general path: one `json_transform` giving each field
 * as JSON text, whose first character is its JSON type, and the lenient-JSON scan (a cheap
 * superset first, the exact scan only for lines it flags). Both feed the same rules.
 */
export function compileStreamStagingSql(stream: Stream, options: StreamStagingSqlOptions): CompiledSql {
  for (const field of stream.fields) {
    if (!safeFieldName.test(field.name))
      throw new TandemError(
        'TANDEM_ERR_CONFIG_INVALID',
        `stream "${stream.name}": field name ${JSON.stringify(field.name)} can not be compiled to SQL`,
      );
  }
  const carried = options.carry ?? [];
  const taken = new Set([
    ...stream.fields.map((f) => f.name.toLowerCase()),
    'error_code',
    'error_field',
    'error_rule',
    'line',
    'canonical',
  ]);
  for (const name of carried) {
    if (!safeFieldName.test(name) || taken.has(name.toLowerCase()))
      throw new TandemError(
        'TANDEM_ERR_INTERNAL',
        `staging SQL: ${JSON.stringify(name)} can not be carried through (not an identifier, or taken)`,
      );
    taken.add(name.toLowerCase());
  }
  // Carried columns travel under internal names no CTE uses, and get their own names back at the end.
  const carry = carried.map((_, i) => `, carry${i}`).join('');
  const params: SqlParams = {};
  const maxBytes = sqlParam(params, options.maxBytes, 'BIGINT');
  const latest = `(${sqlParam(params, options.nowMs, 'BIGINT')} + ${sqlParam(params, options.futureToleranceMs, 'BIGINT')})`;
  const fields = stream.fields;
  const ts = fields.findIndex((f) => f.name === stream.timeField);
  const encoding = stream.timeEncoding;
  const timeField = fields[ts] as StreamField;
  const timeStrings = encoding === 'auto' || encoding === 'iso8601' || encoding === 'epoch_ms';
  const timeIso = encoding === 'auto' || encoding === 'iso8601';
  const timeDigits = encoding === 'auto' || encoding === 'epoch_ms';
  const kinds = fields.map((f) => tokenKind(stream, f));

  // Fast path: a line that is exactly the canonical serialization of its own fields (keys in
  // declaration order, no whitespace, no other keys, strings without escapes, numbers as DuckDB
  // writes them back) is a strict JSON object whose value types are known, so the lenient-JSON scan
  // and the general path's transform are skipped. Only a line that starts with the first field's key
  // can be one (the rebuilt line always does), so only those get its json_transform: string fields
  // as their content (re-quoted, an escape or a non-string value cannot reproduce the line), number
  // and boolean fields as their text (checked: `"5"`, `NaN`, `Infinity` fail), the event-time field
  // as its JSON text (a string without escapes or a finite number).
  const tk = (i: number) => `tk.${quoteIdent((fields[i] as StreamField).name)}`;
  const tokenStruct = `{${fields.map((f, i) => `${JSON.stringify(f.name)}:"${kinds[i] === 'json' ? 'JSON' : 'VARCHAR'}"`).join(',')}}`;
  const tokenType = `STRUCT(${fields.map((f) => `${quoteIdent(f.name)} VARCHAR`).join(', ')})`;
  // A canonical line starts with the first field's key and, when the second field is always
  // present, its key right after the first value (a string without escapes or a bare token): a
  // prefix check on the line, anchored, so lines of other producers skip the transform.
  const second = fields[1];
  const canonicalStart =
    `starts_with(line, ${sqlString(`{${JSON.stringify((fields[0] as StreamField).name)}:`)})` +
    (second?.required && !second.nullable
      ? ` AND regexp_matches(line, ${sqlString(`^\\{${JSON.stringify((fields[0] as StreamField).name)}:(?:"[^"\\\\]*"|[^,"]*),${JSON.stringify(second.name)}:`)})`
      : '');
  const reconstructed = `concat(${fields
    .map((f, i) => {
      const key = `${i === 0 ? '{' : ','}${JSON.stringify(f.name)}:`;
      const present =
        kinds[i] === 'string' ? `${sqlString(`${key}"`)}, ${tk(i)}, '"'` : `${sqlString(key)}, ${tk(i)}`;
      return `CASE WHEN ${tk(i)} IS NOT NULL THEN concat(${present}) WHEN contains(line, ${sqlString(`${JSON.stringify(f.name)}:null`)}) THEN ${sqlString(`${key}null`)} END`;
    })
    .join(', ')}, '}')`;
  const finiteNumber = (text: string) => `isfinite(TRY_CAST(${text} AS DOUBLE))`;
  const shapeOf: Record<TokenKind, ((i: number) => string) | null> = {
    json: (i) =>
      `(${tk(i)} IS NULL OR (starts_with(${tk(i)}, '"') AND NOT contains(${tk(i)}, '\\')) OR (NOT starts_with(${tk(i)}, '"') AND ${finiteNumber(tk(i))}))`,
    number: (i) => `(${tk(i)} IS NULL OR ${finiteNumber(tk(i))})`,
    boolean: (i) => `(${tk(i)} IS NULL OR ${tk(i)} IN ('true', 'false'))`,
    // Re-quoted content: an escape or a non-string value cannot reproduce the line.
    string: null,
  };
  const fastShape = kinds.flatMap((kind, i) => {
    const shape = shapeOf[kind];
    return shape === null ? [] : [shape(i)];
  });

  // General path: one json_transform gives every field as its JSON text (NULL when absent or JSON
  // null), whose first character is its JSON type (DuckDB writes values back as strict JSON, NaN /
  // Infinity aside, which only lenient lines hold and those are rejected before any field rule).
  // Number, boolean and event-time fields read the same text on both paths (`j<i>`); a string
  // field's content is the fast path's token (`k<i>`) or, on the general path, the JSON text
  // unescaped, only where a rule or the output needs it (its length comes from the text itself when
  // that holds no escape: DuckDB writes back only the escapes JSON requires).
  const tj = (i: number) => `tj.${quoteIdent((fields[i] as StreamField).name)}`;
  const jsonStruct = `{${fields.map((f) => `${JSON.stringify(f.name)}:"JSON"`).join(',')}}`;
  const jsonType = (text: string) =>
    `CASE WHEN ${text} IS NULL THEN NULL ELSE CASE ascii(${text}) WHEN 34 THEN ${STRING} WHEN 116 THEN ${BOOLEAN} ` +
    `WHEN 102 THEN ${BOOLEAN} WHEN 91 THEN ${NESTED} WHEN 123 THEN ${NESTED} ELSE ${NUMBER} END END`;
  const typeCols = fields.map((_, i) =>
    kinds[i] === 'string'
      ? `CASE WHEN fast THEN ${tk(i)} END AS k${i}, ${tj(i)} AS j${i}, ` +
        `CASE WHEN fast THEN CASE WHEN ${tk(i)} IS NULL THEN NULL ELSE ${STRING} END ELSE ${jsonType(tj(i))} END AS t${i}`
      : `CASE WHEN fast THEN ${tk(i)} ELSE ${tj(i)} END AS j${i}, ${jsonType(`CASE WHEN fast THEN ${tk(i)} ELSE ${tj(i)} END`)} AS t${i}`,
  );
  const content = (i: number) => `CASE WHEN fast THEN k${i} ELSE json_extract_string(j${i}, '$') END`;
  const contentBytesAtMost = (i: number) => `CASE WHEN fast THEN strlen(k${i}) ELSE strlen(j${i}) - 2 END`;
  const contentLength = (i: number) =>
    `CASE WHEN fast THEN length(k${i}) WHEN contains(j${i}, '\\') THEN length(json_extract_string(j${i}, '$')) ELSE length(j${i}) - 2 END`;
  // Numbers only where a field can hold one (the event-time field of every encoding but iso8601).
  const numeric = fields.map(
    (f, i) => f.type === 'integer' || f.type === 'number' || (i === ts && encoding !== 'iso8601'),
  );
  const numCols = fields
    .map((_, i) =>
      numeric[i] ? `CASE WHEN t${i} = ${NUMBER} THEN TRY_CAST(j${i} AS DOUBLE) END AS n${i}` : null,
    )
    .filter((col) => col !== null);
  // The lenient-JSON scan of general-path lines, cheap first: outside strings DuckDB's extra
  // leniency is a trailing comma (`,` then `]` or `}`) or a NaN / Infinity token, which starts a
  // value: after `:`, `,` or `[` (whitespace and a sign between). In an object line, a line none of
  // these patterns matches is strict JSON (each begins with a literal character, which RE2 finds at
  // memchr speed); one that matches, or a line that is not an object, gets the exact scan with
  // string literals removed.
  const lenientValue = `[ \\t\\n\\r]*[-+]?(?:[nN][aA]|[iI][nN])`;
  const mayBeLenient = [
    `regexp_matches(line, ',[ \\t\\n\\r]*(?:[\\]}]|[-+]?(?:[nN][aA]|[iI][nN]))')`,
    `regexp_matches(line, ':${lenientValue}')`,
    `regexp_matches(line, '\\[${lenientValue}')`,
  ];
  const isAbsent = (i: number) => `t${i} IS NULL`;
  const isInteger = (i: number) => `(isfinite(n${i}) AND n${i} = trunc(n${i}))`;
  const inList = (values: readonly (string | number)[], type?: 'BIGINT') =>
    `(${values.map((value) => sqlParam(params, value, type)).join(', ')})`;

  const fieldRule = (f: StreamField, i: number): string => {
    const absent = `CASE WHEN ${isAbsent(i)} THEN ${f.required && !f.nullable ? `'required'` : 'NULL'} `;
    switch (f.type) {
      case 'string':
        return (
          `${absent}WHEN t${i} <> ${STRING} THEN 'type' ` +
          (f.minLength === 1
            ? `WHEN CASE WHEN fast THEN k${i} = '' ELSE j${i} = '""' END THEN 'minLength' `
            : f.minLength !== null && f.minLength > 1
              ? `WHEN ${contentLength(i)} < ${sqlParam(params, f.minLength, 'BIGINT')} THEN 'minLength' `
              : '') +
          // Code points never outnumber the content's bytes, nor those the text's (escapes only add):
          // the exact count only for a string whose bytes pass the bound.
          (f.maxLength !== null
            ? `WHEN ${contentBytesAtMost(i)} > ${sqlParam(params, f.maxLength, 'BIGINT')} AND ${contentLength(i)} > ${sqlParam(params, f.maxLength, 'BIGINT')} THEN 'maxLength' `
            : '') +
          (f.enum !== null ? `WHEN ${content(i)} NOT IN ${inList(f.enum as string[])} THEN 'enum' ` : '') +
          'END'
        );
      case 'integer': {
        const { min, max } = integerBounds(f);
        return (
          `${absent}WHEN t${i} <> ${NUMBER} THEN 'type' WHEN NOT ${isInteger(i)} THEN 'integer' ` +
          `WHEN n${i} < ${sqlParam(params, min)} THEN 'minimum' WHEN n${i} > ${sqlParam(params, max)} THEN 'maximum' ` +
          (f.enum !== null ? `WHEN n${i} NOT IN ${inList(f.enum as number[])} THEN 'enum' ` : '') +
          'END'
        );
      }
      case 'number':
        return (
          `${absent}WHEN t${i} <> ${NUMBER} THEN 'type' WHEN NOT isfinite(n${i}) THEN 'finite' ` +
          (f.minimum !== null ? `WHEN n${i} < ${sqlParam(params, f.minimum)} THEN 'minimum' ` : '') +
          (f.maximum !== null ? `WHEN n${i} > ${sqlParam(params, f.maximum)} THEN 'maximum' ` : '') +
          (f.enum !== null ? `WHEN n${i} NOT IN ${inList(f.enum as number[])} THEN 'enum' ` : '') +
          'END'
        );
      case 'boolean':
        return (
          `${absent}WHEN t${i} <> ${BOOLEAN} THEN 'type' ` +
          (f.enum !== null ? `WHEN j${i} NOT IN ${inList(f.enum.map(String))} THEN 'enum' ` : '') +
          'END'
        );
    }
  };

  // The event-time field: a string branch (digits / ISO), a number branch, then the range rules on
  // ts_ms, the value in epoch ms (NULL for a string of the wrong form).
  const inRange = `(CASE WHEN ts_ms < 0 THEN 'minimum' WHEN ts_ms > ${latest} THEN 'future' END)`;
  const numberCheck =
    encoding === 'epoch_s' && timeField.type === 'number'
      ? `WHEN NOT isfinite(n${ts}) THEN 'finite'`
      : `WHEN NOT ${isInteger(ts)} THEN 'integer'`;
  const timeRule =
    `CASE WHEN ${isAbsent(ts)} THEN 'required' ` +
    (timeStrings
      ? `WHEN t${ts} = ${STRING} THEN (CASE WHEN ts_ms IS NULL THEN 'format' ELSE ${inRange} END) `
      : '') +
    (encoding !== 'iso8601'
      ? `WHEN t${ts} = ${NUMBER} THEN (CASE ${numberCheck} ELSE ${inRange} END) `
      : '') +
    `ELSE 'type' END`;
  const rules = fields.map((f, i) => (i === ts ? timeRule : fieldRule(f, i)));

  // The time string's forms hold no character JSON escapes, so a string of those forms is its JSON
  // text without the quotes: the patterns and positions below read the text itself (shifted by one).
  const s = `j${ts}`;
  const n = `n${ts}`;
  const quoted = (pattern: string) => sqlString(`^"${pattern.slice(1, -1)}"$`);
  // The ISO pattern has fixed-width parts, so once it matched, substrings are its groups (cheaper
  // than a regex with 11 capture groups): date and time at 2-20, a fraction from 22 when there are
  // digits after char 21 ('.'), then `Z` or `±HH:MM` before the closing quote. Each is cast only for
  // a matching string.
  const zulu = `ends_with(${s}, 'Z"')`;
  const isoPart = (sql: string) => `CASE WHEN iso THEN ${sql} END`;
  /** Digits of the fraction (≤ 0 without one): what the date, time, zone and quotes leave. */
  const fractionDigits = `strlen(${s}) - CASE WHEN ${zulu} THEN 23 ELSE 28 END`;
  const thousand = 'CAST(1000 AS DOUBLE)';
  const numberMs: Record<Stream['timeEncoding'], string> = {
    auto: n,
    iso8601: 'NULL',
    epoch_ms: n,
    // Same IEEE operations as epochSecondsToMs in the TS validator.
    epoch_s: `CASE WHEN (floor(${n} * ${thousand}) + 1) / ${thousand} = ${n} THEN floor(${n} * ${thousand}) + 1 ELSE floor(${n} * ${thousand}) END`,
    epoch_us: `floor(${n} / ${thousand})`,
  };
  const isoMs = `CASE WHEN iso AND cal_ok THEN epoch_ms(cstamp) + cfrac - csign * (coh * 60 + com) * ${MINUTE_MS} END`;
  const stringMs = timeIso && timeDigits ? `coalesce(ts_epoch, ${isoMs})` : timeIso ? isoMs : 'ts_epoch';
  const tsMs = timeStrings
    ? `CASE WHEN t${ts} = ${STRING} THEN ${stringMs} WHEN t${ts} = ${NUMBER} THEN ${numberMs[encoding]} END`
    : `CASE WHEN t${ts} = ${NUMBER} THEN ${numberMs[encoding]} END`;
  const timeColumns: string[] = [];
  if (timeDigits) {
    timeColumns.push(
      `CASE WHEN t${ts} = ${STRING} AND strlen(${s}) <= 17 AND regexp_matches(${s}, ${quoted(EVENT_EPOCH_STRING_PATTERN)}) THEN CAST(substr(${s}, 2, strlen(${s}) - 2) AS BIGINT) END AS ts_epoch`,
    );
  }
  if (timeIso) {
    timeColumns.push(
      `CASE WHEN t${ts} = ${STRING} AND strlen(${s}) >= 22 THEN regexp_matches(${s}, ${quoted(EVENT_ISO_PATTERN)}) ELSE FALSE END AS iso`,
    );
  }
  const numberColumns = [...numCols, ...timeColumns];
  // The calendar of ISO strings: one TIMESTAMP cast of the date and time (cheaper than a DATE and
  // three numbers cut out and cast). DuckDB's dates are exactly time.ts's daysFromCivil (proleptic
  // Gregorian, year 0000 a leap year) and it rejects exactly the dates, hours, minutes and seconds
  // the TS validator calls invalid — but for 24:00:00, which it reads as the next midnight, so an
  // hour of 24 is refused here (the pattern's shape has 'T' only before the hour). Checked against the
  // DATE-and-parts reading for every time 00:00:00 … 99:99:99 and the dates 0000-00-00 … 9999-13-32;
  // stream-staging-sql.test.ts holds the edges against the TS validator.
  const calendarCtes = timeIso
    ? `, calendar AS (
  SELECT *,
    ${isoPart(`TRY_CAST(substr(${s}, 2, 19) AS TIMESTAMP)`)} AS cstamp,
    ${isoPart(`CASE WHEN ${fractionDigits} >= 3 THEN CAST(substr(${s}, 22, 3) AS BIGINT) WHEN ${fractionDigits} > 0 THEN CAST(rpad(substr(${s}, 22, ${fractionDigits}), 3, '0') AS BIGINT) ELSE 0 END`)} AS cfrac,
    ${isoPart(`CASE WHEN ${zulu} THEN 0 ELSE CAST(substr(${s}, strlen(${s}) - 5, 2) AS BIGINT) END`)} AS coh,
    ${isoPart(`CASE WHEN ${zulu} THEN 0 ELSE CAST(substr(${s}, strlen(${s}) - 2, 2) AS BIGINT) END`)} AS com,
    ${isoPart(`CASE WHEN ${zulu} THEN 1 WHEN substr(${s}, strlen(${s}) - 6, 1) = '-' THEN -1 ELSE 1 END`)} AS csign
  FROM parsed
), civil AS (
  SELECT *,
    cstamp IS NOT NULL AND NOT contains(${s}, 'T24:') AND coh <= 23 AND com <= 59 AS cal_ok
  FROM calendar
)`
    : '';

  const defaultOf = (f: StreamField): string => {
    if (f.default === null) return 'NULL';
    switch (f.type) {
      case 'string':
        return sqlParam(params, f.default as string);
      case 'integer':
        return sqlParam(params, f.default as number, 'BIGINT');
      case 'number':
        return sqlParam(params, f.default as number);
      case 'boolean':
        return `CAST(${sqlParam(params, String(f.default))} AS BOOLEAN)`;
    }
  };
  const normalizedValue = (f: StreamField, i: number): string => {
    if (i === ts) return 'CAST(ts_ms AS BIGINT)';
    const present = {
      string: content(i),
      integer: `CAST(n${i} AS BIGINT)`,
      number: `n${i}`,
      boolean: `j${i} = 'true'`,
    }[f.type];
    return f.required && !f.nullable
      ? present
      : `CASE WHEN ${isAbsent(i)} THEN ${defaultOf(f)} ELSE ${present} END`;
  };
  const outputs = fields.map(
    (f, i) => `CASE WHEN error_rule IS NULL THEN ${normalizedValue(f, i)} END AS ${quoteIdent(f.name)}`,
  );

  const codeOf = (rule: EventRule) => sqlString(rejectionCode(rule));
  // Validity: a line shaped like an object (`{` … `}`) is parsed once, by its json_transform, which
  // fails exactly where json_valid says invalid (DuckDB's one JSON reader and flags); TRY makes that
  // a NULL instead of an error (per line, when a vector holds one). Any other line is rare enough
  // for json_valid and json_type first.
  const sql = `WITH raw AS (
  SELECT line${carried.map((name, i) => `, ${quoteIdent(name)} AS carry${i}`).join('')}, strlen(line) > ${maxBytes} AS too_large
  FROM ${options.linesRelation}
), shapes AS (
  SELECT line${carry}, too_large, NOT too_large AND starts_with(line, '{') AND ends_with(line, '}') AS shaped
  FROM raw
), checked AS (
  SELECT line${carry}, too_large, shaped,
    CASE WHEN too_large OR shaped THEN FALSE ELSE json_valid(line) END AS checked_valid
  FROM shapes
), objects AS (
  SELECT line${carry}, too_large, shaped, checked_valid,
    CASE WHEN shaped THEN TRUE WHEN NOT checked_valid THEN FALSE WHEN starts_with(line, '{') THEN TRUE
      ELSE json_type(line) = 'OBJECT' END AS maybe_object
  FROM checked
), tokens AS (
  SELECT line${carry}, too_large, shaped, checked_valid, maybe_object,
    CASE WHEN maybe_object AND ${canonicalStart} THEN TRY(CAST(json_transform(line, ${sqlString(tokenStruct)}) AS ${tokenType})) END AS tk
  FROM objects
), proved AS (
  SELECT line${carry}, too_large, shaped, checked_valid, maybe_object, tk,
    CASE WHEN tk IS NULL THEN FALSE
      WHEN ${fastShape.join(' AND ')} THEN coalesce(${reconstructed} = line, FALSE) ELSE FALSE END AS fast
  FROM tokens
), parsed_once AS (
  SELECT line${carry}, too_large, shaped, checked_valid, maybe_object, tk, fast,
    CASE WHEN maybe_object AND NOT fast THEN TRY(CAST(json_transform(line, ${sqlString(jsonStruct)}) AS ${tokenType})) END AS tj
  FROM proved
), general AS (
  SELECT line${carry}, too_large, tk, fast, tj,
    CASE WHEN shaped THEN fast OR tj IS NOT NULL ELSE checked_valid END AS valid,
    CASE WHEN shaped THEN fast OR tj IS NOT NULL ELSE maybe_object END AS is_object
  FROM parsed_once
), typed AS (
  SELECT line${carry}, too_large, valid, is_object, fast, ${typeCols.join(',\n    ')} FROM general
), numbers AS (
  SELECT *${numberColumns.map((column) => `,\n    ${column}`).join('')}
  FROM typed
), parsed AS (
  SELECT *,
    CASE WHEN fast THEN TRUE WHEN NOT valid THEN FALSE
      WHEN starts_with(line, '{')${mayBeLenient.map((check) => ` AND NOT ${check}`).join('')} THEN TRUE
      ELSE NOT regexp_matches(regexp_replace(line, ${jsonStringLiteral}, '""', 'g'), ${lenientJson}) END AS json_ok
  FROM numbers
)${calendarCtes}, stamped AS (
  SELECT *, ${tsMs} AS ts_ms
  FROM ${timeIso ? 'civil' : 'parsed'}
), ruled AS (
  SELECT *, ${rules.map((r, i) => `${r} AS r${i}`).join(',\n    ')}
  FROM stamped
), verdict AS (
  SELECT *,
    CASE WHEN too_large THEN 'size' WHEN NOT json_ok THEN 'json' WHEN NOT is_object THEN 'object'
      ELSE coalesce(${rules.map((_, i) => `r${i}`).join(', ')}) END AS error_rule,
    CASE WHEN too_large OR NOT json_ok OR NOT is_object THEN NULL
      ${fields.map((f, i) => `WHEN r${i} IS NOT NULL THEN ${sqlString(f.name)}`).join(' ')} END AS error_field
  FROM ruled
)
SELECT
  ${outputs.join(',\n  ')},
  CASE WHEN error_rule IS NULL THEN NULL WHEN error_rule = 'size' THEN ${codeOf('size')}
    WHEN error_rule = 'json' THEN ${codeOf('json')} ELSE ${codeOf('required')} END AS error_code,
  error_field,
  error_rule,
  line,
  fast AS canonical${carried.map((name, i) => `,\n  carry${i} AS ${quoteIdent(name)}`).join('')}
FROM verdict`;
  return { sql, params };
}

// A run file read once for export: DuckDB parses each row's states and finishes the scalar
// measures (count, sum, min, max, avg) into PostgreSQL COPY text lines, a chunk of lines per result
// row, so JavaScript never builds an object per row (decoding every row's states into objects was
// most of an export's time). Sketch measures (distinct, quantiles, topK) are left to core's finalize:
// their cells ride along as JSON. Core's `SealedRunTextReader` contract (layer-readers.ts).
import type { DuckDBConnection } from '@duckdb/node-api';
import {
  decodeStates,
  encodeStates,
  type Measure,
  type RunText,
  type RunTextChunk,
  type RunTextOptions,
  TandemError,
  type View,
} from '@tandem/core';
import { sqlString } from './duckdb-engine.ts';

/**
 * The states object of a row that starts with the view's envelope (`$1`): the text between the
 * envelope and the closing brace, so the envelope is checked by comparison and never parsed.
 */
const STATES_BODY = 'CASE WHEN starts_with(states, $1) THEN states[length($1) + 1:-2] END';

/** Measures whose finished value is plain arithmetic on their cells, done here in SQL. */
const SCALAR_KINDS: ReadonlySet<Measure['kind']> = new Set(['count', 'sum', 'min', 'max', 'avg']);

/** COPY text escapes of a value JavaScript holds (the trailer). */
export function copyTextEscape(text: string): string {
  return text.replace(/[\\\t\n\r]/g, (ch) =>
    ch === '\\' ? '\\\\' : ch === '\t' ? '\\t' : ch === '\n' ? '\\n' : '\\r',
  );
}

/** What `encodeStates` writes before the states object: `{"v":…,"view":…,"m":{…},"s":`. */
function statesEnvelope(view: View): string {
  const encoded = encodeStates(view, {});
  return encoded.slice(0, encoded.indexOf(',"s":') + ',"s":'.length);
}

/**
 * The same escapes in SQL, for text dimensions (SQL string literals take a backslash as is). Most
 * values need none: four scans are cheaper than four replaced copies (measured ~10% of a read).
 */
function sqlCopyEscape(expression: string): string {
  const special = [`'\\'`, 'chr(9)', 'chr(10)', 'chr(13)']
    .map((ch) => `contains(${expression}, ${ch})`)
    .join(' OR ');
  return (
    `CASE WHEN ${special} THEN replace(replace(replace(replace(${expression}, '\\', '\\\\'), ` +
    `chr(9), '\\t'), chr(10), '\\n'), chr(13), '\\r') ELSE ${expression} END`
  );
}

/**
 * A finite double (a column name: it is used several times) as text that reads back as the same
 * double, and integers below 1e21 exactly as JavaScript's `String` prints them (so a bigint column
 * reads the same integer the serving layer answers): below 2^53 the integer's digits; above, DuckDB
 * prints the same shortest round-trip digits but as `9.2e+18` from 1e16 on (or `9007199254740994.0`
 * below), which are spelled out with zeros. `-0` prints as `0`, as `String(-0)` does. Other doubles
 * may be spelled differently from `String` (`1.5e-07`), never with another value.
 */
function numberText(column: string): string {
  const text = `CAST(${column} AS VARCHAR)`;
  const mantissa = `split_part(${text}, 'e+', 1)`;
  const exponent = `CAST(split_part(${text}, 'e+', 2) AS INTEGER)`;
  const spelledOut =
    `CASE WHEN contains(${text}, 'e+') THEN rpad(replace(${mantissa}, '.', ''), ` +
    `${exponent} + CASE WHEN ${column} < 0 THEN 2 ELSE 1 END, '0') ` +
    `ELSE left(${text}, length(${text}) - 2) END`;
  return (
    `CASE WHEN ${column} <> trunc(${column}) OR abs(${column}) >= 1e21 THEN ${text} ` +
    `WHEN abs(${column}) < 9007199254740992 THEN CAST(CAST(${column} AS BIGINT) AS VARCHAR) ` +
    `ELSE ${spelledOut} END`
  );
}

interface RunTextQuery {
  sql: string;
  finalized: string[];
  deferred: string[];
}

/**
 * The query over one run file (`$1` the states envelope, `$2` the trailer text with its leading
 * tab, `$3` lines per chunk). One JSON parse per row: `json_transform` takes every cell the line
 * needs as JSON text in one pass. A row is `ok` when its states start with exactly the envelope
 * `encodeStates` writes for this view (encoding, view and measure versions, which is what
 * `decodeStates` checks) and every cell read here is a number or absent. `json_transform` reads a
 * JSON null as absent, so the rare row whose text holds `null` is checked again cell by cell.
 */
function runTextQuery(view: View, path: string): RunTextQuery {
  /** `json_transform`'s structure: per measure, its cells (scalars) or the whole object (sketches). */
  const structure: Record<string, 'JSON' | Record<string, 'JSON'>> = {};
  /** Per cell read: its JSON text column, its number column, and its path (for the null check). */
  const cells: Array<{ json: string; number: string; path: string }> = [];
  const values: string[] = [];
  const finalized: string[] = [];
  const deferred: string[] = [];
  const number = (measure: Measure, name: string): string => {
    const fields = (structure[measure.name] ?? {}) as Record<string, 'JSON'>;
    fields[name] = 'JSON';
    structure[measure.name] = fields;
    const index = cells.length;
    cells.push({
      json: `CAST(c."${measure.name}"."${name}" AS VARCHAR) AS j${index}`,
      number: `TRY_CAST(j${index} AS DOUBLE) AS x${index}`,
      path: `$."${measure.name}"."${name}"`,
    });
    return `x${index}`;
  };
  for (const measure of Object.values(view.measures)) {
    if (!SCALAR_KINDS.has(measure.kind)) {
      structure[measure.name] = 'JSON';
      deferred.push(measure.name);
      continue;
    }
    finalized.push(...measure.outputs);
    switch (measure.kind) {
      case 'count':
        values.push(`coalesce(${number(measure, 'n')}, 0)`);
        break;
      case 'sum':
        values.push(`coalesce(${number(measure, 's')}, 0)`);
        break;
      case 'min':
      case 'max':
        values.push(number(measure, 'v'));
        break;
      case 'avg': {
        const s = number(measure, 's');
        const n = number(measure, 'n');
        values.push(`coalesce(${s}, 0) / CASE WHEN ${n} <> 0 THEN ${n} END`);
        break;
      }
    }
  }
  const dimensions = view.dimensions.map((dimension, index) => {
    const type = view.eventSchema[dimension];
    const value = `d[${index + 1}]`;
    return `coalesce(${type === 'integer' || type === 'number' ? value : sqlCopyEscape(value)}, '\\N')`;
  });
  const line = [
    `strftime(epoch_ms(bucket), '%Y-%m-%dT%H:%M:%S.%gZ')`,
    ...dimensions,
    ...values.map((_, i) => `coalesce(${numberText(`y${i}`)}, '\\N')`),
  ].join(` || chr(9) || `);
  const list = (items: string[]) => `[${items.map(sqlString).join(', ')}]`;
  const transformed =
    Object.keys(structure).length === 0
      ? ''
      : `, json_transform(body, ${sqlString(JSON.stringify(structure))}) AS c`;
  const dims =
    view.dimensions.length === 0
      ? ''
      : `, json_extract_string(dims, ${list(view.dimensions.map((_, i) => `$[${i}]`))}) AS d`;
  const nullCells =
    cells.length === 0
      ? 'true'
      : `(NOT contains(body, 'null') OR NOT list_contains(CAST(json_extract(body, ${list(cells.map((cell) => cell.path))}) AS VARCHAR[]), 'null'))`;
  const ok = `coalesce(${[
    'body IS NOT NULL',
    ...cells.map((_, i) => `(j${i} IS NULL OR x${i} IS NOT NULL)`),
    nullCells,
  ].join(' AND ')}, false)`;
  const sketchText = deferred.map((name, i) => `, CAST(c."${name}" AS VARCHAR) AS cells${i}`).join('');
  const sketchChunks = deferred
    .map((_, i) => `, string_agg(coalesce(cells${i}, ''), chr(10) ORDER BY rn) AS cells${i}`)
    .join('');
  const sql =
    `SELECT count(*) AS lines, string_agg(line, '' ORDER BY rn) AS text, count_if(NOT ok) AS bad, ` +
    `arg_min(states, rn) FILTER (WHERE NOT ok) AS first_bad${sketchChunks} ` +
    `FROM (SELECT rn, states${deferred.map((_, i) => `, cells${i}`).join('')}, ${ok} AS ok, ` +
    `${line} || $2 || chr(10) AS line ` +
    `FROM (SELECT *${values.map((value, i) => `, ${value} AS y${i}`).join('')} ` +
    `FROM (SELECT *${cells.map((cell) => `, ${cell.number}`).join('')} ` +
    `FROM (SELECT rn, bucket, states, body${view.dimensions.length === 0 ? '' : ', d'}${cells.map((cell) => `, ${cell.json}`).join('')}${sketchText} ` +
    `FROM (SELECT rn, bucket, states, body${dims}${transformed} ` +
    `FROM (SELECT file_row_number AS rn, bucket, dims, states, ${STATES_BODY} AS body ` +
    `FROM read_parquet(${sqlString(path)}, file_row_number = true))))))) ` +
    'GROUP BY rn // CAST($3 AS BIGINT) ORDER BY rn // CAST($3 AS BIGINT)';
  return { sql, finalized, deferred };
}

/** Reads one run file as COPY text lines (see core's `SealedRunTextReader`). */
export async function readRunText(
  connection: DuckDBConnection,
  view: View,
  path: string,
  options: RunTextOptions,
): Promise<RunText> {
  const { sql, finalized, deferred } = runTextQuery(view, path);
  const trailer = options.trailer.map((value) => `\t${copyTextEscape(value)}`).join('');
  let reader: Awaited<ReturnType<DuckDBConnection['runAndReadAll']>>;
  try {
    reader = await connection.runAndReadAll(sql, [statesEnvelope(view), trailer, options.chunkRows]);
  } catch (error) {
    // A row whose states are not JSON fails the whole query: decodeStates names it.
    await refuseInvalidStates(connection, view, path);
    throw error;
  }
  const columns = reader.getColumnsJS() as unknown[][];
  const [lines = [], texts = [], bad = [], firstBad = []] = columns;
  const chunks: RunTextChunk[] = [];
  let rows = 0;
  for (let i = 0; i < lines.length; i++) {
    if (Number(bad[i]) > 0) refuseStates(view, String(firstBad[i]));
    const count = Number(lines[i]);
    rows += count;
    chunks.push({
      rows: count,
      text: String(texts[i]),
      cells: deferred.map((_, d) =>
        String(columns[4 + d]![i])
          .split('\n')
          .map((text) => (text === '' ? null : text)),
      ),
    });
  }
  return { rows, finalized, deferred, chunks };
}

/** Throws decodeStates' coded error for a row the query found wrong, or a coded error of its own. */
function refuseStates(view: View, states: string): never {
  decodeStates(view, states);
  throw new TandemError(
    'TANDEM_ERR_STATE_VERSION',
    `stored states of view "${view.name}" are not laid out as encodeStates writes them (a cell is not a number, or the envelope is spelled differently); recompute the affected hours (tandem batch recompute)`,
    { details: { view: view.name, states: states.slice(0, 200) } },
  );
}

async function refuseInvalidStates(connection: DuckDBConnection, view: View, path: string): Promise<void> {
  const found = await connection
    .runAndReadAll(
      `SELECT states FROM read_parquet(${sqlString(path)}) ` +
        `WHERE NOT coalesce(json_valid(states) AND json_valid(coalesce(${STATES_BODY}, '{}')), false) LIMIT 1`,
      [statesEnvelope(view)],
    )
    .catch(() => null);
  const states = found?.getColumnsJS()[0]?.[0];
  if (states !== undefined) refuseStates(view, String(states));
}

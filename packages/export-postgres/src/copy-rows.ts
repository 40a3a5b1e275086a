// Sealed partial rows as lines of PostgreSQL's COPY text format: each measure finalized with core's
// measure.finalize, as finalizeStates does (the same finished values the serving layer answers with), each value spelled the
// way its column's input function reads it, every row stamped with the run that produced it.
import { type PartialRow, TandemError } from '@tandem/core';
import type { ColumnSpec, TableLayout } from './table-layout.ts';

/** The run an hour's rows come from. */
export interface RunStamp {
  runId: string;
  fencingToken: number;
  pointerVersion: string;
}

/** COPY text escapes: backslash, and the characters that end a field or a line. */
function escapeText(text: string): string {
  if (!/[\\\t\n\r]/.test(text)) {
    if (text.includes('\u0000')) throw nulError();
    return text;
  }
  if (text.includes('\u0000')) throw nulError();
  return text.replace(/[\\\t\n\r]/g, (ch) =>
    ch === '\\' ? '\\\\' : ch === '\t' ? '\\t' : ch === '\n' ? '\\n' : '\\r',
  );
}

function nulError(): TandemError {
  return new TandemError(
    'TANDEM_ERR_EXPORT_FAILED',
    'a value holds a NUL character, which PostgreSQL text can not store',
  );
}

const NULL = '\\N';

/** One value of a column, as COPY reads it. */
function encodeValue(column: ColumnSpec, value: unknown): string {
  if (value === null || value === undefined) return NULL;
  switch (column.type) {
    case 'bigint':
    case 'double precision':
      // Finite numbers only (measures never produce NaN or infinities); JS prints 1e+21 and 1e-7
      // forms that float8 reads, and integers below 1e21 as plain digits that int8 reads.
      return String(value);
    case 'jsonb':
      return escapeText(JSON.stringify(value));
    case 'timestamp with time zone':
      return new Date(value as number).toISOString();
    case 'text':
      return escapeText(String(value));
  }
}

/** Column order of the COPY lines (every column of the table). */
export function copyColumns(layout: TableLayout): string[] {
  return layout.columns.map((column) => column.name);
}

/**
 * Encodes rows as COPY text, `chunkRows` rows per string, so a large hour is written in bounded
 * pieces while the previous piece is on the wire. Each measure is finished by its own core
 * `finalize` (what `finalizeStates` calls, without building a record per row), and a bucket's text
 * is computed once per bucket.
 */
export function* copyChunks(
  layout: TableLayout,
  rows: readonly PartialRow[],
  run: RunStamp,
  chunkRows: number,
): Generator<string> {
  const dimensionColumns = layout.columns.filter((column) => column.role === 'dimension');
  const finishers = measureFinishers(layout);
  const runSuffix = `\t${escapeText(run.runId)}\t${run.fencingToken}\t${escapeText(run.pointerVersion)}\n`;
  const bucketText = new Map<number, string>();
  let chunk = '';
  let inChunk = 0;
  for (const row of rows) {
    let line = bucketText.get(row.bucket);
    if (line === undefined) {
      line = new Date(row.bucket).toISOString();
      bucketText.set(row.bucket, line);
    }
    for (let i = 0; i < dimensionColumns.length; i++) {
      line += `\t${encodeValue(dimensionColumns[i]!, row.dims[i])}`;
    }
    for (const finish of finishers) line += finish(row);
    chunk += line + runSuffix;
    if (++inChunk >= chunkRows) {
      yield chunk;
      chunk = '';
      inChunk = 0;
    }
  }
  if (chunk !== '') yield chunk;
}

/**
 * Per measure, `\t`-prefixed COPY text of its finished value(s) from a row's states, in column
 * order: `measure.finalize(state ?? empty)`, quantiles spread to one column per output, exactly as
 * core's `finalizeStates` does.
 */
function measureFinishers(layout: TableLayout): Array<(row: PartialRow) => string> {
  const finishers: Array<(row: PartialRow) => string> = [];
  const seen = new Set<string>();
  for (const { measure } of layout.measureColumns) {
    if (seen.has(measure.name)) continue;
    seen.add(measure.name);
    const columns = layout.measureColumns
      .filter((entry) => entry.measure === measure)
      .map(({ column }) => layout.columns.find((candidate) => candidate.name === column)!);
    const finish = (row: PartialRow) => measure.finalize(row.states[measure.name] ?? measure.empty());
    if (measure.kind === 'quantiles') {
      finishers.push((row) => {
        const values = finish(row) as Record<string, number | null>;
        let text = '';
        for (const column of columns) text += `\t${encodeValue(column, values[column.name])}`;
        return text;
      });
    } else {
      const column = columns[0]!;
      finishers.push((row) => `\t${encodeValue(column, finish(row))}`);
    }
  }
  return finishers;
}

// A sealed run as PostgreSQL COPY text: the batch reader hands over the run as COPY lines with the
// scalar measures already finished (core's `SealedRunTextReader`); this appends the values of the
// sketch measures it left (distinct, quantiles, topK), each finished with core's measure.finalize,
// as finalizeStates does — the same values the serving layer answers with — and refuses text COPY
// can not carry. The COPY column list says which column each field is.
import { adoptCells, type RunText, TandemError } from '@tandem/core';
import { type ColumnSpec, RUN_COLUMNS, type TableLayout } from './table-layout.ts';

/** The run an hour's rows come from (the trailer of every line). */
export interface RunStamp {
  runId: string;
  fencingToken: number;
  pointerVersion: string;
}

/** The trailer values of a run, in `RUN_COLUMNS` order. */
export function runTrailer(run: RunStamp): string[] {
  return [run.runId, String(run.fencingToken), run.pointerVersion];
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

/**
 * Column order of the COPY lines: the bucket, the dimensions, the measure outputs the reader
 * finished, the run columns, then the outputs of the measures left to `copyChunks`. Throws when
 * the outputs do not cover the table's measure columns exactly once (a reader of another view
 * definition).
 */
export function copyColumns(layout: TableLayout, text: RunText): string[] {
  const deferred = text.deferred.flatMap((name) => {
    const measure = layout.view.measures[name];
    if (measure === undefined) throw layoutMismatch(layout, `measure "${name}" is not in the view`);
    return [...measure.outputs];
  });
  const measures = [...text.finalized, ...deferred];
  const expected = layout.measureColumns.map(({ column }) => column);
  if (measures.length !== expected.length || !expected.every((column) => measures.includes(column))) {
    throw layoutMismatch(
      layout,
      `the reader finished ${measures.join(', ')}; the table has ${expected.join(', ')}`,
    );
  }
  return ['bucket', ...layout.view.dimensions, ...text.finalized, ...RUN_COLUMNS, ...deferred];
}

function layoutMismatch(layout: TableLayout, message: string): TandemError {
  return new TandemError(
    'TANDEM_ERR_EXPORT_FAILED',
    `the run text of view "${layout.view.name}" does not match its table ${layout.table}: ${message}`,
    { details: { view: layout.view.name, table: layout.table } },
  );
}

/**
 * The run's COPY text, one piece per chunk the reader made (so a large hour is written in bounded
 * pieces while the previous one is on the wire). Lines pass through as they are when every measure
 * was finished by the reader; otherwise each line gets its sketch measures' values appended.
 */
export function* copyChunks(layout: TableLayout, text: RunText): Generator<string> {
  const finishers = text.deferred.map((name) => deferredFinisher(layout, name));
  for (const chunk of text.chunks) {
    // The reader leaves NUL in place (COPY text can not carry it): refused as a value would be.
    if (chunk.text.includes('\u0000')) throw nulError();
    if (finishers.length === 0) {
      yield chunk.text;
      continue;
    }
    const lines = chunk.text.split('\n');
    let out = '';
    for (let row = 0; row < chunk.rows; row++) {
      let line = lines[row]!;
      for (let m = 0; m < finishers.length; m++) line += finishers[m]!(chunk.cells[m]![row] ?? null);
      out += `${line}\n`;
    }
    yield out;
  }
}

/**
 * `\t`-prefixed COPY text of a sketch measure's finished value(s) from its stored cells (JSON):
 * `measure.finalize` of the cells as decodeStates adopts them, quantiles spread to one column per
 * output, exactly as core's `finalizeStates` does.
 */
function deferredFinisher(layout: TableLayout, name: string): (cells: string | null) => string {
  const measure = layout.view.measures[name]!;
  const columns = measure.outputs.map(
    (output) => layout.columns.find((candidate) => candidate.name === output)!,
  );
  const finish = (cells: string | null) =>
    measure.finalize(adoptCells(cells === null ? undefined : JSON.parse(cells), layout.view, name));
  if (measure.kind === 'quantiles') {
    return (cells) => {
      const values = finish(cells) as Record<string, number | null>;
      let text = '';
      for (const column of columns) text += `\t${encodeValue(column, values[column.name])}`;
      return text;
    };
  }
  const column = columns[0]!;
  return (cells) => `\t${encodeValue(column, finish(cells))}`;
}

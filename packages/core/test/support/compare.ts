// Comparison of partial rows from the two engines: exact for every cell except floating-point
// sums (sum/avg over a 'number' field), which may differ by summation order (1e-9 relative).
import type { FieldType } from '../../src/fields.ts';
import type { Cells, PartialRow } from '../../src/types.ts';
import { sortPartialRows, type View } from '../../src/view.ts';

export const FLOAT_RELATIVE_TOLERANCE = 1e-9;

function isFloatSum(view: View, measure: string, cell: string): boolean {
  const m = view.measures[measure];
  if (m === undefined || cell !== 's' || (m.kind !== 'sum' && m.kind !== 'avg')) return false;
  return (view.measureSchema[m.field as string] as FieldType) === 'number';
}

function close(a: number, b: number): boolean {
  if (a === b) return true;
  return Math.abs(a - b) <= FLOAT_RELATIVE_TOLERANCE * Math.max(Math.abs(a), Math.abs(b));
}

/** Describes the first difference between two cells objects, or null when equal. */
export function diffCells(a: Cells, b: Cells, floatCell: (cell: string) => boolean): string | null {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const x = a[key];
    const y = b[key];
    if (x === undefined || y === undefined) return `cell "${key}": ${x} vs ${y}`;
    if (floatCell(key) ? !close(x, y) : !(x === y || (x === 0 && y === 0)))
      return `cell "${key}": ${x} vs ${y}`;
  }
  return null;
}

/** Describes the first difference between two sets of partial rows, or null when they agree. */
export function diffPartialRows(view: View, left: PartialRow[], right: PartialRow[]): string | null {
  const a = sortPartialRows([...left]);
  const b = sortPartialRows([...right]);
  if (a.length !== b.length) {
    return `row counts differ: ${a.length} vs ${b.length}\n${JSON.stringify(a.map((r) => [r.bucket, r.dims]))}\n${JSON.stringify(b.map((r) => [r.bucket, r.dims]))}`;
  }
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as PartialRow;
    const y = b[i] as PartialRow;
    if (x.bucket !== y.bucket || JSON.stringify(x.dims) !== JSON.stringify(y.dims)) {
      return `row ${i}: (${x.bucket}, ${JSON.stringify(x.dims)}) vs (${y.bucket}, ${JSON.stringify(y.dims)})`;
    }
    for (const name of Object.keys(view.measures)) {
      const d = diffCells(x.states[name] ?? {}, y.states[name] ?? {}, (cell) => isFloatSum(view, name, cell));
      if (d !== null) return `row ${i} (${x.bucket}, ${JSON.stringify(x.dims)}) measure ${name}: ${d}`;
    }
  }
  return null;
}

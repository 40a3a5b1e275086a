// Ground truth for the speed tests: core's compiled reducer applied once, here, to the events the
// speed layer should accept, and a canonical form to compare partial rows exactly.
import { compileReducer, getView, type PartialRow, type StreamEvent, type View } from '@tandem/core';

/**
 * The rows a view must hold after the speed layer applied `accepted` (sessions of `openUsers` stay
 * open). `view` is a view or the name of a built-in one.
 */
export function truthRows(
  view: string | View,
  accepted: readonly StreamEvent[],
  openUsers: Set<string> = new Set(),
): PartialRow[] {
  const resolved = typeof view === 'string' ? getView(view) : view;
  if (resolved.sessionize !== null) {
    const reducer = compileReducer(
      resolved as typeof resolved & { sessionize: NonNullable<typeof resolved.sessionize> },
    );
    const by = resolved.sessionize.by;
    for (const event of accepted) {
      if (!openUsers.has(String(event[by]))) reducer.add(event);
    }
    reducer.flush();
    return reducer.rows();
  }
  const reducer = compileReducer(resolved);
  for (const event of accepted) reducer.add(event);
  return reducer.rows();
}

/** Rows as sorted plain JSON, so equal states compare equal whatever their key order or prototype. */
export function canonicalRows(rows: PartialRow[]): string[] {
  return rows
    .map((row) => {
      const states: Record<string, Record<string, number>> = {};
      for (const measure of Object.keys(row.states).sort()) {
        const cells = row.states[measure]!;
        states[measure] = Object.fromEntries(
          Object.keys(cells)
            .sort()
            .map((cell) => [cell, cells[cell]!]),
        );
      }
      return JSON.stringify({ bucket: row.bucket, dims: row.dims, states });
    })
    .sort();
}

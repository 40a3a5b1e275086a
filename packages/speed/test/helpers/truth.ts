// Ground truth for the speed tests: core's compiled reducer applied once, here, to the events the
// speed layer should accept, and a canonical form to compare partial rows exactly.
import { compileReducer, getView, type PartialRow, type TandemEvent } from '@tandem/core';

/** The rows a view must hold after the speed layer applied `accepted` (sessions of `openUsers` stay open). */
export function truthRows(viewName: string, accepted: TandemEvent[], openUsers: Set<string>): PartialRow[] {
  const view = getView(viewName);
  if (view.sessionize !== null) {
    const reducer = compileReducer(view as typeof view & { sessionize: NonNullable<typeof view.sessionize> });
    const by = view.sessionize.by;
    for (const event of accepted) {
      if (!openUsers.has(String(event[by]))) reducer.add(event);
    }
    reducer.flush();
    return reducer.rows();
  }
  const reducer = compileReducer(view);
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

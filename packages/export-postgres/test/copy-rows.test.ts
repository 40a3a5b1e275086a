// COPY text of a run as the batch reader hands it over: lines pass through, sketch measures the
// reader left are finished with core's finalize (compared with finalizeStates), the column list
// matches the fields, and text COPY can not carry is refused. Pure: no database.
import {
  type Cells,
  createCatalog,
  defineView,
  finalizeStates,
  type RunText,
  TandemError,
  webStream,
} from '@tandem/core';
import { describe, expect, it } from 'vitest';
import { copyChunks, copyColumns, runTrailer } from '../src/copy-rows.ts';
import { tableLayoutOf } from '../src/table-layout.ts';

const view = defineView(
  {
    name: 'sketchy',
    bucket: '1h',
    dimensions: ['endpoint'],
    measures: {
      requests: { kind: 'count' },
      users: { kind: 'distinct', field: 'user_id' },
      latency: { kind: 'quantiles', field: 'response_time_ms', qs: [0.5, 0.99] },
      pages: { kind: 'topK', field: 'page_id', k: 2 },
    },
  },
  webStream,
);
const layout = tableLayoutOf(createCatalog([webStream], [view]), view, 'tandem');
const run = { runId: 'run-1', fencingToken: 9, pointerVersion: 'etag-1' };

function statesOf(users: string[], latencies: number[], pages: string[]): Record<string, Cells> {
  const m = view.measures;
  return {
    requests: m.requests!.empty(),
    users: users.reduce((state, user) => m.users!.add(state, user), m.users!.empty()),
    latency: latencies.reduce((state, x) => m.latency!.add(state, x), m.latency!.empty()),
    pages: pages.reduce((state, page) => m.pages!.add(state, page), m.pages!.empty()),
  };
}

/** Reverses COPY text escapes. */
function copyTextValue(field: string): string {
  return field.replace(/\\(.)/g, (_, ch: string) =>
    ch === 't' ? '\t' : ch === 'n' ? '\n' : ch === 'r' ? '\r' : ch,
  );
}

const rows = [
  statesOf(['a', 'b', 'c'], [1.5, 20, 300], ['/x', '/y', '/x', 'tab\there']),
  statesOf([], [], []),
];
/** What the reader would hand over for `rows`: lines up to the trailer, the sketches as cells. */
const text: RunText = {
  rows: 2,
  finalized: ['requests'],
  deferred: ['users', 'latency', 'pages'],
  chunks: [
    {
      rows: 2,
      text: '2024-07-01T00:00:00.000Z\t/a\t0\trun-1\t9\tetag-1\n2024-07-01T00:00:00.000Z\t/b\t0\trun-1\t9\tetag-1\n',
      cells: ['users', 'latency', 'pages'].map((name) => rows.map((states) => JSON.stringify(states[name]))),
    },
  ],
};

describe('copy rows', () => {
  it('lists the columns in field order: reader-finished measures, the run, then the sketches', () => {
    expect(copyColumns(layout, text)).toEqual([
      'bucket',
      'endpoint',
      'requests',
      'run_id',
      'fencing_token',
      'pointer_version',
      'users',
      'p50_latency',
      'p99_latency',
      'pages',
    ]);
    expect(runTrailer(run)).toEqual(['run-1', '9', 'etag-1']);
  });

  it('finishes the sketch measures as finalizeStates does', () => {
    const lines = [...copyChunks(layout, text)].join('').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(2);
    rows.forEach((states, index) => {
      const finished = finalizeStates(view, states);
      const fields = lines[index]!.split('\t');
      expect(fields.slice(0, 6)).toEqual(text.chunks[0]!.text.split('\n')[index]!.split('\t'));
      const [users, p50, p99, pages] = fields.slice(6);
      expect(Number(users)).toBe(finished.users);
      expect(p50 === '\\N' ? null : Number(p50)).toBe(finished.p50_latency);
      expect(p99 === '\\N' ? null : Number(p99)).toBe(finished.p99_latency);
      expect(JSON.parse(copyTextValue(pages!))).toEqual(finished.pages);
    });
    // The first row's values are not the empty ones, so the comparison above means something.
    expect(finalizeStates(view, rows[0]!)).toMatchObject({
      users: 3,
      pages: [
        { key: '/x', count: 2 },
        { key: '/y', count: 1 },
      ],
    });
  });

  it('passes whole lines through when the reader finished every measure', () => {
    const scalar = defineView(
      { name: 'plain', bucket: '1h', measures: { requests: { kind: 'count' } } },
      webStream,
    );
    const plainLayout = tableLayoutOf(createCatalog([webStream], [scalar]), scalar, 'tandem');
    const lines = '2024-07-01T00:00:00.000Z\t3\trun-1\t9\tetag-1\n';
    const plain: RunText = {
      rows: 1,
      finalized: ['requests'],
      deferred: [],
      chunks: [{ rows: 1, text: lines, cells: [] }],
    };
    expect([...copyChunks(plainLayout, plain)]).toEqual([lines]);
  });

  it('refuses a NUL, a missing sketch cell and a reader of another view definition', () => {
    const nul: RunText = {
      ...text,
      chunks: [{ ...text.chunks[0]!, text: text.chunks[0]!.text.replace('/a', '/\u0000a') }],
    };
    expect(() => [...copyChunks(layout, nul)]).toThrow(/NUL character/);
    const missing: RunText = {
      ...text,
      chunks: [{ ...text.chunks[0]!, cells: [[null, null], ...text.chunks[0]!.cells.slice(1)] }],
    };
    expect(() => [...copyChunks(layout, missing)]).toThrow(
      expect.objectContaining({ code: 'TANDEM_ERR_STATE_VERSION' }),
    );
    const other: RunText = { ...text, finalized: ['requests', 'bytes'] };
    const refused = (() => {
      try {
        copyColumns(layout, other);
        return null;
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(TandemError);
    expect((refused as TandemError).code).toBe('TANDEM_ERR_EXPORT_FAILED');
    expect((refused as TandemError).message).toMatch(/does not match its table/);
  });
});

// Segments rotate on content alone, so restarting from any committed offset reproduces the same
// files under the same names: checked exhaustively over random partition logs.
import { HOUR_MS } from '@tandem/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type HourBuffer, type SealReason, Segment } from '../src/segment.ts';

const decoder = new TextDecoder();

function linesOf(buffer: HourBuffer): string[] {
  return decoder.decode(buffer.ndjson()).split('\n').slice(0, -1);
}

interface LogEntry {
  /** null: an invalid message. */
  eventTime: number | null;
  line: string;
}

interface ArchivedFile {
  name: string;
  hour: number;
  lines: string[];
}

/**
 * Replays a partition log from `start` the way the archiver does (count/bytes rotation only) and
 * returns the files written and the commit points (segment ends).
 */
function replay(
  log: LogEntry[],
  start: number,
  limits: { maxRecords: number; maxBytes: number },
): { files: ArchivedFile[]; commits: number[] } {
  const files: ArchivedFile[] = [];
  const commits: number[] = [];
  let segment: Segment | null = null;
  const seal = (): void => {
    if (segment === null) return;
    for (const buffer of segment.hourBuffers()) {
      files.push({ name: `t+0+${buffer.firstOffset}`, hour: buffer.hour, lines: linesOf(buffer) });
    }
    commits.push(Number(segment.endOffset));
    segment = null;
  };
  for (let offset = start; offset < log.length; offset++) {
    const entry = log[offset]!;
    segment ??= new Segment(0, 0, offset, 0, limits);
    let full: SealReason | null;
    if (entry.eventTime === null) full = segment.skip(offset);
    else {
      const hour = Math.floor(entry.eventTime / HOUR_MS) * HOUR_MS;
      full = segment.add(offset, hour, entry.eventTime, entry.line);
    }
    if (full !== null) seal();
  }
  // The tail stays open (uncommitted), as in a crash.
  return { files, commits };
}

const logArbitrary = fc.array(
  fc.record({
    eventTime: fc.option(fc.integer({ min: 0, max: 5 * HOUR_MS - 1 }), { nil: null, freq: 8 }),
    line: fc.string({ minLength: 1, maxLength: 40 }),
  }),
  { minLength: 1, maxLength: 400 },
);

describe('Segment', () => {
  it('buffers per event hour and names each file by the first offset of its hour', () => {
    const segment = new Segment(3, 0, 100, 0, { maxRecords: 10, maxBytes: 1 << 20 });
    expect(segment.add(100, 0, 5, 'a')).toBeNull();
    expect(segment.add(101, HOUR_MS, HOUR_MS + 1, 'bb')).toBeNull();
    expect(segment.skip(102)).toBeNull();
    expect(segment.add(103, 0, 7, 'c')).toBeNull();
    const buffers = segment.hourBuffers();
    expect(
      buffers.map((buffer) => [buffer.hour, buffer.firstOffset, decoder.decode(buffer.ndjson())]),
    ).toEqual([
      [0, 100, 'a\nc\n'],
      [HOUR_MS, 101, 'bb\n'],
    ]);
    expect(segment.endOffset).toBe(104);
    expect([segment.records, segment.invalid, segment.bytes]).toEqual([4, 1, 7]);
    expect([segment.minEventTime, segment.maxEventTime]).toEqual([5, HOUR_MS + 1]);
  });

  it('closes at the record bound (counting invalid messages) and at the byte bound (UTF-8)', () => {
    const byCount = new Segment(0, 0, 0, 0, { maxRecords: 3, maxBytes: 1 << 20 });
    expect(byCount.add(0, 0, 0, 'x')).toBeNull();
    expect(byCount.skip(1)).toBeNull();
    expect(byCount.add(2, 0, 0, 'y')).toBe('records');
    const byBytes = new Segment(0, 0, 0, 0, { maxRecords: 100, maxBytes: 8 });
    expect(byBytes.add(0, 0, 0, 'ééé')).toBeNull(); // 6 bytes + newline
    expect(byBytes.add(1, 0, 0, 'a')).toBe('bytes');
  });

  it('rewrites the same names with the same bytes after a restart from any commit', () => {
    fc.assert(
      fc.property(
        logArbitrary,
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 8, max: 400 }),
        (log, maxRecords, maxBytes) => {
          const limits = { maxRecords, maxBytes };
          const full = replay(log, 0, limits);
          const byName = new Map(full.files.map((file) => [file.name, file]));
          for (const commit of full.commits) {
            const rerun = replay(log, commit, limits);
            for (const file of rerun.files) expect(byName.get(file.name)).toEqual(file);
            expect(rerun.commits).toEqual(full.commits.filter((offset) => offset > commit));
          }
          // Every valid event is in exactly one file of its own hour (up to the open tail).
          const lastCommit = full.commits.at(-1) ?? 0;
          const expected = log.slice(0, lastCommit).filter((entry) => entry.eventTime !== null).length;
          expect(full.files.reduce((sum, file) => sum + file.lines.length, 0)).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('HourBuffer', () => {
  it('encodes lines of any length across chunk boundaries', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 3000 }), { maxLength: 200 }), (lines) => {
        const segment = new Segment(0, 0, 0, 0, { maxRecords: 1_000_000, maxBytes: 1 << 30 });
        for (const [index, line] of lines.entries()) segment.add(index, 0, 0, line);
        const expected = lines.map((line) => `${line}\n`).join('');
        const buffer = segment.hourBuffers()[0];
        if (lines.length === 0) {
          expect(buffer).toBeUndefined();
          return;
        }
        expect(decoder.decode(buffer!.ndjson())).toBe(expected);
        expect(buffer!.bytes).toBe(Buffer.byteLength(expected));
        expect(segment.bytes).toBe(Buffer.byteLength(expected));
      }),
      { numRuns: 100 },
    );
  });
});

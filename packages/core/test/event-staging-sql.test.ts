// The web stream's four validators must judge every raw line alike: the first build's hand-written
// pair (test/support/web-event-oracle*.ts) and the pair compiled from webStream's schema
// (parseEvent and compileEventStagingSql, thin wrappers over the stream compilers). Same verdict
// (code, field, rule) and, for valid lines, the same normalized event, in both engines.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileEventStagingSql } from '../src/event-staging-sql.ts';
import { describeRejection, type EventParseResult, type EventRule, parseEvent } from '../src/events.ts';
import type { CompiledSql } from '../src/sql.ts';
import { openTestDuck, type TestDuck } from './support/duckdb.ts';
import * as oracle from './support/web-event-oracle.ts';
import { compileEventStagingSql as compileOracleSql } from './support/web-event-oracle-sql.ts';
import { lineArb, NOW, TOLERANCE } from './support/web-event-lines.ts';

let duck: TestDuck;

beforeAll(async () => {
  duck = await openTestDuck();
});
afterAll(() => duck.close());

interface Verdict {
  code: string | null;
  field: string | null;
  rule: string | null;
  event: Record<string, unknown> | null;
}

const numericFields = ['status_code', 'response_time_ms', 'bytes_sent'];

function verdictOf(result: EventParseResult | oracle.EventParseResult): Verdict {
  if (!result.ok)
    return { code: result.error.code, field: result.error.field, rule: result.error.rule, event: null };
  return { code: null, field: null, rule: null, event: { ...result.event } };
}

function compiledVerdict(line: string, maxBytes: number): Verdict {
  const result = parseEvent(line, { now: () => NOW, futureToleranceMs: TOLERANCE, maxBytes });
  if (!result.ok) expect(result.error.message).toBe(describeRejection(result.error.field, result.error.rule));
  return verdictOf(result);
}

/**
 * The oracle's verdict, with the one normalization the compiled validator adds: a numeric field
 * written `-0` is 0 in both engines (the oracle kept JS's -0 for bytes_sent and response_time_ms).
 */
function oracleVerdict(line: string, maxBytes: number): Verdict {
  const verdict = verdictOf(
    oracle.parseEvent(line, { now: () => NOW, futureToleranceMs: TOLERANCE, maxBytes }),
  );
  if (verdict.event !== null) {
    for (const field of numericFields) if (verdict.event[field] === 0) verdict.event[field] = 0;
  }
  return verdict;
}

function sqlVerdict(row: Record<string, unknown>): Verdict {
  if (row.error_code !== null) {
    return {
      code: row.error_code as string,
      field: row.error_field as string | null,
      rule: row.error_rule as string,
      event: null,
    };
  }
  return {
    code: null,
    field: null,
    rule: null,
    event: {
      event_id: row.event_id,
      timestamp: Number(row.timestamp),
      endpoint: row.endpoint,
      method: row.method,
      status_code: row.status_code,
      response_time_ms: row.response_time_ms,
      bytes_sent: row.bytes_sent === null ? null : Number(row.bytes_sent),
      user_id: row.user_id,
      session_id: row.session_id,
      page_id: row.page_id,
    },
  };
}

/** How many lines the compiled staging SQL's fast path (canonical serialization) judged, by verdict. */
const fastPathSeen = { valid: 0, invalid: 0, slow: 0 };

const md5 = (line: string) => createHash('md5').update(line, 'utf8').digest('hex');

/** Rows of one staging query over `lines`, in the order of `lines`. */
async function stagedRows(compiled: CompiledSql, lines: string[]): Promise<Array<Record<string, unknown>>> {
  const rows = await duck.rows(`SELECT md5(line) AS line_md5, * FROM (${compiled.sql})`, compiled.params);
  expect(rows).toHaveLength(lines.length);
  // Row order is not guaranteed; equal lines get equal verdicts, so match by the line's md5
  // (node-api drops a leading BOM when it hands a VARCHAR back, so not by the text itself).
  const byLine = new Map(rows.map((row) => [row.line_md5 as string, row]));
  return lines.map((line) => byLine.get(md5(line)) as Record<string, unknown>);
}

/** The compiled and the oracle SQL's verdicts on the same lines, after checking they are identical. */
async function sqlVerdicts(lines: string[], maxBytes: number): Promise<Verdict[]> {
  await duck.loadLines('lines', lines);
  const options = { linesRelation: 'lines', nowMs: NOW, futureToleranceMs: TOLERANCE, maxBytes };
  const compiled = await stagedRows(compileEventStagingSql(options), lines);
  const hand = await stagedRows(compileOracleSql(options), lines);
  lines.forEach((line, i) => {
    const row = compiled[i] as Record<string, unknown>;
    if (row.canonical !== true) fastPathSeen.slow++;
    else if (row.error_code === null) fastPathSeen.valid++;
    else fastPathSeen.invalid++;
    // Every column with its JS type (bigint, number, -0 too). Not the fast-path flag: which lines
    // take the fast path is the compiler's choice (it proves more lines canonical than the oracle).
    const { canonical: _fast, ...values } = row;
    const { canonical: _oracleFast, ...oracleValues } = hand[i] as Record<string, unknown>;
    expect({ line, sql: values }).toEqual({ line, sql: oracleValues });
  });
  return compiled.map(sqlVerdict);
}

describe('compileEventStagingSql and parseEvent (compiled from webStream)', () => {
  it('give the hand-written oracle verdicts in TS, on random raw lines', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(
        fc.array(lineArb, { minLength: 1, maxLength: 40 }),
        fc.constantFrom(65536, 300, 120),
        (lines, maxBytes) => {
          for (const line of lines) {
            const expected = oracleVerdict(line, maxBytes);
            seen.add(expected.rule === null ? 'ok' : `${expected.field}.${expected.rule}`);
            expect({ line, verdict: compiledVerdict(line, maxBytes) }).toEqual({ line, verdict: expected });
          }
        },
      ),
      // TS only, so cheap: enough runs to reach most rules past the many lenient-JSON mutations.
      { numRuns: 150 },
    );
    expect(seen.size).toBeGreaterThan(25);
  });

  it('give the oracle SQL verdicts and values, and the TS verdicts, on random raw lines', async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        // Many lines per query: each DuckDB query costs tens of ms however few lines it stages.
        fc.array(lineArb, { minLength: 40, maxLength: 80 }),
        fc.constantFrom(65536, 300, 120),
        async (lines, maxBytes) => {
          const fromSql = await sqlVerdicts(lines, maxBytes);
          lines.forEach((line, i) => {
            const expected = compiledVerdict(line, maxBytes);
            const actual = fromSql[i];
            const label = expected.rule === null ? 'ok' : `${expected.field}.${expected.rule}`;
            seen.set(label, (seen.get(label) ?? 0) + 1);
            // As JSON: -0 and 0 are the same instant and latency (DuckDB may print either).
            if (JSON.stringify(actual) !== JSON.stringify(expected)) {
              throw new Error(
                `line ${JSON.stringify(line)}:\n  sql ${JSON.stringify(actual)}\n  ts  ${JSON.stringify(expected)}`,
              );
            }
          });
        },
      ),
      { numRuns: 50 },
    );
    // The generator must reach valid events and most rules, or the parity above proves little.
    expect(seen.get('ok') ?? 0).toBeGreaterThan(100);
    expect(seen.size).toBeGreaterThan(25);
    // Both the canonical fast path and the general path must be exercised, the fast one with
    // rejections too (its verdicts come from the same rules, fed differently).
    expect(fastPathSeen.valid).toBeGreaterThan(100);
    expect(fastPathSeen.invalid).toBeGreaterThan(40);
    expect(fastPathSeen.slow).toBeGreaterThan(100);
  });

  it('judge lines shaped like the canonical serialization exactly as the oracles do', async () => {
    const head = '{"event_id":"e1","timestamp":1710064800000,"endpoint":"/x"';
    const tail = ',"status_code":200,"response_time_ms":12.5}';
    const canonical = `${head},"method":"GET"${tail.slice(0, -1)},"bytes_sent":10,"user_id":"u","session_id":"s","page_id":"p"}`;
    const values = [
      'NaN',
      'Infinity',
      '-Infinity',
      '1e400',
      '-1e400',
      'true',
      'false',
      '[1]',
      '[1,]',
      '{"a":NaN}',
      '{}',
      '"5"',
      '"\\u0041"',
      '"a\\"b"',
      '"\\\\"',
      '""',
      '2e2',
      '200.0',
      '1.0',
      '-0',
      '0',
      '-1',
      '9007199254740993',
      '123456789012345678901234567890',
      '1e-7',
      // every numeric bound, on both sides
      '99',
      '100',
      '599',
      '600',
      '86400000',
      '86400000.5',
      '9007199254740991',
      '1e308',
      '"2024-03-10T10:00:00Z"',
      '"2024-03-10T10:00:00.123456789+05:30"',
      '"1710064800000"',
      '"2024-03-10T10:00:00\\u005a"',
      'null',
    ];
    const lines = [canonical, `${head}${tail}`, `${canonical} `, `${canonical.slice(0, -1)},}`];
    for (const field of [
      'event_id',
      'timestamp',
      'endpoint',
      'method',
      'status_code',
      'response_time_ms',
      'bytes_sent',
      'user_id',
    ]) {
      for (const value of values) {
        lines.push(canonical.replace(new RegExp(`"${field}":("[^"]*"|[^,}]*)`), `"${field}":${value}`));
      }
      lines.push(canonical.replace(new RegExp(`,?"${field}":("[^"]*"|[^,}]*)`), ''));
    }
    const before = { ...fastPathSeen };
    const fromSql = await sqlVerdicts(lines, 65536);
    const rules = new Set<string>();
    lines.forEach((line, i) => {
      const expected = compiledVerdict(line, 65536);
      expect({ line, verdict: expected }).toEqual({ line, verdict: oracleVerdict(line, 65536) });
      rules.add(`${expected.field}.${expected.rule}`);
      // Compared as JSON like the property above (-0 and 0 are the same instant and latency).
      expect({ line, verdict: JSON.stringify(fromSql[i]) }).toEqual({
        line,
        verdict: JSON.stringify(expected),
      });
    });
    // A bound no line reaches would be a rule left unchecked.
    for (const rule of [
      'status_code.minimum',
      'status_code.maximum',
      'response_time_ms.maximum',
      'bytes_sent.maximum',
    ])
      expect(rules, rule).toContain(rule);
    expect(fastPathSeen.valid - before.valid).toBeGreaterThan(20);
    expect(fastPathSeen.invalid - before.invalid).toBeGreaterThan(20);
    expect(fastPathSeen.slow - before.slow).toBeGreaterThan(20);
  });

  it('normalizes a valid line and names the rule of an invalid one', async () => {
    const lines = [
      '{"event_id":"a","timestamp":"2024-03-10T10:00:00.5+01:00","endpoint":"/x","status_code":200,"response_time_ms":12.5,"user_id":"u"}',
      '{"event_id":"a","timestamp":1710064800000,"endpoint":"/x","status_code":700,"response_time_ms":1}',
    ];
    const [ok, bad] = await sqlVerdicts(lines, 65536);
    expect(ok?.event).toEqual({
      event_id: 'a',
      timestamp: Date.UTC(2024, 2, 10, 9, 0, 0, 500),
      endpoint: '/x',
      method: 'GET',
      status_code: 200,
      response_time_ms: 12.5,
      bytes_sent: null,
      user_id: 'u',
      session_id: null,
      page_id: null,
    });
    expect(bad).toMatchObject({
      code: 'TANDEM_ERR_EVENT_INVALID',
      field: 'status_code',
      rule: 'maximum' satisfies EventRule,
    });
  });
});

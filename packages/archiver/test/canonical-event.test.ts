// The fast path for messages that already are their normalized line agrees with core's parseEvent
// on every input: when it accepts a message, parseEvent accepts it too, with the same event time,
// and JSON.stringify of the normalized event is the message itself, byte for byte.
import { defaultEventParseOptions, parseEvent } from '@tandem/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalEventTime } from '../src/canonical-event.ts';

const options = { now: () => 2_000_000_000_000, futureToleranceMs: 300_000, maxBytes: 65_536 };

function check(text: string): number | null {
  const bytes = Buffer.from(text, 'utf8');
  const fast = canonicalEventTime(bytes, 0, bytes.length, options, options.maxBytes);
  if (fast !== null) {
    const slow = parseEvent(bytes, options);
    expect(slow.ok, text).toBe(true);
    if (slow.ok) {
      expect(slow.event.timestamp).toBe(fast);
      expect(JSON.stringify(slow.event)).toBe(text);
    }
  }
  return fast;
}

const ascii = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  maxLength: 30,
});
const anyText = fc.oneof(
  ascii,
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('', 'é', '\\', '"', '\n'),
);
const number = fc.oneof(
  fc.integer({ min: -5, max: 2_100_000_000_000 }),
  fc.double({ noNaN: true, min: -1, max: 1e22 }),
  fc.constantFrom(-0, 0, 1e21, 0.1, 100, 599, 600, 99),
);

const fields = {
  event_id: fc.oneof(
    ascii.filter((text) => text !== ''),
    anyText,
  ),
  timestamp: fc.oneof(
    fc.integer({ min: 0, max: 2_000_000_000_000 }),
    number,
    fc.constant('2024-01-01T00:00:00Z'),
  ),
  endpoint: fc.oneof(
    ascii.filter((text) => text !== ''),
    anyText,
  ),
  method: fc.oneof(ascii, fc.constant(null)),
  status_code: fc.oneof(fc.integer({ min: 100, max: 599 }), number),
  response_time_ms: fc.oneof(fc.double({ noNaN: true, min: 0, max: 1e6 }), number),
  bytes_sent: fc.oneof(number, fc.constant(null)),
  user_id: fc.oneof(ascii, anyText, fc.constant(null)),
  session_id: fc.oneof(ascii, fc.constant(null)),
  page_id: fc.oneof(ascii, fc.constant(null), fc.constant(7)),
};
/** Mostly complete events (most of them valid), and events with any field missing. */
const validish = fc.record(fields, {
  requiredKeys: ['event_id', 'timestamp', 'endpoint', 'status_code', 'response_time_ms'],
});
const event = fc.oneof(validish, fc.record(fields, { requiredKeys: [] }));

describe('canonicalEventTime', () => {
  it('takes the fast path for the normalized line of every valid ASCII event', () => {
    let fastPaths = 0;
    fc.assert(
      fc.property(validish, (raw) => {
        const parsed = parseEvent(JSON.stringify(raw), options);
        if (!parsed.ok) return;
        const line = JSON.stringify(parsed.event);
        const fast = check(line);
        const asciiOnly = /^[\x20-\x7e]*$/.test(line) && !line.includes('\\');
        if (asciiOnly) expect(fast, line).toBe(parsed.event.timestamp);
        if (fast !== null) fastPaths++;
      }),
      { numRuns: 5000 },
    );
    expect(fastPaths).toBeGreaterThan(150);
  });

  it('never disagrees with parseEvent on arbitrary, reordered, reformatted or broken messages', () => {
    const variants = fc.tuple(event, fc.nat(), fc.integer({ min: 0, max: 7 })).map(([raw, seed, how]) => {
      const text = JSON.stringify(raw);
      switch (how) {
        case 0:
          return text;
        case 1:
          return JSON.stringify(raw, null, 1);
        case 2:
          return text.slice(0, seed % (text.length + 1));
        case 3:
          return `${text} `;
        case 4:
          return text.replace(/:(\d+)/, ':$1.0');
        case 5:
          return JSON.stringify(Object.fromEntries(Object.entries(raw).reverse()));
        case 6:
          return text.replace('"', '\\"');
        default: {
          const parsed = parseEvent(text, options);
          return parsed.ok ? JSON.stringify({ ...parsed.event, extra: 1 }) : text;
        }
      }
    });
    fc.assert(
      fc.property(variants, (text) => void check(text)),
      { numRuns: 5000 },
    );
  });

  it('declines what parseEvent would reject or normalize', () => {
    const base = {
      event_id: 'e1',
      timestamp: 1_700_000_000_000,
      endpoint: '/a',
      method: 'GET',
      status_code: 200,
      response_time_ms: 1.5,
      bytes_sent: null,
      user_id: null,
      session_id: 's',
      page_id: null,
    };
    expect(check(JSON.stringify(base))).toBe(1_700_000_000_000);
    expect(check(JSON.stringify({ ...base, status_code: 700 }))).toBeNull(); // invalid
    expect(check(JSON.stringify({ ...base, timestamp: 2_100_000_000_000 }))).toBeNull(); // future
    expect(check(JSON.stringify({ ...base, method: null }))).toBeNull(); // normalized to GET
    expect(check(JSON.stringify(base).replace('1.5', '1.50'))).toBeNull();
    for (const literal of ['007', '-0', '1.0', '1e3', '+1', '0x1', '', '1_0']) {
      expect(
        check(JSON.stringify(base).replace('"status_code":200', `"status_code":${literal}`)),
        literal,
      ).toBeNull();
    }
    expect(check(JSON.stringify({ ...base, bytes_sent: 0 }))).toBe(1_700_000_000_000);
    // exponent forms as JSON.stringify prints them ("1e-7"); 1e21 is past the latency maximum
    expect(check(JSON.stringify({ ...base, response_time_ms: 1e-7 }))).toBe(1_700_000_000_000);
    expect(check(JSON.stringify({ ...base, response_time_ms: 1e21 }))).toBeNull();
    expect(check(JSON.stringify(base).replace('"e1"', '"\\u0065\\u0031"'))).toBeNull();
    const big = JSON.stringify({ ...base, endpoint: 'x'.repeat(500) });
    const bytes = Buffer.from(big);
    expect(canonicalEventTime(bytes, 0, bytes.length, options, 100)).toBeNull(); // over maxBytes
    expect(defaultEventParseOptions.maxBytes).toBe(65_536);
  });
});

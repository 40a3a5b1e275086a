// The archiver's line serializer is byte-identical to JSON.stringify of core's normalized event,
// for any strings (quotes, control characters, lone and paired surrogates) and numbers.
import { parseEvent, type TandemEvent } from '@tandem/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventLine, eventLineUsesTemplate } from '../src/event-line.ts';

const text = fc.oneof(
  fc.string({ minLength: 1, maxLength: 20 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }),
  fc.constantFrom('"', '\\', '\n', '\u0000', '\u2028', '\ud800', 'a\udc00b', '😀', '</script>'),
);

describe('eventLine', () => {
  it('equals JSON.stringify(event) for every normalized event', () => {
    expect(eventLineUsesTemplate).toBe(true);
    fc.assert(
      fc.property(
        fc.record(
          {
            event_id: text,
            timestamp: fc.oneof(fc.integer({ min: 0, max: 1_800_000_000_000 }), fc.constant(-0)),
            endpoint: text,
            method: text,
            status_code: fc.integer({ min: 100, max: 599 }),
            response_time_ms: fc.oneof(
              fc.double({ min: 0, max: 1e12, noNaN: true }),
              fc.constant(-0),
              fc.constant(1e21),
            ),
            bytes_sent: fc.option(fc.nat(), { nil: undefined }),
            user_id: fc.option(text, { nil: null }),
            session_id: fc.option(text, { nil: undefined }),
            page_id: fc.option(text, { nil: null }),
          },
          { requiredKeys: ['event_id', 'timestamp', 'endpoint', 'status_code', 'response_time_ms'] },
        ),
        (raw) => {
          const parsed = parseEvent(JSON.stringify(raw), { now: () => 2_000_000_000_000 });
          if (!parsed.ok) return;
          const event: TandemEvent = parsed.event;
          expect(eventLine(event)).toBe(JSON.stringify(event));
        },
      ),
      { numRuns: 3000 },
    );
  });
});

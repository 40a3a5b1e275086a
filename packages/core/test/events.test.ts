// parseEvent / validateEvent: each rule rejects what it should, with its field, rule and code.
import { describe, expect, it } from 'vitest';
import { describeRejection, type EventParseResult, parseEvent, validateEvent } from '../src/events.ts';

const NOW = Date.UTC(2024, 5, 1, 12);
const options = { now: () => NOW };
const valid = {
  event_id: 'e1',
  timestamp: '2024-06-01T11:00:00.250Z',
  endpoint: '/api/x',
  status_code: 200,
  response_time_ms: 12.5,
};

function verdict(result: EventParseResult): string {
  return result.ok ? 'ok' : `${result.error.code} ${result.error.field} ${result.error.rule}`;
}
const check = (patch: Record<string, unknown>) => verdict(validateEvent({ ...valid, ...patch }, options));

describe('parseEvent', () => {
  it('normalizes a valid event: epoch ms, default method, absent optionals as null', () => {
    const result = parseEvent(JSON.stringify({ ...valid, user_id: 'u', extra: { ignored: true } }), options);
    expect(result).toEqual({
      ok: true,
      event: {
        event_id: 'e1',
        timestamp: Date.UTC(2024, 5, 1, 11, 0, 0, 250),
        endpoint: '/api/x',
        method: 'GET',
        status_code: 200,
        response_time_ms: 12.5,
        bytes_sent: null,
        user_id: 'u',
        session_id: null,
        page_id: null,
      },
    });
  });

  it('checks size, then UTF-8, then JSON, then the schema', () => {
    const big = JSON.stringify({ ...valid, page_id: 'x'.repeat(200) });
    expect(verdict(parseEvent(big, { ...options, maxBytes: 100 }))).toBe(
      'TANDEM_ERR_EVENT_TOO_LARGE null size',
    );
    expect(verdict(parseEvent(new TextEncoder().encode(big), { ...options, maxBytes: 100 }))).toBe(
      'TANDEM_ERR_EVENT_TOO_LARGE null size',
    );
    expect(verdict(parseEvent(new Uint8Array([0x7b, 0xff, 0x7d]), options))).toBe(
      'TANDEM_ERR_EVENT_INVALID_UTF8 null utf8',
    );
    expect(verdict(parseEvent('{"a":"\ud800"}', options))).toBe('TANDEM_ERR_EVENT_INVALID_UTF8 null utf8');
    expect(verdict(parseEvent('{"a":1,}', options))).toBe('TANDEM_ERR_EVENT_INVALID_JSON null json');
    expect(verdict(parseEvent('{"a":NaN}', options))).toBe('TANDEM_ERR_EVENT_INVALID_JSON null json');
    expect(verdict(parseEvent('\uFEFF{}', options))).toBe('TANDEM_ERR_EVENT_INVALID_JSON null json');
    expect(verdict(parseEvent('{"a":"\\ud800"}', options))).toBe('TANDEM_ERR_EVENT_INVALID_JSON null json');
    expect(verdict(parseEvent('{"a":"\\ud83d\\ude00"}', options))).toBe(
      'TANDEM_ERR_EVENT_INVALID event_id required',
    );
    expect(verdict(parseEvent('[1]', options))).toBe('TANDEM_ERR_EVENT_INVALID null object');
    expect(verdict(parseEvent(new TextEncoder().encode(JSON.stringify(valid)), options))).toBe('ok');
  });

  it('accepts the documented timestamp forms and rejects the rest', () => {
    expect(check({ timestamp: 1717239600000 })).toBe('ok');
    expect(check({ timestamp: '1717239600000' })).toBe('ok');
    expect(check({ timestamp: 1.7172396e12 })).toBe('ok');
    expect(check({ timestamp: '2024-06-01T13:00:00+02:00' })).toBe('ok');
    expect(check({ timestamp: '2024-06-01T11:00:00.123456789-00:30' })).toBe('ok');
    expect(check({ timestamp: '2024-06-01T11:00:00' })).toBe('TANDEM_ERR_EVENT_INVALID timestamp format');
    expect(check({ timestamp: '2024-06-01 11:00:00Z' })).toBe('TANDEM_ERR_EVENT_INVALID timestamp format');
    expect(check({ timestamp: '2023-02-29T00:00:00Z' })).toBe('TANDEM_ERR_EVENT_INVALID timestamp format');
    expect(check({ timestamp: '1e12' })).toBe('TANDEM_ERR_EVENT_INVALID timestamp format');
    expect(check({ timestamp: 1717239600000.5 })).toBe('TANDEM_ERR_EVENT_INVALID timestamp integer');
    expect(check({ timestamp: -1 })).toBe('TANDEM_ERR_EVENT_INVALID timestamp minimum');
    expect(check({ timestamp: '1969-12-31T23:59:59Z' })).toBe('TANDEM_ERR_EVENT_INVALID timestamp minimum');
    expect(check({ timestamp: NOW + 300_000 })).toBe('ok');
    expect(check({ timestamp: NOW + 300_001 })).toBe('TANDEM_ERR_EVENT_INVALID timestamp future');
    expect(check({ timestamp: true })).toBe('TANDEM_ERR_EVENT_INVALID timestamp type');
    expect(check({ timestamp: null })).toBe('TANDEM_ERR_EVENT_INVALID timestamp required');
  });

  it('applies every field rule in field order', () => {
    expect(check({ event_id: undefined })).toBe('TANDEM_ERR_EVENT_INVALID event_id required');
    expect(check({ event_id: 5 })).toBe('TANDEM_ERR_EVENT_INVALID event_id type');
    expect(check({ event_id: '' })).toBe('TANDEM_ERR_EVENT_INVALID event_id minLength');
    expect(check({ event_id: '😀'.repeat(128) })).toBe('ok');
    expect(check({ event_id: '😀'.repeat(129) })).toBe('TANDEM_ERR_EVENT_INVALID event_id maxLength');
    expect(check({ event_id: '', status_code: 1 })).toBe('TANDEM_ERR_EVENT_INVALID event_id minLength');
    expect(check({ endpoint: 'x'.repeat(513) })).toBe('TANDEM_ERR_EVENT_INVALID endpoint maxLength');
    expect(check({ method: '' })).toBe('TANDEM_ERR_EVENT_INVALID method minLength');
    expect(check({ method: 7 })).toBe('TANDEM_ERR_EVENT_INVALID method type');
    expect(check({ status_code: '200' })).toBe('TANDEM_ERR_EVENT_INVALID status_code type');
    expect(check({ status_code: 200.5 })).toBe('TANDEM_ERR_EVENT_INVALID status_code integer');
    expect(check({ status_code: 99 })).toBe('TANDEM_ERR_EVENT_INVALID status_code minimum');
    expect(check({ status_code: 600 })).toBe('TANDEM_ERR_EVENT_INVALID status_code maximum');
    expect(check({ response_time_ms: Number.POSITIVE_INFINITY })).toBe(
      'TANDEM_ERR_EVENT_INVALID response_time_ms finite',
    );
    expect(check({ response_time_ms: -0.001 })).toBe('TANDEM_ERR_EVENT_INVALID response_time_ms minimum');
    expect(check({ response_time_ms: -0 })).toBe('ok');
    expect(check({ response_time_ms: 86_400_000 })).toBe('ok');
    expect(check({ response_time_ms: 86_400_000.5 })).toBe(
      'TANDEM_ERR_EVENT_INVALID response_time_ms maximum',
    );
    expect(check({ response_time_ms: 1e308 })).toBe('TANDEM_ERR_EVENT_INVALID response_time_ms maximum');
    expect(check({ bytes_sent: 1.5 })).toBe('TANDEM_ERR_EVENT_INVALID bytes_sent integer');
    expect(check({ bytes_sent: -1 })).toBe('TANDEM_ERR_EVENT_INVALID bytes_sent minimum');
    expect(check({ bytes_sent: 2 ** 53 })).toBe('TANDEM_ERR_EVENT_INVALID bytes_sent maximum');
    expect(check({ bytes_sent: null, user_id: null, page_id: '' })).toBe('ok');
    expect(check({ user_id: 1 })).toBe('TANDEM_ERR_EVENT_INVALID user_id type');
    expect(check({ page_id: 'p'.repeat(257) })).toBe('TANDEM_ERR_EVENT_INVALID page_id maxLength');
    expect(
      verdict(
        parseEvent(
          '{"event_id":"e","timestamp":0,"endpoint":"/","status_code":200,"response_time_ms":1e400}',
          options,
        ),
      ),
    ).toBe('TANDEM_ERR_EVENT_INVALID response_time_ms finite');
  });

  it('explains a rejection with the field, the rule and what is expected', () => {
    const result = validateEvent({ ...valid, status_code: 700 }, options);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.message).toBe(describeRejection('status_code', 'maximum'));
      expect(result.error.message).toContain('status_code');
      expect(result.error.message).toContain('100-599');
    }
  });
});

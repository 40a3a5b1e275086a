// Every kind of bad message a real stream carries, so the dead-letter path is exercised by each of
// the validation rules in the event schema and not just by "invalid JSON".

/** The kinds of poison message the generator emits, in the order it cycles through them. */
export const poisonKinds = [
  'invalid_json',
  'invalid_utf8',
  'too_large',
  'not_an_object',
  'missing_field',
  'wrong_type',
  'status_out_of_range',
  'negative_latency',
  'non_finite',
  'string_too_long',
  'bad_timestamp',
  'future_timestamp',
] as const;

export type PoisonKind = (typeof poisonKinds)[number];

/** The error code the core parser is expected to give each kind (for tests and the truth report). */
export const poisonExpectedCode: Record<PoisonKind, string> = {
  invalid_json: 'TANDEM_ERR_EVENT_INVALID_JSON',
  invalid_utf8: 'TANDEM_ERR_EVENT_INVALID_UTF8',
  too_large: 'TANDEM_ERR_EVENT_TOO_LARGE',
  not_an_object: 'TANDEM_ERR_EVENT_INVALID',
  missing_field: 'TANDEM_ERR_EVENT_INVALID',
  wrong_type: 'TANDEM_ERR_EVENT_INVALID',
  status_out_of_range: 'TANDEM_ERR_EVENT_INVALID',
  negative_latency: 'TANDEM_ERR_EVENT_INVALID',
  non_finite: 'TANDEM_ERR_EVENT_INVALID',
  string_too_long: 'TANDEM_ERR_EVENT_INVALID',
  bad_timestamp: 'TANDEM_ERR_EVENT_INVALID',
  future_timestamp: 'TANDEM_ERR_EVENT_INVALID',
};

const encoder = new TextEncoder();

/**
 * Turns a valid event (as a plain JSON object) into a poison message of the given kind. The
 * result is the exact bytes a broken producer would send.
 */
export function makePoison(kind: PoisonKind, valid: Record<string, unknown>, sendAt: number): Uint8Array {
  const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));
  switch (kind) {
    case 'invalid_json': {
      const text = JSON.stringify(valid);
      return encoder.encode(text.slice(0, Math.max(1, Math.floor(text.length / 2))));
    }
    case 'invalid_utf8': {
      // A lone continuation byte inside a string value: valid JSON structure, invalid UTF-8.
      const [head, tail] = JSON.stringify({ ...valid, endpoint: '@@' }).split('@@') as [string, string];
      return Uint8Array.from([...encoder.encode(head), 0xc3, 0x28, ...encoder.encode(tail)]);
    }
    case 'too_large':
      return json({ ...valid, padding: 'x'.repeat(70_000) });
    case 'not_an_object':
      return json([valid.event_id, valid.endpoint, valid.status_code]);
    case 'missing_field': {
      const { endpoint: _omitted, ...rest } = valid;
      return json(rest);
    }
    case 'wrong_type':
      return json({ ...valid, status_code: String(valid.status_code) });
    case 'status_out_of_range':
      return json({ ...valid, status_code: 700 });
    case 'negative_latency':
      return json({ ...valid, response_time_ms: -12.5 });
    case 'non_finite': {
      // JSON.parse turns 1e999 into Infinity: the only way JSON can carry a non-finite number.
      const text = JSON.stringify({ ...valid, response_time_ms: 0 }).replace(
        '"response_time_ms":0',
        '"response_time_ms":1e999',
      );
      return encoder.encode(text);
    }
    case 'string_too_long':
      return json({ ...valid, endpoint: `/${'a'.repeat(600)}` });
    case 'bad_timestamp':
      return json({ ...valid, timestamp: 'yesterday at noon' });
    case 'future_timestamp':
      // A client with its clock ten years ahead.
      return json({ ...valid, timestamp: new Date(sendAt + 10 * 365 * 86_400_000).toISOString() });
  }
}

// Schema-driven traffic (stream-events.ts) for a registry-backed stream, as its producers write it:
// every event Confluent-framed with the stream's schema version (Avro binary or JSON text), and the
// invalid messages replaced by the faults of framed topics — no magic byte, a schema id the subject
// does not have, a body cut short — plus, for JSON Schema streams, the generator's field-level
// poison inside a valid frame. Each message keeps its truth: the normalized event is the one the
// frame decodes to (an Avro float is read back as 32 bits), or the verdict it must get.
import {
  CONFLUENT_HEADER_BYTES,
  compileFramedStreamEncoder,
  compileFramedStreamParser,
} from '@tandem/connections';
import { defaultEventParseOptions, type ErrorCode, rejectionCode, type Stream } from '@tandem/core';
import type { StreamTrafficRecord } from './stream-events.ts';

/** The framing faults, in the order the generator cycles through them. */
export const framedBadKinds = ['no_magic_byte', 'unknown_schema_id', 'truncated_body'] as const;
export type FramedBadKind = (typeof framedBadKinds)[number];

/** A schema id no registry hands out this soon (ids count up from 1): the unknown-id fault. */
export const UNKNOWN_SCHEMA_ID = 0x7ffffff0;

/** The verdict of a framed message: a framing fault, or the field rule of the generator's poison. */
export interface FramedRejection {
  kind: string;
  code: ErrorCode;
  field: string | null;
  rule: string;
}

/** A generated message of a registry-backed stream. */
export type FramedTrafficRecord = Omit<StreamTrafficRecord, 'bad'> & { bad: FramedRejection | null };

const framingRule = {
  no_magic_byte: 'framing',
  unknown_schema_id: 'schema_id',
  truncated_body: 'decode',
} as const;

function frame(id: number, body: Uint8Array): Buffer {
  const framed = Buffer.alloc(CONFLUENT_HEADER_BYTES + body.byteLength);
  framed.writeUInt32BE(id, 1);
  framed.set(body, CONFLUENT_HEADER_BYTES);
  return framed;
}

/** Frames the records of `generateStreamTraffic(stream, …)` for a registry-backed stream. */
export function* frameStreamTraffic(
  stream: Stream,
  records: Iterable<StreamTrafficRecord>,
): Generator<FramedTrafficRecord> {
  const encoder = compileFramedStreamEncoder(stream);
  const parser = compileFramedStreamParser(stream);
  const json = stream.registry!.format === 'json';
  // Field-level poison only fits a JSON body; an Avro body can not hold a value of the wrong type.
  const cycle: readonly string[] = json ? [...framedBadKinds, 'field'] : framedBadKinds;
  // Decoding is judged at a fixed, far-future clock: the time checks are the generator's business.
  const judge = { ...defaultEventParseOptions, now: () => Number.MAX_SAFE_INTEGER / 2 };
  let bad = 0;
  for (const record of records) {
    if (record.bad === null) {
      const value = encoder.encode(record.event!);
      const decoded = parser.parse(value, judge);
      // What the layers will read back: an Avro float is 32 bits, so the truth is the decoded event.
      yield { ...record, value, event: decoded.ok ? decoded.event : record.event };
      continue;
    }
    const kind = cycle[bad++ % cycle.length]!;
    if (kind === 'field') {
      const { rule } = record.bad;
      const undecodable = rule === 'json' || rule === 'utf8';
      yield {
        ...record,
        value: frame(encoder.schemaId, record.value),
        bad: undecodable
          ? { kind: record.bad.kind, code: rejectionCode('decode'), field: null, rule: 'decode' }
          : record.bad,
      };
      continue;
    }
    const framedKind = kind as FramedBadKind;
    const value =
      framedKind === 'no_magic_byte'
        ? Buffer.from(`{"${stream.timeField}":"not framed"}`)
        : framedKind === 'unknown_schema_id'
          ? frame(UNKNOWN_SCHEMA_ID, Buffer.from('{}'))
          : // A JSON text cut short, or an empty Avro body (a record of any field needs a byte).
            frame(encoder.schemaId, json ? Buffer.from('{"') : Buffer.alloc(0));
    const rule = framingRule[framedKind];
    yield { ...record, value, bad: { kind: framedKind, code: rejectionCode(rule), field: null, rule } };
  }
}

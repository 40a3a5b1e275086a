// The ground truth of a schema-driven stream (stream-events.ts): how many messages of each label,
// which kinds of invalid event and which rules they break, the hours the events fall in, and the
// distinct events each layer must count. Like truth.ts for the web stream, never read back from
// the platform.
import type { StreamEvent } from '@tandem/core';
import type { StreamTrafficRecord } from './stream-events.ts';
import type { TruthLayer } from './truth.ts';

const HOUR = 3_600_000;

export interface StreamTrafficTruth {
  stream: string;
  messages: number;
  /** Distinct on-time valid events (counted by both layers). */
  valid: number;
  /** Distinct late events (the batch layer counts them; the speed layer sends them to the late topic). */
  late: number;
  /** Repeats of an event already sent (counted by nobody). */
  duplicates: number;
  /** Invalid messages (the dead-letter queue's count). */
  bad: number;
  badByKind: Record<string, number>;
  /** Invalid messages by the rule they break (`json`, `required`, `maximum`, …). */
  badByRule: Record<string, number>;
  firstEventTime: number | null;
  lastEventTime: number | null;
  hours: Array<{ hour: number; valid: number; late: number }>;
}

/** Accumulates the truth of a stream as it is produced, in O(hours + kinds) memory. */
export class StreamTruthLedger {
  readonly #stream: string;
  readonly #timeField: string;
  #messages = 0;
  #valid = 0;
  #late = 0;
  #duplicates = 0;
  #bad = 0;
  readonly #badByKind: Record<string, number> = {};
  readonly #badByRule: Record<string, number> = {};
  #first: number | null = null;
  #last: number | null = null;
  readonly #hours = new Map<number, { valid: number; late: number }>();

  constructor(stream: { name: string; timeField: string }) {
    this.#stream = stream.name;
    this.#timeField = stream.timeField;
  }

  /** Takes a generated record (framed ones too: their faults are kinds and rules of their own). */
  observe(
    record: Pick<StreamTrafficRecord, 'label' | 'event'> & { bad: { kind: string; rule: string } | null },
  ): void {
    this.#messages += 1;
    switch (record.label) {
      case 'duplicate':
        this.#duplicates += 1;
        return;
      case 'bad': {
        this.#bad += 1;
        const { kind, rule } = record.bad!;
        this.#badByKind[kind] = (this.#badByKind[kind] ?? 0) + 1;
        this.#badByRule[rule] = (this.#badByRule[rule] ?? 0) + 1;
        return;
      }
      case 'valid':
      case 'late': {
        const ts = record.event![this.#timeField] as number;
        if (record.label === 'valid') this.#valid += 1;
        else this.#late += 1;
        this.#first = this.#first === null ? ts : Math.min(this.#first, ts);
        this.#last = this.#last === null ? ts : Math.max(this.#last, ts);
        const hour = Math.floor(ts / HOUR) * HOUR;
        const counts = this.#hours.get(hour) ?? { valid: 0, late: 0 };
        counts[record.label] += 1;
        this.#hours.set(hour, counts);
        return;
      }
    }
  }

  summary(): StreamTrafficTruth {
    return {
      stream: this.#stream,
      messages: this.#messages,
      valid: this.#valid,
      late: this.#late,
      duplicates: this.#duplicates,
      bad: this.#bad,
      badByKind: { ...this.#badByKind },
      badByRule: { ...this.#badByRule },
      firstEventTime: this.#first,
      lastEventTime: this.#last,
      hours: [...this.#hours.entries()]
        .sort(([a], [b]) => a - b)
        .map(([hour, counts]) => ({ hour, ...counts })),
    };
  }
}

/** The distinct events a layer must count, in stream order (speed: on-time only; batch: with late ones). */
export function streamTruthEvents(records: Iterable<StreamTrafficRecord>, layer: TruthLayer): StreamEvent[] {
  const events: StreamEvent[] = [];
  for (const record of records) {
    if (record.label === 'valid' || (layer === 'batch' && record.label === 'late'))
      events.push(record.event!);
  }
  return events;
}

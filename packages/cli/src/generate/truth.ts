// The ground truth of a generated stream: how many messages of each label it held, which hours
// they touched, and which events each layer must end up counting. Tests and benchmarks compare
// the platform's answers against this, never against the platform itself.
import type { TandemEvent } from '@tandem/core';
import { type PoisonKind, poisonKinds } from './poison.ts';
import type { TrafficRecord } from './traffic.ts';

const HOUR = 3_600_000;

/** Counts of a generated stream. */
export interface TrafficTruth {
  /** Messages emitted, all labels. */
  messages: number;
  /** Distinct on-time valid events (counted by both layers). */
  valid: number;
  /** Distinct late valid events (counted by the batch layer only; the speed layer's late counter). */
  late: number;
  /** Resent copies (counted by nobody). */
  duplicates: number;
  /** Poison messages (the dead-letter queue's count). */
  bad: number;
  badByKind: Record<PoisonKind, number>;
  /** Earliest and latest event time of valid and late events; null when there were none. */
  firstEventTime: number | null;
  lastEventTime: number | null;
  /** Hour starts (epoch ms) holding valid or late events, ascending, with their distinct event counts. */
  hours: Array<{ hour: number; valid: number; late: number }>;
}

/** Accumulates the truth of a stream as it is produced, in O(hours) memory. */
export class TruthLedger {
  #messages = 0;
  #valid = 0;
  #late = 0;
  #duplicates = 0;
  #bad = 0;
  readonly #badByKind = Object.fromEntries(poisonKinds.map((kind) => [kind, 0])) as Record<
    PoisonKind,
    number
  >;
  #first: number | null = null;
  #last: number | null = null;
  readonly #hours = new Map<number, { valid: number; late: number }>();

  observe(record: TrafficRecord): void {
    this.#messages += 1;
    switch (record.label) {
      case 'duplicate':
        this.#duplicates += 1;
        return;
      case 'bad':
        this.#bad += 1;
        if (record.poison) this.#badByKind[record.poison] += 1;
        return;
      case 'valid':
      case 'late': {
        const ts = record.event!.timestamp;
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

  summary(): TrafficTruth {
    return {
      messages: this.#messages,
      valid: this.#valid,
      late: this.#late,
      duplicates: this.#duplicates,
      bad: this.#bad,
      badByKind: { ...this.#badByKind },
      firstEventTime: this.#first,
      lastEventTime: this.#last,
      hours: [...this.#hours.entries()]
        .sort(([a], [b]) => a - b)
        .map(([hour, counts]) => ({ hour, ...counts })),
    };
  }
}

/** The layer whose truth is asked for: speed excludes late events; batch includes them. */
export type TruthLayer = 'speed' | 'batch';

/**
 * The distinct events a layer must count, in stream order: on-time valid events for the speed
 * layer, plus late ones for the batch layer. Duplicates and poison never count.
 */
export function truthEvents(records: Iterable<TrafficRecord>, layer: TruthLayer): TandemEvent[] {
  const events: TandemEvent[] = [];
  for (const record of records) {
    if (record.label === 'valid' || (layer === 'batch' && record.label === 'late'))
      events.push(record.event!);
  }
  return events;
}

/** Runs the generator to completion, keeping every record: for tests and small benchmarks. */
export function collectTruth(records: Iterable<TrafficRecord>): {
  records: TrafficRecord[];
  truth: TrafficTruth;
} {
  const ledger = new TruthLedger();
  const kept: TrafficRecord[] = [];
  for (const record of records) {
    ledger.observe(record);
    kept.push(record);
  }
  return { records: kept, truth: ledger.summary() };
}

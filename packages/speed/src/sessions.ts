// Sessionized views in the speed layer: core's incremental sessionizer keeps the open sessions of
// the visitors routed to a partition; the watermark closes them and closed sessions fold into the
// view like rows. Open sessions live in the partition's hash-tagged sessions hash (one field per
// visitor), written by the same Lua script as the deltas, so they are exactly as durable as the views.
import {
  compileReducer,
  createSessionizer,
  type OpenSessionSnapshot,
  type PartialRow,
  type SessionViewReducer,
  type Sessionizer,
  type StreamEvent,
  type View,
} from '@tandem/core';
import { FIELD_SEPARATOR } from './key-schema.ts';
import type { DeltaView } from './bucket-deltas.ts';

/** How far the watermark moves between two closing scans of the open sessions. */
export const ADVANCE_STEP_MS = 10_000;

/** What a micro-batch changes for one sessionized view. */
export interface SessionAdvance {
  /** Partial rows of the sessions the watermark closed. */
  rows: PartialRow[];
  /** Sessions-hash fields to set. */
  upserts: Array<[string, string]>;
  /** Sessions-hash fields to delete (visitors with no open session left). */
  deletions: string[];
}

/** One sessionized view as the worker maintains it: shared, per-view parts. */
export class SessionRuntime {
  readonly view: View;
  readonly runtime: { view: View; deltaView: DeltaView; indexPosition: number };
  readonly #horizonField: string;
  readonly #sessionPrefix: string;

  constructor(view: View, deltaView: DeltaView, indexPosition: number) {
    this.view = view;
    this.runtime = { view, deltaView, indexPosition };
    this.#horizonField = `${view.name}${FIELD_SEPARATOR}h`;
    this.#sessionPrefix = `${view.name}${FIELD_SEPARATOR}s${FIELD_SEPARATOR}`;
  }

  /** Field of a visitor's open sessions in the partition's sessions hash. */
  sessionField(key: string): string {
    return this.#sessionPrefix + key;
  }

  get horizonField(): string {
    return this.#horizonField;
  }

  /** The partition's fold, from the sessions hash as read at claim time (all views' fields). */
  restore(stored: Record<string, string>, allowedLatenessMs: number): SessionFold {
    const sessions: OpenSessionSnapshot[] = [];
    for (const field in stored) {
      if (field.startsWith(this.#sessionPrefix)) {
        for (const session of JSON.parse(stored[field]!) as OpenSessionSnapshot[]) sessions.push(session);
      }
    }
    const horizonText = stored[this.#horizonField];
    const spec = this.view.sessionize!;
    const sessionizer = createSessionizer(this.view, {
      version: 1,
      view: this.view.name,
      gapMs: spec.gapMs,
      horizon: horizonText === undefined ? null : Number(horizonText),
      sessions,
    });
    return new SessionFold(this, sessionizer, allowedLatenessMs);
  }
}

/** The open sessions of one partition for one view, and the rows of those a batch closed. */
export class SessionFold {
  readonly runtime: SessionRuntime['runtime'];
  readonly #owner: SessionRuntime;
  readonly #sessionizer: Sessionizer;
  /** Folds closed sessions only; its own sessionizer stays unused. */
  readonly #reducer: SessionViewReducer;
  /** The field sessions are cut by (`view.sessionize.by`), any string field of the stream. */
  readonly #by: string;
  readonly #allowedLatenessMs: number;
  readonly #touched = new Set<string>();
  #storedHorizon: number | null;
  /** Watermark of the last sessionizer advance. */
  #advancedAt: number | null = null;

  constructor(owner: SessionRuntime, sessionizer: Sessionizer, allowedLatenessMs: number) {
    this.#owner = owner;
    this.runtime = owner.runtime;
    this.#sessionizer = sessionizer;
    this.#reducer = compileReducer(owner.view as View & { sessionize: NonNullable<View['sessionize']> });
    this.#by = owner.view.sessionize!.by;
    this.#allowedLatenessMs = allowedLatenessMs;
    this.#storedHorizon = sessionizer.horizon;
  }

  /** Number of open sessions in memory. */
  get openSessions(): number {
    return this.#sessionizer.openSessions;
  }

  /** Feeds an accepted event; the worker's lateness check is stricter than the sessionizer's horizon. */
  add(event: StreamEvent): void {
    if (this.#sessionizer.add(event) === 'added') this.#touched.add(String(event[this.#by]));
  }

  /**
   * Raises the horizon with the partition's watermark, folds the sessions it closes and returns
   * them with the sessions-hash changes of every visitor this batch touched.
   */
  advance(watermark: number | null): SessionAdvance {
    // Closing scans every open session, so it runs once the watermark has moved a step, not on
    // every micro-batch: a session then closes at most a step later, with the same content
    // (no accepted event can join a session the horizon has passed, whenever it is closed).
    if (
      watermark !== null &&
      (this.#advancedAt === null || watermark - this.#advancedAt >= ADVANCE_STEP_MS)
    ) {
      this.#advancedAt = watermark;
      for (const session of this.#sessionizer.advance(watermark, this.#allowedLatenessMs)) {
        this.#reducer.addSession(session);
        this.#touched.add(session.user_id);
      }
    }
    const rows = this.#reducer.rows();
    this.#reducer.clear();
    const upserts: Array<[string, string]> = [];
    const deletions: string[] = [];
    // Only the visitors this batch touched are written: their open sessions, or a deletion.
    for (const key of this.#touched) {
      const sessions = this.#sessionizer.sessionsOf(key);
      if (sessions.length === 0) deletions.push(this.#owner.sessionField(key));
      else upserts.push([this.#owner.sessionField(key), JSON.stringify(sessions)]);
    }
    this.#touched.clear();
    const horizon = this.#sessionizer.horizon;
    if (horizon !== null && horizon !== this.#storedHorizon) {
      upserts.push([this.#owner.horizonField, String(horizon)]);
      this.#storedHorizon = horizon;
    }
    return { rows, upserts, deletions };
  }
}

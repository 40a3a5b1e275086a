// What the operation routes are handed by whoever builds the server (the cli wires the batch layer's
// recompute job queue, its status records, the process's components and its clients), as
// structural types like core's reader contracts (layer-readers.ts), so the real implementations and
// small test doubles fit alike.
import type { TimeRange } from '@tandem/core';

/** A readiness probe: resolves when the dependency answers, rejects (or times out) otherwise. */
export type ReadinessProbe = () => Promise<unknown>;

/** A component's answer to "can you still do your job?" (from memory; no calls to dependencies). */
export interface ComponentHealth {
  ok: boolean;
  /** What it is doing, or why it is not ok. */
  detail: string;
}

export type HealthCheck = () => ComponentHealth;

export type RecomputeJobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** A recompute job as the batch layer's queue (`RecomputeJobs` in @tandem/batch) keeps it; times are epoch ms. */
export interface RecomputeJobRecord {
  id: string;
  view: string;
  from: number;
  to: number;
  state: RecomputeJobState;
  hoursTotal: number;
  hoursDone: number;
  hoursPublished: number;
  hoursFailed: number;
  hoursSkipped: number;
  currentHour: number | null;
  errors: Array<{ hour: number; code: string; message: string }>;
  cancelRequested: boolean;
  reason: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  updatedAt: number;
  owner: string;
}

/** The queue behind `POST /v1/ops/recompute`: bounded, cancellable, visible from every replica. */
export interface RecomputeQueue {
  /** Queues the recompute and returns the queued job at once; refuses with a coded error when it cannot take it. */
  submit(view: string, range: TimeRange): Promise<RecomputeJobRecord>;
  /** Null when no such job exists (or it expired). */
  get(id: string): Promise<RecomputeJobRecord | null>;
  /** The newest jobs, newest first. */
  list(limit: number): Promise<RecomputeJobRecord[]>;
  /** Asks the job to stop between hours; a finished job comes back unchanged; null when unknown. */
  cancel(id: string): Promise<RecomputeJobRecord | null>;
}

/** A view's batch status as last computed by the batch layer (its scheduler, or after a publish). */
export interface BatchStatusRecord {
  sealedThrough: number | null;
  staleHours: number[];
  /** When the figures were computed (epoch ms). */
  computedAt: number;
}

export type BatchStatusSource = (view: string) => Promise<BatchStatusRecord>;

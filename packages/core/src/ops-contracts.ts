// The contracts between the operations side of the layers and whoever serves them: the probes every
// long-running process answers (/healthz, /readyz), the batch layer's recompute job queue and its
// per-view status record. Structural types, like the layer readers (layer-readers.ts): the batch
// layer implements them, the serving layer and the cli's metrics endpoint consume them, and small
// test doubles fit alike. Written once, here.
import type { TimeRange } from './types.ts';

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

/** One recompute job as every replica sees it. Times are epoch ms. */
export interface RecomputeJob {
  id: string;
  view: string;
  /** Hour-aligned range, `to` exclusive. */
  from: number;
  to: number;
  state: RecomputeJobState;
  /** Hours of the range. */
  hoursTotal: number;
  /** Hours with an outcome: published, failed, or skipped (incomplete, leased elsewhere). */
  hoursDone: number;
  hoursPublished: number;
  hoursFailed: number;
  hoursSkipped: number;
  /** The oldest hour not done yet while running; null otherwise. */
  currentHour: number | null;
  /** Failed hours (the first `maxErrors`), with their error code and message. */
  errors: Array<{ hour: number; code: string; message: string }>;
  /** A cancel was asked for and the job has not stopped yet. */
  cancelRequested: boolean;
  /** Why the job failed or was cancelled; null while it runs or when it is done. */
  reason: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Last write by the process that runs the job (a heartbeat while queued or running). */
  updatedAt: number;
  /** The batch layer owner id of the process that accepted and runs the job. */
  owner: string;
}

/** The queue behind `POST /v1/ops/recompute`: bounded, cancellable, visible from every replica. */
export interface RecomputeQueue {
  /** Queues the recompute and returns the queued job at once; refuses with a coded error when it cannot take it. */
  submit(view: string, range: TimeRange): Promise<RecomputeJob>;
  /** Null when no such job exists (or it expired). */
  get(id: string): Promise<RecomputeJob | null>;
  /** The newest jobs, newest first. */
  list(limit: number): Promise<RecomputeJob[]>;
  /** Asks the job to stop between hours; a finished job comes back unchanged; null when unknown. */
  cancel(id: string): Promise<RecomputeJob | null>;
}

/** A view's batch status as last computed by the batch layer (its scheduler, or after a publish). */
export interface BatchStatusRecord {
  sealedThrough: number | null;
  staleHours: number[];
  /** When the figures were computed (epoch ms). */
  computedAt: number;
}

export type BatchStatusSource = (view: string) => Promise<BatchStatusRecord>;

// A recompute queue that only records what it is asked, for route tests of HTTP concerns (auth,
// validation, the fuzzer's server); the batch layer's real queue is tested with the routes in
// test/ops-jobs.test.ts on the real stack.
import { randomUUID } from 'node:crypto';
import type { RecomputeJob, RecomputeQueue, TimeRange } from '@tandem/core';

export class RecordingRecomputeQueue implements RecomputeQueue {
  /** Every accepted submit, in order. */
  readonly submitted: Array<{ view: string; range: TimeRange }> = [];
  readonly #jobs = new Map<string, RecomputeJob>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async submit(view: string, range: TimeRange): Promise<RecomputeJob> {
    this.submitted.push({ view, range });
    const at = this.#now();
    const job: RecomputeJob = {
      id: randomUUID(),
      view,
      from: range.from,
      to: range.to,
      state: 'queued',
      hoursTotal: (range.to - range.from) / 3_600_000,
      hoursDone: 0,
      hoursPublished: 0,
      hoursFailed: 0,
      hoursSkipped: 0,
      currentHour: null,
      errors: [],
      cancelRequested: false,
      reason: null,
      createdAt: at,
      startedAt: null,
      finishedAt: null,
      updatedAt: at,
      owner: 'recording-queue',
    };
    this.#jobs.set(job.id, job);
    return { ...job };
  }

  async get(id: string): Promise<RecomputeJob | null> {
    const job = this.#jobs.get(id);
    return job === undefined ? null : { ...job };
  }

  async list(limit: number): Promise<RecomputeJob[]> {
    return [...this.#jobs.values()].reverse().slice(0, limit);
  }

  async cancel(id: string): Promise<RecomputeJob | null> {
    const job = this.#jobs.get(id);
    if (job === undefined) return null;
    if (job.state === 'queued') {
      job.state = 'cancelled';
      job.reason = 'cancelled on request before it started';
      job.finishedAt = this.#now();
    }
    return { ...job };
  }
}

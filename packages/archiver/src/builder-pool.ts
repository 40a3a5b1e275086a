// Where the SegmentBuilders run: inline on the main thread (parseWorkers: 0) or in worker threads,
// each owning the partitions `partition % workers` maps to. Requests to one builder are answered
// in order, so a partition's messages, seals and resets apply in the order they were sent.
import { Worker } from 'node:worker_threads';
import { TandemError } from '@tandem/core';
import {
  type BuilderRequest,
  type BuilderResponse,
  SegmentBuilder,
  type SegmentBuilderOptions,
  transferablesOf,
} from './segment-builder.ts';

interface Pending {
  resolve: (response: BuilderResponse) => void;
  reject: (error: unknown) => void;
  bytes: number;
}

/** One builder in a worker thread; `send` resolves with the answer to that request. */
class WorkerBuilder {
  readonly #worker: Worker;
  readonly #pending: Pending[] = [];
  #failure: unknown = null;
  pendingBytes = 0;

  constructor(options: SegmentBuilderOptions, onFailure: (error: unknown) => void) {
    this.#worker = new Worker(new URL('./segment-worker.ts', import.meta.url), { workerData: options });
    this.#worker.on('message', (response: BuilderResponse) => {
      const pending = this.#pending.shift();
      if (pending === undefined) return;
      this.pendingBytes -= pending.bytes;
      pending.resolve(response);
    });
    const fail = (error: unknown): void => {
      if (this.#failure !== null) return;
      this.#failure = new TandemError(
        'TANDEM_ERR_ARCHIVER_UPLOAD',
        `an archiver parse worker stopped: ${(error as Error)?.message ?? String(error)}`,
        { cause: error },
      );
      for (const pending of this.#pending.splice(0)) pending.reject(this.#failure);
      onFailure(this.#failure);
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => {
      if (code !== 0 || this.#pending.length > 0) fail(new Error(`worker exited with code ${code}`));
    });
  }

  send(request: BuilderRequest): Promise<BuilderResponse> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    const bytes = request.kind === 'batch' ? request.data.byteLength : 0;
    this.pendingBytes += bytes;
    const answer = new Promise<BuilderResponse>((resolve, reject) =>
      this.#pending.push({ resolve, reject, bytes }),
    );
    this.#worker.postMessage(request, transferablesOf(request));
    return answer;
  }

  async close(): Promise<void> {
    this.#failure ??= new Error('closed');
    await this.#worker.terminate();
  }
}

/** The builders of one archiver. */
export class BuilderPool {
  readonly #inline: SegmentBuilder | null;
  readonly #workers: WorkerBuilder[];

  constructor(workers: number, options: SegmentBuilderOptions, onFailure: (error: unknown) => void) {
    this.#inline = workers === 0 ? new SegmentBuilder(options) : null;
    this.#workers = Array.from({ length: workers }, () => new WorkerBuilder(options, onFailure));
  }

  /** Sends a request for one partition to the builder that owns it. */
  send(partition: number, request: BuilderRequest): Promise<BuilderResponse> {
    if (this.#inline !== null) return Promise.resolve(this.#inline.handle(request));
    return this.#workers[partition % this.#workers.length]!.send(request);
  }

  /** Sends a request to every builder (seals over all partitions). */
  broadcast(request: BuilderRequest): Promise<BuilderResponse[]> {
    if (this.#inline !== null) return Promise.resolve([this.#inline.handle(request)]);
    return Promise.all(this.#workers.map((worker) => worker.send(request)));
  }

  /** Batch bytes sent to the workers and not yet answered (backpressure). */
  pendingBytes(): number {
    return this.#workers.reduce((sum, worker) => sum + worker.pendingBytes, 0);
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.close()));
  }
}

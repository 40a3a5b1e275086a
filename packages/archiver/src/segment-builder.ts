// The per-message work of the archiver — validate and normalize by the stream's schema, assign
// the event hour from its time field, buffer, decide rotation, render NDJSON — behind a message
// protocol, so it can run in worker threads while the main thread only decodes Kafka fetches,
// compresses, uploads and commits. Parsing is the archiver's largest cost per event; on its own
// thread it overlaps with kafkajs decoding. The same SegmentBuilder also runs inline
// (parseWorkers: 0), with identical results.
import {
  defaultEventParseOptions,
  type EventParseOptions,
  hourStart,
  type RegistryWriter,
  type Stream,
  TandemError,
} from '@tandem/core';
import { type SealReason, Segment, type SegmentLimits } from './segment.ts';
import { compileStreamLines, type StreamLines } from './stream-lines.ts';

/** A Kafka fetch batch of one partition, packed into transferable arrays. */
export interface BatchRequest {
  kind: 'batch';
  partition: number;
  epoch: number;
  /** Wall clock when the batch arrived (a new segment's start, for the maximum wait). */
  now: number;
  /** Kafka offsets as numbers (exact below 2^53; packBatch refuses larger ones). */
  offsets: Float64Array;
  /** Byte length of each message value; -1 for a null value (tombstone). */
  lengths: Int32Array;
  data: Uint8Array;
  /** Registry-backed streams: writer schemas the main thread looked up for ids in this batch. */
  writers?: RegistryWriter[];
}

/** Close open segments: of the listed partitions, or those older than `maxWaitMs`. */
export interface SealRequest {
  kind: 'seal';
  partitions: number[] | null;
  reason: SealReason;
  now: number;
  maxWaitMs: number;
}

/** Forget a partition's open segment (rebalance, rewind). */
export interface ResetRequest {
  kind: 'reset';
  partition: number;
  epoch: number;
}

export type BuilderRequest = BatchRequest | SealRequest | ResetRequest;

/** One archive file of a closed segment: uncompressed NDJSON, compressed by the main thread. */
export interface SealedFile {
  hour: number;
  firstOffset: string;
  ndjson: Uint8Array;
  events: number;
}

/** A closed segment, ready for upload: everything the commit and the watermark need. */
export interface SealedSegment {
  partition: number;
  epoch: number;
  startOffset: string;
  endOffset: string;
  reason: SealReason;
  records: number;
  invalid: number;
  bytes: number;
  /** Event-time range of its valid events; null when it holds none. */
  minEventTime: number | null;
  maxEventTime: number | null;
  files: SealedFile[];
}

/** A partition's open (unsealed) state after a request. */
export interface PartitionReport {
  partition: number;
  epoch: number;
  /** Invalid messages counted by this request. */
  invalid: number;
  maxEventTime: number | null;
  /** Smallest event time in the open segment; null when it holds no valid event. */
  openMinEventTime: number | null;
  openRecords: number;
}

export interface BuilderResponse {
  partitions: PartitionReport[];
  /** Segments closed by this request, in offset order per partition. */
  sealed: SealedSegment[];
}

export interface SegmentBuilderOptions {
  /** The stream whose messages are validated, normalized and routed by its time field. */
  stream: Stream;
  limits: SegmentLimits;
  /** Event validation overrides; undefined for core's defaults. */
  events: Partial<EventParseOptions> | undefined;
}

interface BuilderPartition {
  epoch: number;
  open: Segment | null;
  maxEventTime: number | null;
}

function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** Packs kafkajs messages of one partition into a BatchRequest (copies the values once). */
export function packBatch(
  partition: number,
  epoch: number,
  now: number,
  messages: ReadonlyArray<{ offset: string; value: Buffer | null }>,
): BatchRequest {
  let total = 0;
  for (const message of messages) total += message.value?.byteLength ?? 0;
  const data = new Uint8Array(total);
  const offsets = new Float64Array(messages.length);
  const lengths = new Int32Array(messages.length);
  let position = 0;
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index]!;
    const offset = Number(message.offset);
    if (!Number.isSafeInteger(offset)) {
      throw new TandemError(
        'TANDEM_ERR_ARCHIVER_UPLOAD',
        `Kafka offset ${message.offset} of partition ${partition} is beyond 2^53, which the archiver does not support`,
      );
    }
    offsets[index] = offset;
    const value = message.value;
    if (value === null) {
      lengths[index] = -1;
    } else {
      data.set(value, position);
      lengths[index] = value.byteLength;
      position += value.byteLength;
    }
  }
  return { kind: 'batch', partition, epoch, now, offsets, lengths, data };
}

/** The buffers behind a response, for `postMessage`'s transfer list. */
export function transferablesOf(value: BuilderRequest | BuilderResponse): ArrayBuffer[] {
  if ('kind' in value) {
    return value.kind === 'batch'
      ? [value.offsets.buffer, value.lengths.buffer, value.data.buffer].filter(
          (buffer): buffer is ArrayBuffer => buffer instanceof ArrayBuffer,
        )
      : [];
  }
  const buffers: ArrayBuffer[] = [];
  for (const segment of value.sealed) {
    for (const file of segment.files)
      if (file.ndjson.buffer instanceof ArrayBuffer) buffers.push(file.ndjson.buffer);
  }
  return buffers;
}

export class SegmentBuilder {
  readonly #options: SegmentBuilderOptions;
  readonly #lines: StreamLines;
  readonly #partitions = new Map<number, BuilderPartition>();

  constructor(options: SegmentBuilderOptions) {
    this.#options = options;
    this.#lines = compileStreamLines(options.stream);
  }

  handle(request: BuilderRequest): BuilderResponse {
    switch (request.kind) {
      case 'batch':
        return this.#batch(request);
      case 'seal':
        return this.#seal(request);
      case 'reset': {
        const state = this.#state(request.partition, request.epoch);
        state.open = null;
        return { partitions: [this.#report(request.partition, state, 0)], sealed: [] };
      }
    }
  }

  #state(partition: number, epoch: number): BuilderPartition {
    let state = this.#partitions.get(partition);
    if (state === undefined) {
      state = { epoch, open: null, maxEventTime: null };
      this.#partitions.set(partition, state);
    } else if (state.epoch !== epoch) {
      // A newer epoch: Kafka re-delivers from the last commit; what was buffered is dropped, and so
      // is the newest event time (the re-delivered events are older than it).
      state.epoch = epoch;
      state.open = null;
      state.maxEventTime = null;
    }
    return state;
  }

  #batch(request: BatchRequest): BuilderResponse {
    const state = this.#state(request.partition, request.epoch);
    const sealed: SealedSegment[] = [];
    const { limits } = this.#options;
    const lines = this.#lines;
    // One clock reading per batch for the future-time check (instead of one per event): the batch
    // is judged at the moment it arrived, like a Kafka fetch's worth of events always was.
    const events: Partial<EventParseOptions> = { ...this.#options.events, now: () => request.now };
    const maxBytes = events.maxBytes ?? defaultEventParseOptions.maxBytes;
    const data = Buffer.from(request.data.buffer, request.data.byteOffset, request.data.byteLength);
    if (request.writers !== undefined) lines.learn?.(request.writers);
    let invalid = 0;
    let position = 0;
    for (let index = 0; index < request.offsets.length; index++) {
      const offset = request.offsets[index]!;
      const length = request.lengths[index]!;
      state.open ??= new Segment(request.partition, request.epoch, offset, request.now, limits);
      const segment = state.open;
      const start = position;
      if (length > 0) position += length;
      let full: SealReason | null;
      let eventTime = length > 0 ? lines.canonicalTime(data, start, position, events, maxBytes) : null;
      if (eventTime !== null) {
        // Already its own normalized line: archived byte for byte.
        full = segment.addBytes(offset, hourStart(eventTime), eventTime, data, start, position);
      } else {
        const event = length < 0 ? null : lines.parse(data.subarray(start, position), events);
        if (event !== null) {
          eventTime = lines.time(event);
          full = segment.add(offset, hourStart(eventTime), eventTime, lines.line(event));
        } else {
          full = segment.skip(offset);
          invalid++;
        }
      }
      if (eventTime !== null && (state.maxEventTime === null || eventTime > state.maxEventTime)) {
        state.maxEventTime = eventTime;
      }
      if (full !== null) {
        sealed.push(this.#close(segment, full));
        state.open = null;
      }
    }
    return { partitions: [this.#report(request.partition, state, invalid)], sealed };
  }

  #seal(request: SealRequest): BuilderResponse {
    const sealed: SealedSegment[] = [];
    const partitions: PartitionReport[] = [];
    for (const [partition, state] of this.#partitions) {
      if (request.partitions !== null && !request.partitions.includes(partition)) continue;
      const open = state.open;
      if (open === null) continue;
      if (request.partitions === null && request.now - open.openedAt < request.maxWaitMs) continue;
      sealed.push(this.#close(open, request.reason));
      state.open = null;
      partitions.push(this.#report(partition, state, 0));
    }
    return { partitions, sealed };
  }

  #close(segment: Segment, reason: SealReason): SealedSegment {
    const files = segment.hourBuffers().map((buffer) => ({
      hour: buffer.hour,
      firstOffset: buffer.firstOffset.toString(),
      // A buffer of its own, so it can be transferred to the main thread without a copy.
      ndjson: buffer.ndjson(),
      events: buffer.events,
    }));
    return {
      partition: segment.partition,
      epoch: segment.epoch,
      startOffset: segment.startOffset.toString(),
      endOffset: segment.endOffset.toString(),
      reason,
      records: segment.records,
      invalid: segment.invalid,
      bytes: segment.bytes,
      minEventTime: finite(segment.minEventTime),
      maxEventTime: finite(segment.maxEventTime),
      files,
    };
  }

  #report(partition: number, state: BuilderPartition, invalid: number): PartitionReport {
    return {
      partition,
      epoch: state.epoch,
      invalid,
      maxEventTime: state.maxEventTime,
      openMinEventTime: state.open === null ? null : finite(state.open.minEventTime),
      openRecords: state.open?.records ?? 0,
    };
  }
}

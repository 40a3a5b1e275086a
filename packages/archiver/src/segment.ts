// A segment: a contiguous offset range of one Kafka partition, buffered per event hour. Segments
// are the archiver's unit of rotation and of commit, which is what makes crash recovery land on
// the same file names:
//
// - A segment ends when its record count or NDJSON size reaches a bound. Both depend only on the
//   messages from the segment's first offset, never on timing.
// - Every hour buffer of the segment is uploaded, then the segment's end offset is committed.
//   A committed offset is therefore always a segment boundary, and no buffer spans it.
// - A restart resumes at that boundary with empty buffers — exactly the state the crashed process
//   was in at that offset — so it makes the same rotation decisions and writes the same bytes
//   under the same names (`<topic>+<partition>+<first offset of the hour in the segment>.json.gz`).
//
// Only a segment closed by the maximum wait (or by a stop) ends at a timing-dependent offset. If the
// process dies after uploading such a segment and before committing it, the rerun may cut the range
// differently: a file may then be rewritten under its name with a superset of its events, or an
// hour's events may reappear under a different first offset. Nothing is lost; the duplicates are
// removed by the batch layer's `event_id` deduplication.

/** Why a segment was closed. */
export type SealReason = 'records' | 'bytes' | 'max-wait' | 'stop';

const encoder = new TextEncoder();
const NEWLINE = 0x0a;
const FIRST_CHUNK_BYTES = 16 * 1024;
const MAX_CHUNK_BYTES = 1024 * 1024;

/**
 * The events of one event hour inside one segment: one archive file. Lines are encoded into UTF-8
 * chunks as they arrive rather than kept as strings: no per-line string survives into the old
 * generation, and closing the file is one copy, not a join plus an encode.
 */
export class HourBuffer {
  readonly hour: number;
  /** Offset of the first event of this hour in the segment: the file's name. */
  readonly firstOffset: number;
  events = 0;
  /** UTF-8 bytes of the NDJSON, newlines included. */
  bytes = 0;
  minEventTime = Number.POSITIVE_INFINITY;
  maxEventTime = Number.NEGATIVE_INFINITY;
  readonly #chunks: Uint8Array[] = [];
  #current: Uint8Array = new Uint8Array(0);
  #used = 0;

  constructor(hour: number, firstOffset: number) {
    this.hour = hour;
    this.firstOffset = firstOffset;
  }

  /** Appends one line and its newline; returns the bytes written. */
  append(line: string): number {
    // A UTF-16 code unit takes at most 3 UTF-8 bytes, so this much room always suffices.
    const worstCase = line.length * 3 + 1;
    if (this.#current.byteLength - this.#used < worstCase) {
      if (this.#used > 0) this.#chunks.push(this.#current.subarray(0, this.#used));
      const size = Math.min(MAX_CHUNK_BYTES, Math.max(FIRST_CHUNK_BYTES, this.#current.byteLength * 2));
      this.#current = new Uint8Array(Math.max(size, worstCase));
      this.#used = 0;
    }
    const { written } = encoder.encodeInto(line, this.#current.subarray(this.#used));
    this.#current[this.#used + written] = NEWLINE;
    this.#used += written + 1;
    this.events++;
    this.bytes += written + 1;
    return written + 1;
  }

  /** Appends a line that is already UTF-8 (`bytes[start, end)`) and its newline; returns the bytes written. */
  appendBytes(bytes: Buffer, start: number, end: number): number {
    const size = end - start + 1;
    if (this.#current.byteLength - this.#used < size) {
      if (this.#used > 0) this.#chunks.push(this.#current.subarray(0, this.#used));
      const chunk = Math.min(MAX_CHUNK_BYTES, Math.max(FIRST_CHUNK_BYTES, this.#current.byteLength * 2));
      this.#current = new Uint8Array(Math.max(chunk, size));
      this.#used = 0;
    }
    bytes.copy(this.#current, this.#used, start, end);
    this.#current[this.#used + size - 1] = NEWLINE;
    this.#used += size;
    this.events++;
    this.bytes += size;
    return size;
  }

  /** The file's NDJSON bytes, one event per line, newline-terminated, in a buffer of their own. */
  ndjson(): Uint8Array {
    const out = new Uint8Array(this.bytes);
    let position = 0;
    for (const chunk of [...this.#chunks, this.#current.subarray(0, this.#used)]) {
      out.set(chunk, position);
      position += chunk.byteLength;
    }
    return out;
  }
}

export interface SegmentLimits {
  maxRecords: number;
  maxBytes: number;
}

export class Segment {
  readonly partition: number;
  /** Partition epoch at creation; a rewind (rebalance, seek) bumps it and orphans older segments. */
  readonly epoch: number;
  // Offsets are plain numbers on this hot path (a BigInt per message costs more than the rest of
  // the bookkeeping); packBatch refuses offsets beyond 2^53, which no Kafka partition reaches.
  readonly startOffset: number;
  /** Offset after the last message: what gets committed once the segment is durable. */
  endOffset: number;
  /** Messages in the segment, valid or not (invalid ones advance offsets but write nothing). */
  records = 0;
  invalid = 0;
  /** UTF-8 bytes of NDJSON across all hours. */
  bytes = 0;
  minEventTime = Number.POSITIVE_INFINITY;
  maxEventTime = Number.NEGATIVE_INFINITY;
  /** Wall-clock ms when the first message arrived (drives the maximum wait only). */
  readonly openedAt: number;
  readonly buffers = new Map<number, HourBuffer>();
  readonly #limits: SegmentLimits;

  constructor(
    partition: number,
    epoch: number,
    startOffset: number,
    openedAt: number,
    limits: SegmentLimits,
  ) {
    this.partition = partition;
    this.epoch = epoch;
    this.startOffset = startOffset;
    this.endOffset = startOffset;
    this.openedAt = openedAt;
    this.#limits = limits;
  }

  /** Adds a valid event; returns the reason the segment is now full, or null. */
  add(offset: number, hour: number, eventTime: number, line: string): SealReason | null {
    return this.#addTo(this.#buffer(offset, hour), offset, eventTime, (buffer) => buffer.append(line));
  }

  #buffer(offset: number, hour: number): HourBuffer {
    let buffer = this.buffers.get(hour);
    if (buffer === undefined) {
      buffer = new HourBuffer(hour, offset);
      this.buffers.set(hour, buffer);
    }
    return buffer;
  }

  #addTo(
    buffer: HourBuffer,
    offset: number,
    eventTime: number,
    write: (buffer: HourBuffer) => number,
  ): SealReason | null {
    const size = write(buffer);
    if (eventTime < buffer.minEventTime) buffer.minEventTime = eventTime;
    if (eventTime > buffer.maxEventTime) buffer.maxEventTime = eventTime;
    if (eventTime < this.minEventTime) this.minEventTime = eventTime;
    if (eventTime > this.maxEventTime) this.maxEventTime = eventTime;
    this.bytes += size;
    return this.#advance(offset);
  }

  /** Adds a valid event whose line is `bytes[start, end)` (already its normalized JSON, UTF-8). */
  addBytes(
    offset: number,
    hour: number,
    eventTime: number,
    bytes: Buffer,
    start: number,
    end: number,
  ): SealReason | null {
    return this.#addTo(this.#buffer(offset, hour), offset, eventTime, (buffer) =>
      buffer.appendBytes(bytes, start, end),
    );
  }

  /** Counts a message that failed validation: it occupies an offset, nothing more. */
  skip(offset: number): SealReason | null {
    this.invalid++;
    return this.#advance(offset);
  }

  #advance(offset: number): SealReason | null {
    this.records++;
    this.endOffset = offset + 1;
    if (this.records >= this.#limits.maxRecords) return 'records';
    if (this.bytes >= this.#limits.maxBytes) return 'bytes';
    return null;
  }

  /** Hour buffers in a stable order (by hour), for uploads and logs. */
  hourBuffers(): HourBuffer[] {
    return [...this.buffers.values()].sort((a, b) => a.hour - b.hour);
  }
}

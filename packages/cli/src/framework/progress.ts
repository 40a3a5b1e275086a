// Progress for long work (recompute, backfill, replay, generate): a redrawn bar with rate and ETA
// on a terminal; on a pipe or in CI, a plain line every 10% or 10 seconds, so logs stay readable.
import type { Writable } from 'node:stream';
import { formatDuration } from './time.ts';

export interface ProgressOptions {
  /** What is being done, e.g. "recompute endpoint_hourly". */
  label: string;
  /** Total units of work, or null when unknown (then only count and rate are shown). */
  total: number | null;
  /** Name of a unit, plural: "hours", "events". */
  unit: string;
}

interface ProgressSink {
  stream: Writable & { columns?: number };
  interactive: boolean;
  style: (text: string, style: 'dim' | 'green' | 'cyan') => string;
  onStop: () => void;
  now?: () => number;
}

export class Progress {
  readonly #options: ProgressOptions;
  readonly #sink: ProgressSink;
  readonly #now: () => number;
  readonly #startedAt: number;
  #done = 0;
  #detail = '';
  #lastDraw = 0;
  #lastPlainAt: number;
  #lastPlainShare = 0;
  #drawn = false;
  #stopped = false;

  constructor(options: ProgressOptions, sink: ProgressSink) {
    this.#options = options;
    this.#sink = sink;
    this.#now = sink.now ?? (() => performance.now());
    this.#startedAt = this.#now();
    this.#lastPlainAt = this.#startedAt;
  }

  get done(): number {
    return this.#done;
  }

  /** Sets the total when it becomes known. */
  setTotal(total: number): void {
    this.#options.total = total;
  }

  /** Adds `units` of finished work; `detail` is shown after the numbers (e.g. the current hour). */
  tick(units = 1, detail?: string): void {
    this.update(this.#done + units, detail);
  }

  update(done: number, detail?: string): void {
    if (this.#stopped) return;
    this.#done = done;
    if (detail !== undefined) this.#detail = detail;
    const now = this.#now();
    if (this.#sink.interactive) {
      if (now - this.#lastDraw >= 80 || this.#finished()) this.redraw();
      return;
    }
    // Plain lines for logs: nothing for work that finishes within seconds (the final line says it
    // all), then one line per 25% or 10 seconds, whichever comes first.
    const share = this.#options.total ? this.#done / this.#options.total : 0;
    if (now - this.#startedAt < 3_000) return;
    if (now - this.#lastPlainAt >= 10_000 || share - this.#lastPlainShare >= 0.25) {
      this.#lastPlainAt = now;
      this.#lastPlainShare = share;
      this.#sink.stream.write(`${this.#summary()}\n`);
    }
  }

  /** Removes the bar from the terminal (before printing a line). */
  clear(): void {
    if (this.#sink.interactive && this.#drawn) this.#sink.stream.write('\r\x1b[2K');
  }

  redraw(): void {
    if (!this.#sink.interactive || this.#stopped) return;
    this.#lastDraw = this.#now();
    const columns = this.#sink.stream.columns ?? 100;
    const fit = (text: string, room: number): string =>
      text.length <= room ? text : `${text.slice(0, Math.max(0, room - 1))}…`;
    const summary = this.#summary();
    let line: string;
    if (this.#options.total) {
      const width = Math.max(10, Math.min(30, columns - summary.length - 2));
      const filled = Math.round(width * Math.min(1, this.#done / this.#options.total));
      const bar =
        this.#sink.style('█'.repeat(filled), 'green') + this.#sink.style('░'.repeat(width - filled), 'dim');
      // Cut the text, never the escape codes: a line wider than the terminal would wrap and the
      // next redraw would only clear its last row.
      line = `${bar} ${fit(summary, columns - width - 2)}`;
    } else {
      line = fit(summary, columns - 1);
    }
    this.#sink.stream.write(`\r\x1b[2K${line}`);
    this.#drawn = true;
  }

  /** Ends the display with a final summary line. */
  stop(finalText?: string): void {
    if (this.#stopped) return;
    this.clear();
    this.#stopped = true;
    this.#sink.onStop();
    const text = finalText ?? this.#summary();
    this.#sink.stream.write(`${text}\n`);
  }

  #finished(): boolean {
    return this.#options.total !== null && this.#done >= this.#options.total;
  }

  #summary(): string {
    const { label, total, unit } = this.#options;
    const elapsedMs = this.#now() - this.#startedAt;
    const rate = elapsedMs > 0 ? (this.#done / elapsedMs) * 1000 : 0;
    const parts = [label];
    if (total) {
      parts.push(
        `${Math.min(100, Math.floor((100 * this.#done) / total))}%`,
        `${this.#done}/${total} ${unit}`,
      );
    } else {
      parts.push(`${this.#done} ${unit}`);
    }
    parts.push(`${rate >= 100 ? Math.round(rate) : rate.toFixed(1)} ${unit}/s`);
    // The first second's rate says nothing about the rest: no ETA until there is one worth showing.
    if (total && this.#done < total) {
      parts.push(
        rate > 0 && elapsedMs >= 1000
          ? `ETA ${formatDuration(((total - this.#done) / rate) * 1000)}`
          : 'ETA …',
      );
    } else parts.push(`elapsed ${formatDuration(elapsedMs)}`);
    if (this.#detail) parts.push(this.#detail);
    return parts.join('  ');
  }
}

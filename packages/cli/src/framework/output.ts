// Terminal manners in one place: results on stdout (a table or lines for people, one JSON document
// with --json), narration and progress on stderr, colour only on a TTY that wants it.
import type { Writable } from 'node:stream';
import { Progress, type ProgressOptions } from './progress.ts';

export interface OutputOptions {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  json: boolean;
  env: Record<string, string | undefined>;
}

type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan';
const styleCodes: Record<Style, [number, number]> = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
};

/** Column of a table: a header and how to read the cell from a row. */
export interface Column<R> {
  header: string;
  cell: (row: R) => string;
  align?: 'left' | 'right';
}

/** Width of a string on a terminal, ignoring ANSI colour codes. */
function visibleLength(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
  return text.replace(/\x1b\[[0-9;]*m/g, '').length;
}

export class Output {
  readonly json: boolean;
  readonly stdout: OutputOptions['stdout'];
  readonly stderr: OutputOptions['stderr'];
  readonly #colorOut: boolean;
  readonly #colorErr: boolean;
  #activeProgress: Progress | null = null;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.stdout = options.stdout;
    this.stderr = options.stderr;
    // https://no-color.org and FORCE_COLOR, as most CLIs honour them.
    const noColor = options.env.NO_COLOR !== undefined && options.env.NO_COLOR !== '';
    const force = options.env.FORCE_COLOR !== undefined && options.env.FORCE_COLOR !== '0';
    this.#colorOut = !noColor && (force || Boolean(options.stdout.isTTY));
    this.#colorErr = !noColor && (force || Boolean(options.stderr.isTTY));
  }

  /** Whether stderr is an interactive terminal (progress bars instead of plain lines). */
  get interactive(): boolean {
    return Boolean(this.stderr.isTTY);
  }

  style(text: string, style: Style, stream: 'out' | 'err' = 'out'): string {
    const enabled = stream === 'out' ? this.#colorOut : this.#colorErr;
    if (!enabled) return text;
    const [open, close] = styleCodes[style];
    return `\x1b[${open}m${text}\x1b[${close}m`;
  }

  /** A line of the result for people (suppressed under --json, where `result` prints instead). */
  line(text = ''): void {
    if (this.json) return;
    this.#write(this.stdout, `${text}\n`);
  }

  /** Narration for people: always stderr, so stdout stays parseable. */
  info(text: string): void {
    this.#write(this.stderr, `${text}\n`);
  }

  warn(text: string): void {
    this.#write(this.stderr, `${this.style('warning:', 'yellow', 'err')} ${text}\n`);
  }

  error(text: string): void {
    this.#write(this.stderr, `${this.style('error:', 'red', 'err')} ${text}\n`);
  }

  /** The machine-readable result: printed only under --json, as one JSON document. */
  result(value: unknown): void {
    if (!this.json) return;
    this.#write(this.stdout, `${JSON.stringify(value, null, 2)}\n`);
  }

  /** A table on stdout, columns padded to their widest cell. */
  table<R>(rows: R[], columns: Column<R>[]): void {
    if (this.json) return;
    const cells = rows.map((row) => columns.map((column) => column.cell(row)));
    const widths = columns.map((column, i) =>
      Math.max(visibleLength(column.header), ...cells.map((row) => visibleLength(row[i]!))),
    );
    const render = (values: string[], header: boolean): string =>
      values
        .map((value, i) => {
          const padding = ' '.repeat(widths[i]! - visibleLength(value));
          const aligned = columns[i]!.align === 'right' ? padding + value : value + padding;
          return header ? this.style(aligned, 'bold') : aligned;
        })
        .join('  ')
        .trimEnd();
    this.line(
      render(
        columns.map((column) => column.header),
        true,
      ),
    );
    for (const row of cells) this.line(render(row, false));
  }

  /** A progress display for long work: a bar on a TTY, plain periodic lines otherwise. */
  progress(options: ProgressOptions): Progress {
    this.#activeProgress?.stop();
    const progress = new Progress(options, {
      stream: this.stderr,
      interactive: this.interactive,
      style: (text, style) => this.style(text, style, 'err'),
      onStop: () => {
        if (this.#activeProgress === progress) this.#activeProgress = null;
      },
    });
    this.#activeProgress = progress;
    return progress;
  }

  #write(stream: Writable, text: string): void {
    // A line printed while a bar is drawn would interleave with it (stdout and stderr usually share
    // the terminal): clear the bar, print, redraw.
    const progress = this.#activeProgress;
    progress?.clear();
    stream.write(text);
    progress?.redraw();
  }
}

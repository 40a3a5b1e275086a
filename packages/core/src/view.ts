// The view DSL: one declaration that both engines compile. defineView validates everything at
// definition time (fields, operators, measure kinds) so a bad view never reaches a running job.
import { TandemError } from './errors.ts';
import { type FieldSchema, sessionFieldTypes } from './fields.ts';
import { compareCodePoints, type Filter, validateFilter } from './filter.ts';
import { createMeasure, type Measure, type MeasureSpec, type MeasureValue, newCells } from './measures.ts';
import { bucketSizeMs, MINUTE_MS } from './time.ts';
import type { Stream } from './stream.ts';
import type { BucketSize, Cells, DimensionValue, PartialRow } from './types.ts';
import { viewFingerprint } from './view-fingerprint.ts';
import { webStream } from './web-stream.ts';

/** How a sessionized view cuts events into sessions before its measures see them. */
export interface SessionizeSpec {
  /** The (string) field whose value identifies a visitor; events where it is null are left out. */
  by: string;
  /** A gap longer than this (ms) between two events of a visitor starts a new session. @defaultValue 1800000 */
  gapMs: number;
  /** The (string) field counted as page views and unique pages (non-null values). @defaultValue 'page_id' */
  page: string;
}

/** What `defineView` accepts. */
export interface ViewSpec {
  name: string;
  /** Bumped whenever the meaning of stored states changes. @defaultValue 1 */
  version?: number;
  /** The stream it reads. @defaultValue the stream `defineView` is given (the web stream `events`) */
  stream?: string;
  bucket: BucketSize;
  /** Group-by fields (the stream's fields). Not allowed on sessionized views. @defaultValue [] */
  dimensions?: string[];
  /** Which events the view sees (before sessionizing, for sessionized views). */
  filter?: Filter | null;
  /** Measures in display order. For sessionized views they read session fields. */
  measures: Record<string, MeasureSpec>;
  sessionize?: Partial<SessionizeSpec> & { by: string };
  /**
   * How far back a new version of the view is built before serving switches to it: `<n>d` or
   * `<n>h`. Not part of the fingerprint (it says how much is built, not what the numbers mean).
   * @defaultValue '30d'
   */
  history?: string;
}

/** The history a view's new versions are built over when the spec names none. */
export const DEFAULT_VIEW_HISTORY = '30d';

/** A validated, compiled-ready view. */
export interface View {
  readonly name: string;
  readonly version: number;
  /**
   * The derived version: a hash of the normalized definition and the rules of the stream fields it
   * reads (view-fingerprint.ts). Cosmetic edits keep it; any change to what the numbers mean does not.
   */
  readonly fingerprint: string;
  /** The stream it reads. */
  readonly stream: string;
  /** The stream's event-time field (epoch ms in normalized events): what buckets are cut by. */
  readonly timeField: string;
  /** The stream's event-id field, or null (see `StreamSpec.idField`). */
  readonly idField: string | null;
  /** The stream's normalized fields and their types: what dimensions and filters read. */
  readonly eventSchema: FieldSchema;
  readonly bucket: BucketSize;
  readonly bucketMs: number;
  readonly dimensions: string[];
  readonly filter: Filter | null;
  readonly measures: Record<string, Measure>;
  readonly sessionize: SessionizeSpec | null;
  /** The fields measures read: event fields, or session fields for sessionized views. */
  readonly measureSchema: FieldSchema;
  /** How far back a new version is built before the switch (`ViewSpec.history`), ms. */
  readonly historyMs: number;
}

/** A view with a sessionize step (its `sessionize` is set). */
export type SessionizedView = View & { readonly sessionize: SessionizeSpec };

/** Narrows a view to a sessionized one. */
export function isSessionized(view: View): view is SessionizedView {
  return view.sessionize !== null;
}

const namePattern = /^[a-z][a-z0-9_]{0,62}$/;

function viewError(name: string, message: string, details: Record<string, unknown> = {}): TandemError {
  return new TandemError('TANDEM_ERR_VIEW_INVALID', `view "${name}": ${message}`, {
    details: { view: name, ...details },
  });
}

/**
 * Validates a view spec against the fields of the stream it reads. Throws coded errors
 * (`TANDEM_ERR_VIEW_*`, `TANDEM_ERR_MEASURE_INVALID`) that name the view and the field.
 */
export function defineView(spec: ViewSpec, stream: Stream = webStream): View {
  const name = spec?.name;
  if (typeof name !== 'string' || !namePattern.test(name)) {
    throw new TandemError(
      'TANDEM_ERR_VIEW_INVALID',
      `view name ${JSON.stringify(name)} is invalid; use lower-case letters, digits and _ (max 63)`,
    );
  }
  const version = spec.version ?? 1;
  if (!Number.isInteger(version) || version < 1) throw viewError(name, 'version must be a positive integer');
  if (spec.stream !== undefined && spec.stream !== stream.name) {
    throw viewError(name, `reads stream "${spec.stream}", but was defined against stream "${stream.name}"`);
  }
  const eventFieldTypes = stream.fieldTypes;
  let bucketMs: number;
  try {
    bucketMs = bucketSizeMs(spec.bucket);
  } catch (error) {
    throw viewError(name, (error as Error).message, { bucket: spec.bucket });
  }
  const dimensions = spec.dimensions ?? [];
  for (const dim of dimensions) {
    if (!Object.hasOwn(eventFieldTypes, dim)) {
      throw new TandemError(
        'TANDEM_ERR_VIEW_FIELD_UNKNOWN',
        `view "${name}": unknown dimension ${JSON.stringify(dim)}; stream "${stream.name}" has the fields ${Object.keys(eventFieldTypes).join(', ')}`,
        { details: { view: name, field: dim } },
      );
    }
  }
  for (const dim of dimensions) {
    // Dimension values are strings or numbers in every store (Redis fields, Parquet, HTTP).
    if (eventFieldTypes[dim] === 'boolean') {
      throw viewError(
        name,
        `dimension "${dim}" is a boolean field; booleans can filter views, not group them`,
        {
          field: dim,
        },
      );
    }
  }
  if (new Set(dimensions).size !== dimensions.length) throw viewError(name, 'dimensions must not repeat');
  const filter =
    spec.filter === undefined || spec.filter === null
      ? null
      : validateFilter(spec.filter, eventFieldTypes, `view "${name}" filter`);

  let sessionize: SessionizeSpec | null = null;
  if (spec.sessionize !== undefined) {
    const s = spec.sessionize;
    sessionize = { by: s.by, gapMs: s.gapMs ?? 30 * MINUTE_MS, page: s.page ?? 'page_id' };
    for (const field of [sessionize.by, sessionize.page]) {
      if (!Object.hasOwn(eventFieldTypes, field) || eventFieldTypes[field] !== 'string') {
        throw new TandemError(
          'TANDEM_ERR_VIEW_FIELD_UNKNOWN',
          `view "${name}": sessionize needs string fields of stream "${stream.name}", got ${JSON.stringify(field)}`,
          { details: { view: name, field } },
        );
      }
    }
    if (!Number.isInteger(sessionize.gapMs) || sessionize.gapMs < 0) {
      throw viewError(name, 'sessionize.gapMs must be a non-negative integer');
    }
    if (dimensions.length > 0) throw viewError(name, 'sessionized views have no dimensions');
  }

  const measureSchema: FieldSchema = sessionize === null ? eventFieldTypes : sessionFieldTypes;
  if (
    typeof spec.measures !== 'object' ||
    spec.measures === null ||
    Object.keys(spec.measures).length === 0
  ) {
    throw viewError(name, 'a view needs at least one measure');
  }
  const measures: Record<string, Measure> = {};
  const outputs = new Set<string>();
  for (const [measureName, measureSpec] of Object.entries(spec.measures)) {
    if (!namePattern.test(measureName)) {
      throw new TandemError(
        'TANDEM_ERR_MEASURE_INVALID',
        `view "${name}": measure name ${JSON.stringify(measureName)} is invalid; use lower-case letters, digits and _`,
      );
    }
    let measure: Measure;
    try {
      measure = createMeasure(measureName, measureSpec, measureSchema);
    } catch (error) {
      // Name the view too: a config file declares many views with measures of the same names.
      if (!(error instanceof TandemError)) throw error;
      throw new TandemError(error.code, `view "${name}": ${error.message}`, {
        cause: error.cause,
        details: { view: name, ...error.details },
      });
    }
    for (const output of measure.outputs) {
      if (outputs.has(output)) throw viewError(name, `two measures produce the value "${output}"`);
      outputs.add(output);
    }
    measures[measureName] = measure;
  }
  const definition = {
    name,
    version,
    historyMs: parseHistory(name, spec.history ?? DEFAULT_VIEW_HISTORY),
    stream: stream.name,
    timeField: stream.timeField,
    idField: stream.idField,
    eventSchema: eventFieldTypes,
    bucket: spec.bucket,
    bucketMs,
    dimensions: [...dimensions],
    filter,
    measures,
    sessionize,
    measureSchema,
  };
  return { ...definition, fingerprint: viewFingerprint(definition, stream) };
}

/** `30d` or `12h` as ms: a whole number of days or hours, at least one hour. */
function parseHistory(name: string, history: unknown): number {
  const match = typeof history === 'string' ? /^([1-9][0-9]{0,4})([dh])$/.exec(history) : null;
  if (match === null) {
    throw viewError(name, `history ${JSON.stringify(history)} is not a duration; write e.g. '30d' or '12h'`, {
      history,
    });
  }
  return Number(match[1]) * (match[2] === 'd' ? 24 : 1) * 3_600_000;
}

/** Empty state of every measure. */
export function emptyStates(view: View): Record<string, Cells> {
  const out: Record<string, Cells> = {};
  for (const [name, measure] of Object.entries(view.measures)) out[name] = measure.empty();
  return out;
}

/** Merges two states records measure by measure (a missing measure counts as empty). */
export function mergeStates(
  view: View,
  a: Record<string, Cells>,
  b: Record<string, Cells>,
): Record<string, Cells> {
  const out: Record<string, Cells> = {};
  for (const [name, measure] of Object.entries(view.measures)) {
    out[name] = measure.merge(a[name] ?? measure.empty(), b[name] ?? measure.empty());
  }
  return out;
}

function dimKey(bucket: number, dims: readonly DimensionValue[]): string {
  let key = String(bucket);
  for (const d of dims) {
    key += d === null ? '|n' : typeof d === 'number' ? `|#${d}` : `|s${d.length}:${d}`;
  }
  return key;
}

/** Orders dimension tuples: null first, numbers before strings, strings by code point. */
export function compareDims(a: readonly DimensionValue[], b: readonly DimensionValue[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (x === y) continue;
    if (x === null) return -1;
    if (y === null) return 1;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    const c = compareCodePoints(x, y);
    if (c !== 0) return c;
  }
  return 0;
}

/** Sorts partial rows by bucket, then dimensions (in place; returns the array). */
export function sortPartialRows(rows: PartialRow[]): PartialRow[] {
  return rows.sort((a, b) => a.bucket - b.bucket || compareDims(a.dims, b.dims));
}

/** Merges rows with the same bucket and dimensions; returns them sorted by bucket, then dimensions. */
export function mergePartialRows(view: View, rows: Iterable<PartialRow>): PartialRow[] {
  const groups = new Map<string, PartialRow>();
  for (const row of rows) {
    const key = dimKey(row.bucket, row.dims);
    const existing = groups.get(key);
    if (existing === undefined) {
      groups.set(key, { bucket: row.bucket, dims: [...row.dims], states: mergeStates(view, {}, row.states) });
    } else {
      existing.states = mergeStates(view, existing.states, row.states);
    }
  }
  return sortPartialRows([...groups.values()]);
}

/**
 * Finished values of every measure, in the view's display order. Quantiles expand to one value per
 * q (`p50_latency_ms`, ...); topK gives `[{ key, count }]` (top k); avg/min/max give null when empty.
 */
export function finalizeStates(view: View, states: Record<string, Cells>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, measure] of Object.entries(view.measures)) {
    const value: MeasureValue = measure.finalize(states[name] ?? measure.empty());
    if (measure.kind === 'quantiles') Object.assign(out, value);
    else out[name] = value;
  }
  return out;
}

/** Version of the serialized states envelope. */
export const STATES_ENCODING_VERSION = 1;

/**
 * Serializes states for storage: `{"v":1,"view":<view version>,"m":{<measure>:<measure version>},"s":{...}}`.
 * The version numbers let decodeStates refuse states written under another definition.
 */
export function encodeStates(view: View, states: Record<string, Cells>): string {
  const versions: Record<string, number> = {};
  const cells: Record<string, Cells> = {};
  for (const [name, measure] of Object.entries(view.measures)) {
    versions[name] = measure.version;
    cells[name] = states[name] ?? measure.empty();
  }
  return JSON.stringify({ v: STATES_ENCODING_VERSION, view: view.version, m: versions, s: cells });
}

function versionError(view: View, message: string): TandemError {
  return new TandemError(
    'TANDEM_ERR_STATE_VERSION',
    `stored states of view "${view.name}" ${message}; recompute the affected hours (tandem batch recompute)`,
    { details: { view: view.name } },
  );
}

/** Parses what encodeStates wrote. Throws `TANDEM_ERR_STATE_VERSION` on any version mismatch. */
export function decodeStates(view: View, text: string): Record<string, Cells> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new TandemError('TANDEM_ERR_STATE_VERSION', `stored states of view "${view.name}" are not JSON`, {
      cause,
    });
  }
  const envelope = parsed as {
    v?: unknown;
    view?: unknown;
    m?: Record<string, unknown>;
    s?: Record<string, unknown>;
  };
  if (typeof envelope !== 'object' || envelope === null || envelope.v !== STATES_ENCODING_VERSION) {
    throw versionError(
      view,
      `have encoding version ${JSON.stringify(envelope?.v)}, expected ${STATES_ENCODING_VERSION}`,
    );
  }
  if (envelope.view !== view.version) {
    throw versionError(
      view,
      `were written by view version ${JSON.stringify(envelope.view)}, this is version ${view.version}`,
    );
  }
  const out: Record<string, Cells> = {};
  for (const [name, measure] of Object.entries(view.measures)) {
    const storedVersion = envelope.m?.[name];
    const stored = envelope.s?.[name];
    if (storedVersion === undefined && stored === undefined) {
      out[name] = measure.empty();
      continue;
    }
    if (storedVersion !== measure.version) {
      throw versionError(
        view,
        `hold measure "${name}" version ${JSON.stringify(storedVersion)}, expected ${measure.version}`,
      );
    }
    out[name] = adoptCells(stored, view, name);
  }
  return out;
}

function checkCells(value: unknown, view: View, measure: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TandemError(
      'TANDEM_ERR_STATE_VERSION',
      `state of ${view.name}.${measure} is not an object of numbers`,
    );
  }
  for (const v of Object.values(value)) {
    if (typeof v !== 'number') {
      const key = Object.keys(value).find((k) => typeof (value as Record<string, unknown>)[k] !== 'number');
      throw new TandemError(
        'TANDEM_ERR_STATE_VERSION',
        `state of ${view.name}.${measure} has a non-numeric cell "${key}"`,
      );
    }
  }
}

/** Copies a parsed JSON object of numbers into a null-prototype cells object. */
export function toCells(value: unknown, view: View, measure: string): Cells {
  checkCells(value, view, measure);
  const cells = newCells();
  for (const key in value) cells[key] = value[key] as number;
  return cells;
}

/**
 * Takes an object that JSON.parse has just made, and nothing else holds, as the cells object:
 * checks its values and drops its prototype instead of copying it. A HyperLogLog state has up to
 * 16,384 cells, and the copy was ~85% of decoding a stored row (the serving layer's cold reads).
 */
export function adoptCells(value: unknown, view: View, measure: string): Cells {
  checkCells(value, view, measure);
  return Object.setPrototypeOf(value, null) as Cells;
}

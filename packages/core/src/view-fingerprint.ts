// A view's derived version: a hash of what its stored states mean, so a definition change that
// changes the numbers makes a new version, and an edit that does not (a comment, key order, the
// order of measures or of `in` values) makes none. The hash covers the normalized definition
// (defaults resolved, as defineView leaves it) and the rules of every stream field the view reads,
// because a rule decides which events count (a tighter `maximum` dead-letters events the old
// version counted).
import { createHash } from 'node:crypto';
import type { Filter } from './filter.ts';
import type { Measure, MeasureSpec } from './measures.ts';
import type { Stream } from './stream.ts';
import type { StreamField } from './stream-schema.ts';
import type { View, ViewSpec } from './view.ts';
import { viewFieldsRead } from './view-fields.ts';

/** A view as defineView builds it, before its version is derived. */
export type ViewDefinition = Omit<View, 'fingerprint'>;

/**
 * Version of the normalization below and of what states mean to the engines. Bump it when either
 * changes, so every view gets a new version (and is rebuilt) rather than mixing meanings.
 */
export const VIEW_FINGERPRINT_SEMANTICS = 'tandem-view/1';

/**
 * The derived version of `view` over `stream` (its hand-set `version` is not part of it): 12 hex digits of SHA-256 over the canonical form.
 * 48 bits: a collision between two definitions of one view is out of reach in any real history.
 */
export function viewFingerprint(view: ViewDefinition, stream: Stream): string {
  const canonical = canonicalJson({
    semantics: VIEW_FINGERPRINT_SEMANTICS,
    view: {
      name: view.name,
      stream: view.stream,
      bucket: view.bucket,
      // Order matters: dimension values are stored positionally.
      dimensions: view.dimensions,
      filter: normalizeFilter(view.filter),
      sessionize: view.sessionize,
      measures: Object.fromEntries(
        Object.values(view.measures).map((measure) => [measure.name, normalizeMeasure(measure)]),
      ),
    },
    // How events become rows: the time field and its encoding cut buckets; the id field dedups.
    time: [stream.timeField, stream.timeEncoding],
    idField: stream.idField,
    fields: fieldsRead(view, stream).map(normalizeField),
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}

function normalizeMeasure(measure: Measure): Record<string, unknown> {
  return {
    kind: measure.kind,
    // A measure's own state version: a change to how a kind folds values is a new meaning too.
    version: measure.version,
    field: measure.field,
    where: normalizeFilter(measure.where),
    // The fractions are a set (each has its own output); the declared order is display order.
    qs: [...measure.qs].sort((a, b) => a - b),
    k: measure.k,
  };
}

/** A filter with commutative parts in one order: `and`/`or` children and `in` values sorted. */
function normalizeFilter(filter: Filter | null): unknown {
  if (filter === null) return null;
  switch (filter.op) {
    case 'and':
    case 'or': {
      const children = filter.filters.map((child) => canonicalJson(normalizeFilter(child)));
      return { op: filter.op, filters: [...new Set(children)].sort() };
    }
    case 'not':
      return { op: 'not', filter: normalizeFilter(filter.filter) };
    case 'in': {
      const values = [...new Set(filter.values.map((value) => JSON.stringify(value)))].sort();
      return { op: 'in', field: filter.field, values };
    }
    default:
      return filter;
  }
}

/** The stream fields the view's numbers depend on, in name order. */
function fieldsRead(view: ViewDefinition, stream: Stream): StreamField[] {
  const names = viewFieldsRead(view, stream);
  return stream.fields.filter((field) => names.has(field.name)).sort((a, b) => (a.name < b.name ? -1 : 1));
}

function normalizeField(field: StreamField): unknown {
  return {
    ...field,
    // An enum is a set of accepted values.
    enum: field.enum === null ? null : [...field.enum.map((value) => JSON.stringify(value))].sort(),
  };
}

/** JSON with every object's keys sorted, so key order in a config file never changes a hash. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, entry]) => entry !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, entry]) => `${JSON.stringify(key)}:${canonicalJson(entry)}`).join(',')}}`;
}

/**
 * A compiled view back as the spec that compiles to it (defaults resolved, plain JSON, without the
 * hand-set `version`): what the batch layer's generation registry stores per version, so a version
 * can be compiled again (to serve or rebuild it) after the config file has moved on.
 * `defineView(viewSpecOf(view), stream)` has the fingerprint of `view`.
 */
export function viewSpecOf(view: ViewDefinition): ViewSpec & { stream: string } {
  const measures: Record<string, MeasureSpec> = {};
  for (const measure of Object.values(view.measures)) {
    measures[measure.name] = {
      kind: measure.kind,
      ...(measure.field === null ? {} : { field: measure.field }),
      ...(measure.where === null ? {} : { where: measure.where }),
      ...(measure.kind === 'quantiles' ? { qs: [...measure.qs] } : {}),
      ...(measure.kind === 'topK' && measure.k !== null ? { k: measure.k } : {}),
    };
  }
  return JSON.parse(
    JSON.stringify({
      name: view.name,
      stream: view.stream,
      bucket: view.bucket,
      dimensions: view.dimensions,
      filter: view.filter,
      measures,
      ...(view.sessionize === null ? {} : { sessionize: view.sessionize }),
    }),
  ) as ViewSpec & { stream: string };
}

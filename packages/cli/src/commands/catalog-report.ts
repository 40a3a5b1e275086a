// Streams and views as plain data, for `tandem views` and `tandem config check`: what a person or
// a script needs to know of each (topics, lake prefix, time and id fields, fingerprint; bucket,
// dimensions, measures, version), and a view's definition as canonical JSON so two configs can be
// compared view by view.
import { type Catalog, canonicalJson, type Filter, type Stream, type View } from '@tandem/core';

/** One measure of a view as declared (its kind, the field it reads, its options). */
export interface MeasureInfo {
  name: string;
  kind: string;
  field: string | null;
  where: Filter | null;
  /** quantiles: the fractions. */
  qs?: number[];
  /** topK: keys kept. */
  k?: number;
  /** Names of the values it produces (`p95_<name>` for quantiles). */
  outputs: string[];
}

export interface ViewInfo {
  name: string;
  stream: string;
  /** The version serving reads and the batch layer builds (`views/<name>/v<version>/` in the lake). */
  version: number;
  /** The derived version: a hash of what the view's numbers mean (core's viewFingerprint). */
  fingerprint: string;
  bucket: string;
  dimensions: string[];
  filter: Filter | null;
  sessionize: { by: string; gapMs: number; page: string } | null;
  measures: MeasureInfo[];
}

export interface StreamFieldInfo {
  name: string;
  type: string;
  required: boolean;
  nullable: boolean;
}

export interface StreamInfo {
  name: string;
  topic: string;
  dlqTopic: string;
  lateTopic: string;
  lakePrefix: string;
  timeField: string;
  timeEncoding: string;
  idField: string | null;
  /** Names the stream's validation rules; archive manifests record it as `validator`. */
  fingerprint: string;
  fields: StreamFieldInfo[];
  views: ViewInfo[];
}

export function measureInfo(view: View): MeasureInfo[] {
  return Object.values(view.measures).map((measure) => ({
    name: measure.name,
    kind: measure.kind,
    field: measure.field,
    where: measure.where,
    ...(measure.kind === 'quantiles' ? { qs: [...measure.qs] } : {}),
    ...(measure.k === null ? {} : { k: measure.k }),
    outputs: [...measure.outputs],
  }));
}

export function viewInfo(view: View): ViewInfo {
  return {
    name: view.name,
    stream: view.stream,
    version: view.version,
    fingerprint: view.fingerprint,
    bucket: view.bucket,
    dimensions: [...view.dimensions],
    filter: view.filter,
    sessionize: view.sessionize === null ? null : { ...view.sessionize },
    measures: measureInfo(view),
  };
}

export function streamInfo(stream: Stream, views: readonly View[]): StreamInfo {
  return {
    name: stream.name,
    topic: stream.topic,
    dlqTopic: stream.dlqTopic,
    lateTopic: stream.lateTopic,
    lakePrefix: stream.lakePrefix,
    timeField: stream.timeField,
    timeEncoding: stream.timeEncoding,
    idField: stream.idField,
    fingerprint: stream.fingerprint,
    fields: stream.fields.map((field) => ({
      name: field.name,
      type: field.type,
      required: field.required,
      nullable: field.nullable,
    })),
    views: views.filter((view) => view.stream === stream.name).map(viewInfo),
  };
}

export function catalogInfo(catalog: Catalog): StreamInfo[] {
  return catalog.streams.map((stream) => streamInfo(stream, catalog.views));
}

/**
 * The parts of a view's definition that decide what it computes, each as canonical JSON. Two views
 * of the same name are "unchanged" when every part is equal.
 */
export function viewDefinition(view: View): Record<string, string> {
  const info = viewInfo(view);
  return {
    version: String(info.version),
    stream: info.stream,
    bucket: info.bucket,
    dimensions: canonicalJson(info.dimensions),
    filter: canonicalJson(info.filter),
    sessionize: canonicalJson(info.sessionize),
    // By name: the declared order is display order, which the fingerprint leaves out too.
    measures: canonicalJson(
      Object.values(view.measures)
        .sort((a, b) => (a.name < b.name ? -1 : 1))
        .map((m) => ({
          name: m.name,
          kind: m.kind,
          version: m.version,
          field: m.field,
          where: m.where,
          qs: m.qs,
          k: m.k,
        })),
    ),
  };
}

/** `count`, `avg(temperature_c)`, `p50/p95(latency_ms)`, `top10(page_id)`, with ` where …` when filtered. */
export function describeMeasure(measure: MeasureInfo): string {
  let text: string;
  if (measure.kind === 'quantiles' && measure.qs) {
    text = `${measure.qs.map((q) => `p${Math.round(q * 1000) / 10}`).join('/')}(${measure.field})`;
  } else if (measure.kind === 'topK') {
    text = `top${measure.k ?? ''}(${measure.field})`;
  } else {
    text = measure.field === null ? measure.kind : `${measure.kind}(${measure.field})`;
  }
  return `${measure.name}=${text}${measure.where === null ? '' : ' where …'}`;
}

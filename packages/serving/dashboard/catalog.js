// What the dashboard knows about the deployment: its streams and the views over each, read from
// `GET /v1/streams` (or, from a server without it, `GET /v1/views`), and the choices that follow
// from a view: which values can be charted, which are picked by default, how each is drawn, and
// which granularity suits a range. Nothing here touches the DOM.

import { formatDecimal, formatInteger, formatMs, formatPercent, HOUR_MS, MINUTE_MS } from './format.js';

/** The web stream's overview: today's three charts of `endpoint_hourly`, kept as they were. */
export const WEB_OVERVIEW = {
  stream: 'events',
  view: 'endpoint_hourly',
  values: ['requests', 'errors_5xx', 'p95_latency_ms'],
};

/**
 * How the web overview draws its values: fixed element ids (bookmarks, the browser test), and the
 * 5xx count shown as a rate of requests.
 * @type {Record<string, Partial<ChartSpec>>}
 */
const WEB_OVERVIEW_CHARTS = {
  requests: { id: 'chart-requests', label: 'Requests', column: 'Requests', kind: 'bars', unit: 'per bucket' },
  errors_5xx: {
    id: 'chart-error-rate',
    label: '5xx rate',
    column: '5xx',
    unit: '% of requests',
    kind: 'line',
    rateOf: 'requests',
    rateMetric: 'error_rate',
    color: '#dc2626',
  },
  p95_latency_ms: {
    id: 'chart-p95',
    label: 'p95 latency',
    column: 'p95',
    unit: 'ms',
    kind: 'line',
    color: '#0f766e',
  },
};

const PALETTE = ['#2563eb', '#dc2626', '#0f766e', '#7c3aed', '#b45309', '#0369a1', '#be185d', '#4d7c0f'];

/** Measure kinds whose empty value is 0 (no events counted), not null (nothing to average). */
const ZERO_KINDS = new Set(['count', 'sum', 'distinct']);

/**
 * @typedef {object} ValueInfo
 * @property {string} name finished value name (`p95_latency_ms`)
 * @property {string} measure the measure that yields it (`latency_ms`)
 * @property {string} kind the measure's kind (`quantiles`)
 */
/**
 * @typedef {object} DimensionInfo
 * @property {string} name
 * @property {string} type
 * @property {string} parameter the query parameter that filters on it
 */
/**
 * @typedef {object} ViewInfo
 * @property {string} name
 * @property {string} stream
 * @property {string} bucket
 * @property {string[]} granularities
 * @property {DimensionInfo[]} dimensions
 * @property {ValueInfo[]} values the values that are single numbers, in the view's order
 * @property {boolean} hasTop whether `/top` ranks its dimensions (the filter picker's source)
 */
/**
 * @typedef {object} StreamInfo
 * @property {string} name
 * @property {string | null} topic
 * @property {ViewInfo[]} views
 */
/**
 * @typedef {object} ChartSpec
 * @property {string} id element id of the chart card
 * @property {string} value the value it plots (the rate's numerator for a rate chart)
 * @property {string} label
 * @property {string} column the table's heading of the value
 * @property {string} unit shown beside the label
 * @property {'bars' | 'line'} kind
 * @property {string} color
 * @property {(v: number | null) => string} format
 * @property {boolean} integer whole-number ticks
 * @property {string | null} rateOf plot 100 × value / this value instead of the value
 * @property {string | null} rateMetric the rate's column name in the table
 */

/** @param {unknown} value @returns {string[]} */
function strings(value) {
  return Array.isArray(value) ? value.filter((item) => typeof item === 'string') : [];
}

/**
 * Granularities a view of this bucket answers (the server lists them; this is for older servers).
 * @param {string} bucket
 */
function granularitiesOf(bucket) {
  const all = ['1m', '5m', '15m', '30m', '1h', '1d', 'all'];
  const index = all.indexOf(bucket);
  return index < 0 ? ['1h', '1d', 'all'] : all.slice(index);
}

/**
 * A view entry of `/v1/streams` (or `/v1/views`) as the dashboard uses it.
 * @param {any} raw
 * @param {string} stream
 * @returns {ViewInfo}
 */
function viewInfo(raw, stream) {
  /** @type {ValueInfo[]} */
  const values = [];
  const numeric = Array.isArray(raw?.numericValues) ? new Set(strings(raw.numericValues)) : null;
  for (const measure of Array.isArray(raw?.measures) ? raw.measures : []) {
    if (typeof measure === 'string') {
      values.push({ name: measure, measure, kind: 'unknown' });
      continue;
    }
    const kind = String(measure?.kind ?? 'unknown');
    if (kind === 'topK') continue;
    for (const name of strings(measure?.values ?? [measure?.name])) {
      if (numeric === null || numeric.has(name)) values.push({ name, measure: String(measure.name), kind });
    }
  }
  const dimensions = (Array.isArray(raw?.dimensions) ? raw.dimensions : []).map((/** @type {any} */ d) =>
    typeof d === 'string'
      ? { name: d, type: 'string', parameter: d }
      : { name: String(d.name), type: String(d.type ?? 'string'), parameter: String(d.parameter ?? d.name) },
  );
  const bucket = String(raw?.bucket ?? '1h');
  const granularities = strings(raw?.granularities);
  return {
    name: String(raw?.name),
    stream,
    bucket,
    granularities: granularities.length > 0 ? granularities : granularitiesOf(bucket),
    dimensions,
    values,
    hasTop:
      raw?.routes !== undefined
        ? typeof raw.routes?.top === 'string'
        : dimensions.length > 0 && values.length > 0,
  };
}

/**
 * The catalog from a `/v1/streams` answer.
 * @param {any} body
 * @returns {StreamInfo[]}
 */
export function catalogFromStreams(body) {
  const streams = Array.isArray(body?.streams) ? body.streams : [];
  return streams.map((/** @type {any} */ stream) => ({
    name: String(stream.name),
    topic: typeof stream.topic === 'string' ? stream.topic : null,
    views: (Array.isArray(stream.views) ? stream.views : []).map((/** @type {any} */ view) =>
      viewInfo(view, String(stream.name)),
    ),
  }));
}

/**
 * The catalog from a `/v1/views` answer, for a server without `/v1/streams`: views grouped by
 * the stream each names (the web stream when none).
 * @param {any} body
 * @returns {StreamInfo[]}
 */
export function catalogFromViews(body) {
  const list = Array.isArray(body) ? body : (body?.views ?? []);
  /** @type {Map<string, StreamInfo>} */
  const streams = new Map();
  for (const raw of list) {
    const name = typeof raw?.stream === 'string' ? raw.stream : WEB_OVERVIEW.stream;
    let stream = streams.get(name);
    if (!stream) {
      stream = { name, topic: null, views: [] };
      streams.set(name, stream);
    }
    stream.views.push(viewInfo(raw, name));
  }
  return [...streams.values()];
}

/**
 * The view shown when nothing is chosen: the web overview when the deployment has it, else the
 * first view with something to chart.
 * @param {StreamInfo[]} catalog
 * @returns {ViewInfo | null}
 */
export function defaultView(catalog) {
  const views = catalog.flatMap((stream) => stream.views);
  return (
    views.find((view) => view.name === WEB_OVERVIEW.view && view.stream === WEB_OVERVIEW.stream) ??
    views.find((view) => view.values.length > 0) ??
    views[0] ??
    null
  );
}

/**
 * A stream's default view: the web overview for the web stream, else its first chartable view.
 * @param {StreamInfo} stream
 */
export function defaultViewOf(stream) {
  return (
    stream.views.find((view) => view.name === WEB_OVERVIEW.view) ??
    stream.views.find((view) => view.values.length > 0) ??
    stream.views[0] ??
    null
  );
}

/**
 * The values charted when a view is picked: the web overview's three, else the view's first three.
 * @param {ViewInfo} view
 * @returns {string[]}
 */
export function defaultValues(view) {
  const names = view.values.map((value) => value.name);
  if (view.name === WEB_OVERVIEW.view) {
    const preset = WEB_OVERVIEW.values.filter((name) => names.includes(name));
    if (preset.length > 0) return preset;
  }
  return names.slice(0, 3);
}

/** `avg_temperature_c` → `Avg temperature c`. @param {string} name */
export function humanize(name) {
  const text = name.replace(/_/g, ' ').trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * How to draw each chosen value of a view, in the view's order.
 * @param {ViewInfo} view
 * @param {string[]} chosen
 * @returns {ChartSpec[]}
 */
export function chartSpecs(view, chosen) {
  const names = view.values.map((value) => value.name);
  const preset = view.name === WEB_OVERVIEW.view && view.stream === WEB_OVERVIEW.stream;
  return view.values
    .filter((value) => chosen.includes(value.name))
    .map((value) => {
      const index = names.indexOf(value.name);
      const counted = ZERO_KINDS.has(value.kind) && value.kind !== 'sum';
      const ms = /(^|_)ms$/.test(value.name) || /_ms_/.test(value.name);
      /** @type {ChartSpec} */
      const spec = {
        id: `chart-${value.name}`,
        value: value.name,
        // The value's own name: what the measure picker, the API and the config file call it.
        label: value.name,
        column: value.name,
        unit: ms ? 'ms' : counted ? 'per bucket' : '',
        kind: counted ? 'bars' : 'line',
        color: PALETTE[index % PALETTE.length] ?? '#2563eb',
        format: counted ? formatInteger : ms ? formatMs : formatDecimal,
        integer: counted,
        rateOf: null,
        rateMetric: null,
      };
      const override = preset ? WEB_OVERVIEW_CHARTS[value.name] : undefined;
      if (!override) return spec;
      const merged = { ...spec, ...override };
      if (merged.rateOf && !names.includes(merged.rateOf)) {
        return { ...merged, label: value.name, column: value.name, unit: '', rateOf: null, rateMetric: null };
      }
      if (merged.rateOf) merged.format = formatPercent;
      return merged;
    });
}

/**
 * Values whose empty bucket is 0 rather than null (counts, sums, distinct counts).
 * @param {ViewInfo} view
 */
export function zeroValues(view) {
  return new Set(view.values.filter((value) => ZERO_KINDS.has(value.kind)).map((value) => value.name));
}

const GRANULARITY_MS = {
  '1m': MINUTE_MS,
  '5m': 5 * MINUTE_MS,
  '15m': 15 * MINUTE_MS,
  '30m': 30 * MINUTE_MS,
  '1h': HOUR_MS,
  '1d': 24 * HOUR_MS,
};

/** Most buckets a chart shows; finer granularities give way to coarser ones past it. */
export const MAX_BUCKETS = 400;

/**
 * The finest granularity of the view that keeps the range within MAX_BUCKETS (hourly up to a
 * week, as the web overview always was; daily beyond).
 * @param {ViewInfo} view
 * @param {number} from
 * @param {number} to
 * @returns {{ granularity: string, bucketMs: number }}
 */
export function pickGranularity(view, from, to) {
  const span = Math.max(1, to - from);
  for (const granularity of view.granularities) {
    const bucketMs = GRANULARITY_MS[/** @type {keyof typeof GRANULARITY_MS} */ (granularity)];
    if (bucketMs === undefined) continue;
    if (granularity === '1h' && span > 7 * 24 * HOUR_MS) continue;
    if (span / bucketMs <= MAX_BUCKETS || granularity === '1d') return { granularity, bucketMs };
  }
  return { granularity: '1d', bucketMs: 24 * HOUR_MS };
}

/** `per minute`, `per 5 minutes`, `per hour`, `per day`. @param {number} bucketMs */
export function bucketUnit(bucketMs) {
  if (bucketMs === HOUR_MS) return 'per hour';
  if (bucketMs === 24 * HOUR_MS) return 'per day';
  if (bucketMs === MINUTE_MS) return 'per minute';
  return `per ${Math.round(bucketMs / MINUTE_MS)} minutes`;
}

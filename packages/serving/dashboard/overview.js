// The overview panel: requests, 5xx rate and p95 latency of `endpoint_hourly` for a range, all
// endpoints or one, as charts shaded by each bucket's source plus a table of the same numbers.

import { ApiError, getJson } from './api.js';
import { createChart } from './chart.js';
import { $, h, setRows } from './dom.js';
import {
  formatDuration,
  formatInteger,
  formatMs,
  formatPercent,
  formatTime,
  fromInputValue,
  HOUR_MS,
  isNumber,
  toInputValue,
  toMs,
} from './format.js';

export const OVERVIEW_VIEW = 'endpoint_hourly';

/**
 * Measure names of the overview's three metrics, found by name in `/v1/views` so a renamed
 * measure is picked up; these are the built-in view's names.
 */
const DEFAULT_MEASURES = { requests: 'requests', errors: 'errors_5xx', p95: 'p95_latency_ms' };

/** @typedef {import('./chart.js').Source} Source */
/**
 * @typedef {object} OverviewRow
 * @property {number} t bucket start, epoch ms
 * @property {Source} source
 * @property {string | null} runId
 * @property {number | null} requests
 * @property {number | null} errors
 * @property {number | null} errorRate percent
 * @property {number | null} p95
 */

/**
 * Pick the values the overview plots out of a `/v1/views` entry: measure names and finished value
 * names (a quantiles measure yields `p95_…`), given as strings, `{ name, outputs }` objects or a
 * record keyed by name. `confirmed` is false when a name was not found, and then the series query
 * asks for every value rather than risk a 400 for an unknown measure.
 * @param {any} view
 */
export function resolveMeasures(view) {
  /** @type {string[]} */
  const names = [];
  /** @param {unknown} list */
  const collect = (list) => {
    if (Array.isArray(list)) {
      for (const m of list) {
        if (typeof m === 'string') names.push(m);
        else if (m && typeof m === 'object') {
          if (typeof m.name === 'string') names.push(m.name);
          collect(m.outputs ?? m.values);
        }
      }
    } else if (list && typeof list === 'object') {
      for (const [name, m] of Object.entries(list)) {
        names.push(name);
        collect(/** @type {any} */ (m)?.outputs ?? /** @type {any} */ (m)?.values);
      }
    }
  };
  collect(view?.measures);
  collect(view?.outputs ?? view?.values);
  /** @param {string} preferred @param {RegExp} pattern */
  const find = (preferred, pattern) =>
    names.includes(preferred) ? preferred : names.find((n) => pattern.test(n));
  const requests = find(DEFAULT_MEASURES.requests, /^(requests|request_count|count)$/i);
  const errors = find(DEFAULT_MEASURES.errors, /5xx/i);
  const p95 = find(DEFAULT_MEASURES.p95, /p95/i);
  return {
    requests: requests ?? DEFAULT_MEASURES.requests,
    errors: errors ?? DEFAULT_MEASURES.errors,
    p95: p95 ?? DEFAULT_MEASURES.p95,
    confirmed: requests !== undefined && errors !== undefined && p95 !== undefined,
  };
}

/**
 * The hours a preset range covers: the current hour included, so the live edge is on screen.
 * @param {string} preset e.g. `24h`
 * @param {number} now epoch ms
 */
export function presetRange(preset, now) {
  const hours = Number.parseInt(preset, 10) || 24;
  const to = Math.floor(now / HOUR_MS) * HOUR_MS + HOUR_MS;
  return { from: to - hours * HOUR_MS, to };
}

/**
 * Turn a series response into one row per bucket of the range. Buckets come from `coverage` (every
 * base bucket of the range) and, for anything coverage lacks, from the points themselves.
 * @param {any} body the `/series` response
 * @param {{ requests: string, errors: string, p95: string }} measures
 * @param {number} bucketMs output bucket width (the API's granularity)
 * @returns {OverviewRow[]}
 */
export function rowsFromSeries(body, measures, bucketMs) {
  const from = toMs(body.from);
  const to = toMs(body.to);
  /** @type {Map<number, OverviewRow>} */
  const rows = new Map();
  /** @param {number} t */
  const rowAt = (t) => {
    let row = rows.get(t);
    if (!row) {
      row = { t, source: 'none', runId: null, requests: null, errors: null, errorRate: null, p95: null };
      rows.set(t, row);
    }
    return row;
  };
  if (from !== null && to !== null && to > from && (to - from) / bucketMs <= 5000) {
    for (let t = from; t < to; t += bucketMs) rowAt(t);
  }
  // Coverage lists base hours; an output bucket spanning several is `mixed` when they differ.
  /** @type {Map<number, Set<Source>>} */
  const hourSources = new Map();
  for (const cover of Array.isArray(body.coverage) ? body.coverage : []) {
    const hour = toMs(cover.bucket);
    if (hour === null) continue;
    const t = from === null ? hour : from + Math.floor((hour - from) / bucketMs) * bucketMs;
    const sources = hourSources.get(t) ?? new Set();
    sources.add(normalizeSource(cover.source));
    hourSources.set(t, sources);
    if (bucketMs === HOUR_MS && cover.runId) rowAt(t).runId = cover.runId;
  }
  for (const [t, sources] of hourSources) {
    const row = rowAt(t);
    const served = [...sources].filter((source) => source !== 'none');
    row.source = served.length === 0 ? 'none' : sources.size === 1 ? (served[0] ?? 'none') : 'mixed';
    // A served bucket without a point had no events: zero requests, not missing data.
    if (served.length > 0) {
      row.requests = 0;
      row.errors = 0;
    }
  }
  const series = Array.isArray(body.series) ? body.series : [];
  // Without groupBy the API merges every endpoint into one series; more than one means it grouped,
  // and then only the additive measures can be combined here.
  const single = series.length <= 1;
  for (const s of series) {
    for (const point of Array.isArray(s.points) ? s.points : []) {
      const t = toMs(point.bucket);
      if (t === null) continue;
      const values = point.values ?? {};
      const row = rowAt(t);
      if (point.source) row.source = normalizeSource(point.source);
      const requests = values[measures.requests];
      const errors = values[measures.errors];
      if (isNumber(requests)) row.requests = (row.requests ?? 0) + requests;
      if (isNumber(errors)) row.errors = (row.errors ?? 0) + errors;
      if (single && isNumber(values[measures.p95])) row.p95 = values[measures.p95];
    }
  }
  for (const row of rows.values()) {
    row.errorRate =
      isNumber(row.requests) && row.requests > 0 && isNumber(row.errors)
        ? (100 * row.errors) / row.requests
        : null;
  }
  return [...rows.values()].sort((a, b) => a.t - b.t);
}

/**
 * @param {unknown} source
 * @returns {Source}
 */
function normalizeSource(source) {
  return source === 'batch' || source === 'speed' || source === 'mixed' ? source : 'none';
}

/**
 * @param {number} ms
 */
function bucketLabel(ms) {
  return formatTime(ms);
}

/**
 * @param {OverviewRow} row
 * @param {Array<[string, number | null, (v: number | null) => string]>} cells metric name, value, format
 */
function tableRow(row, cells) {
  return h('tr', { 'data-bucket': new Date(row.t).toISOString(), 'data-source': row.source }, [
    h('th', { scope: 'row' }, [h('time', { datetime: new Date(row.t).toISOString() }, [bucketLabel(row.t)])]),
    h('td', {}, [h('span', { class: `source source-${row.source}` }, [row.source])]),
    ...cells.map(([metric, value, format]) =>
      h('td', { class: 'num', 'data-metric': metric, 'data-value': isNumber(value) ? value : '' }, [
        format(value),
      ]),
    ),
  ]);
}

/**
 * @param {{ onError: (error: unknown) => void, onSuccess: () => void }} hooks
 */
export function createOverview(hooks) {
  const form = /** @type {HTMLFormElement} */ ($('#overview-controls'));
  const rangeSelect = /** @type {HTMLSelectElement} */ ($('#range-select'));
  const fromInput = /** @type {HTMLInputElement} */ ($('#from-input'));
  const toInput = /** @type {HTMLInputElement} */ ($('#to-input'));
  const endpointSelect = /** @type {HTMLSelectElement} */ ($('#endpoint-select'));
  const errorLine = $('#overview-error');
  const customLabels = /** @type {HTMLElement[]} */ ([...document.querySelectorAll('.custom-range')]);

  const charts = {
    requests: createChart($('#chart-requests .plot'), {
      label: 'Requests',
      color: '#2563eb',
      kind: 'bars',
      format: formatInteger,
      integer: true,
    }),
    errorRate: createChart($('#chart-error-rate .plot'), {
      label: '5xx rate',
      color: '#dc2626',
      kind: 'line',
      format: formatPercent,
    }),
    p95: createChart($('#chart-p95 .plot'), {
      label: 'p95',
      color: '#0f766e',
      kind: 'line',
      format: formatMs,
    }),
  };

  let measures = { ...DEFAULT_MEASURES, confirmed: false };
  /** @type {{ preset: string, from: number | null, to: number | null, endpoint: string }} */
  let applied = { preset: rangeSelect.value, from: null, to: null, endpoint: '' };
  /** @type {AbortController | null} */
  let inFlight = null;
  let endpointsLoadedAt = 0;

  function showCustom() {
    const custom = rangeSelect.value === 'custom';
    for (const label of customLabels) label.hidden = !custom;
    if (custom && !fromInput.value) {
      const { from, to } = presetRange('24h', Date.now());
      fromInput.value = toInputValue(from);
      toInput.value = toInputValue(to);
    }
  }
  rangeSelect.addEventListener('change', () => {
    showCustom();
    if (rangeSelect.value !== 'custom') form.requestSubmit();
  });
  // A new endpoint applies at once; a custom range waits for Apply, since it takes two inputs.
  endpointSelect.addEventListener('change', () => {
    if (rangeSelect.value !== 'custom') form.requestSubmit();
  });
  showCustom();

  /** @type {() => void} */
  let onApply = () => {};
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const preset = rangeSelect.value;
    const from = fromInputValue(fromInput.value);
    const to = fromInputValue(toInput.value);
    if (preset === 'custom' && (from === null || to === null || from >= to)) {
      errorLine.textContent = 'Pick a custom range whose start is before its end.';
      errorLine.hidden = false;
      return;
    }
    applied = { preset, from, to, endpoint: endpointSelect.value };
    onApply();
  });

  function currentRange() {
    if (applied.preset === 'custom' && applied.from !== null && applied.to !== null) {
      return { from: applied.from, to: applied.to };
    }
    return presetRange(applied.preset, Date.now());
  }

  /** @param {any} viewsBody the `/v1/views` response */
  function setViews(viewsBody) {
    const list = Array.isArray(viewsBody) ? viewsBody : (viewsBody?.views ?? []);
    const view = list.find((/** @type {any} */ v) => v?.name === OVERVIEW_VIEW);
    if (view) measures = resolveMeasures(view);
  }

  /**
   * Endpoints of the last 7 days, busiest first, for the picker; refreshed at most once a minute.
   * @param {AbortSignal} signal
   */
  async function loadEndpoints(signal) {
    if (Date.now() - endpointsLoadedAt < 60_000) return;
    const to = presetRange('1h', Date.now()).to;
    const body = await getJson(
      `/v1/views/${OVERVIEW_VIEW}/top`,
      {
        from: new Date(to - 168 * HOUR_MS).toISOString(),
        to: new Date(to).toISOString(),
        by: measures.confirmed ? measures.requests : undefined,
        k: 50,
      },
      signal,
    );
    endpointsLoadedAt = Date.now();
    const items = Array.isArray(body) ? body : (body.items ?? body.top ?? body.values ?? []);
    /** @type {string[]} */
    const endpoints = [];
    for (const item of items) {
      const value = item?.dims?.endpoint ?? item?.endpoint ?? item?.key ?? item?.value;
      if (typeof value === 'string' && !endpoints.includes(value)) endpoints.push(value);
    }
    if (applied.endpoint && !endpoints.includes(applied.endpoint)) endpoints.unshift(applied.endpoint);
    const selected = endpointSelect.value;
    endpointSelect.replaceChildren(
      h('option', { value: '' }, ['All endpoints']),
      ...endpoints.map((e) => h('option', { value: e }, [e])),
    );
    endpointSelect.value = endpoints.includes(selected) ? selected : '';
  }

  async function refresh() {
    inFlight?.abort();
    const controller = new AbortController();
    inFlight = controller;
    const { from, to } = currentRange();
    // Hourly up to a week (168 points); daily beyond, so long custom ranges stay readable.
    const daily = to - from > 7 * 24 * HOUR_MS;
    const bucketMs = daily ? 24 * HOUR_MS : HOUR_MS;
    try {
      const body = await getJson(
        `/v1/views/${OVERVIEW_VIEW}/series`,
        {
          from: new Date(from).toISOString(),
          to: new Date(to).toISOString(),
          granularity: daily ? '1d' : '1h',
          // The API groups by every dimension unless told otherwise; one merged series keeps p95 exact.
          groupBy: 'none',
          measures: measures.confirmed
            ? [measures.requests, measures.errors, measures.p95].join(',')
            : undefined,
          endpoint: applied.endpoint || undefined,
        },
        controller.signal,
      );
      render(body, from, to, bucketMs);
      errorLine.hidden = true;
      hooks.onSuccess();
      loadEndpoints(controller.signal).catch(() => {
        // The picker keeps its last list; the charts already say whether the API answers.
      });
    } catch (error) {
      if (controller.signal.aborted) return;
      // A missing key is said once, by the banner and the key dialog, not by every panel.
      errorLine.hidden = error instanceof ApiError && error.status === 401;
      errorLine.textContent = `Overview: ${error instanceof Error ? error.message : String(error)}`;
      hooks.onError(error);
    } finally {
      if (inFlight === controller) inFlight = null;
    }
  }

  /**
   * @param {any} body
   * @param {number} from
   * @param {number} to
   * @param {number} bucketMs
   */
  function render(body, from, to, bucketMs) {
    const rows = rowsFromSeries(body, measures, bucketMs);
    for (const unit of document.querySelectorAll('.bucket-unit')) {
      unit.textContent = bucketMs === HOUR_MS ? 'per hour' : 'per day';
    }
    const sealedThroughMs = toMs(body.sealedThrough);
    const speedWatermarkMs = toMs(body.speedWatermark);
    const rangeFrom = toMs(body.from) ?? from;
    const rangeTo = toMs(body.to) ?? to;

    /** @param {(row: OverviewRow) => number | null} pick */
    const model = (pick) => ({
      fromMs: rangeFrom,
      toMs: rangeTo,
      bucketMs,
      sealedThroughMs,
      buckets: rows.map((row) => ({ t: row.t, source: row.source, value: pick(row) })),
    });
    charts.requests.update(model((r) => r.requests));
    charts.errorRate.update(model((r) => r.errorRate));
    charts.p95.update(model((r) => r.p95));

    const tables = {
      requests: /** @type {HTMLTableSectionElement} */ ($('#chart-requests .series-table tbody')),
      errorRate: /** @type {HTMLTableSectionElement} */ ($('#chart-error-rate .series-table tbody')),
      p95: /** @type {HTMLTableSectionElement} */ ($('#chart-p95 .series-table tbody')),
    };
    // Newest first: the live edge is what people look for.
    const newestFirst = [...rows].reverse();
    setRows(
      tables.requests,
      newestFirst.map((row) => tableRow(row, [['requests', row.requests, formatInteger]])),
      'No buckets in this range',
    );
    setRows(
      tables.errorRate,
      newestFirst.map((row) =>
        tableRow(row, [
          ['errors_5xx', row.errors, formatInteger],
          ['error_rate', row.errorRate, formatPercent],
        ]),
      ),
      'No buckets in this range',
    );
    setRows(
      tables.p95,
      newestFirst.map((row) => tableRow(row, [['p95_latency_ms', row.p95, formatMs]])),
      'No buckets in this range',
    );

    for (const count of document.querySelectorAll('[data-source-count]')) {
      const source = /** @type {HTMLElement} */ (count).dataset.sourceCount;
      const n = rows.filter((row) => row.source === source).length;
      count.textContent = n > 0 ? `(${n})` : '';
    }

    const sealed = $('#overview-sealed-through');
    sealed.dataset.value = sealedThroughMs === null ? '' : new Date(sealedThroughMs).toISOString();
    sealed.textContent = sealedThroughMs === null ? 'nothing sealed yet' : formatTime(sealedThroughMs);
    const watermark = $('#overview-speed-watermark');
    watermark.dataset.value = speedWatermarkMs === null ? '' : new Date(speedWatermarkMs).toISOString();
    watermark.textContent = speedWatermarkMs === null ? '—' : formatTime(speedWatermarkMs, { seconds: true });
    $('#overview-freshness').textContent = isNumber(body.freshnessMs)
      ? `${formatDuration(body.freshnessMs)}${body.complete ? ', complete' : ''}`
      : '—';
    const range = $('#overview-range');
    range.dataset.from = new Date(rangeFrom).toISOString();
    range.dataset.to = new Date(rangeTo).toISOString();
    range.textContent = `${formatTime(rangeFrom)} – ${formatTime(rangeTo, { short: true })}${
      applied.endpoint ? ` · ${applied.endpoint}` : ''
    }`;
    $('#overview').dataset.updatedAt = new Date().toISOString();
  }

  return {
    refresh,
    setViews,
    /** @param {() => void} listener called when the user applies new controls */
    onApply(listener) {
      onApply = listener;
    },
  };
}

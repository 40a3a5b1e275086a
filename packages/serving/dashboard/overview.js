// The overview panel: any view of any stream over a range — the measures a person picks, for all
// values of a dimension or one — as charts shaded by each bucket's source plus a table of the same
// numbers. The web stream's `endpoint_hourly` opens by default with today's three charts
// (requests, 5xx rate, p95 latency). The choice is kept in the page's URL, so a link shows it again.

import { ApiError, getJson } from './api.js';
import {
  bucketUnit,
  chartSpecs,
  defaultValues,
  defaultView,
  defaultViewOf,
  humanize,
  pickGranularity,
  zeroValues,
} from './catalog.js';
import { createChart } from './chart.js';
import { $, h, setRows } from './dom.js';
import {
  formatDuration,
  formatInteger,
  formatTime,
  fromInputValue,
  HOUR_MS,
  isNumber,
  toInputValue,
  toMs,
} from './format.js';

/** @typedef {import('./chart.js').Source} Source */
/** @typedef {import('./catalog.js').StreamInfo} StreamInfo */
/** @typedef {import('./catalog.js').ViewInfo} ViewInfo */
/** @typedef {import('./catalog.js').ChartSpec} ChartSpec */
/**
 * @typedef {object} OverviewRow
 * @property {number} t bucket start, epoch ms
 * @property {Source} source
 * @property {string | null} runId
 * @property {Record<string, number | null>} values by value name
 */
/**
 * @typedef {object} Selection
 * @property {string} stream
 * @property {string} view
 * @property {string} preset range preset (`24h`) or `custom`
 * @property {number | null} from custom range start
 * @property {number | null} to custom range end
 * @property {string} dimension the filtered dimension ('' when none)
 * @property {string} value its value ('' for all)
 * @property {string[]} values the values charted
 */

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
 * base hour of the range) and the points. A served bucket without a point had no events: its
 * counts are 0 (`zeros`), its averages and percentiles null; a bucket nobody served is all null.
 * @param {any} body the `/series` response
 * @param {string[]} names the values to read
 * @param {number} bucketMs output bucket width (the API's granularity)
 * @param {Set<string>} zeros values that are 0 in an empty served bucket
 * @returns {OverviewRow[]}
 */
export function rowsFromSeries(body, names, bucketMs, zeros) {
  const from = toMs(body.from);
  const to = toMs(body.to);
  /** @type {Map<number, OverviewRow>} */
  const rows = new Map();
  /** @param {number} t */
  const rowAt = (t) => {
    let row = rows.get(t);
    if (!row) {
      row = { t, source: 'none', runId: null, values: Object.fromEntries(names.map((n) => [n, null])) };
      rows.set(t, row);
    }
    return row;
  };
  if (from !== null && to !== null && to > from && (to - from) / bucketMs <= 5000) {
    for (let t = from; t < to; t += bucketMs) rowAt(t);
  }
  // Coverage lists base hours; an output bucket spanning several is `mixed` when they differ, and
  // the buckets inside one hour share its source.
  /** @type {Map<number, Set<Source>>} */
  const hourSources = new Map();
  /** @type {Map<number, Source>} */
  const byHour = new Map();
  for (const cover of Array.isArray(body.coverage) ? body.coverage : []) {
    const hour = toMs(cover.bucket);
    if (hour === null) continue;
    byHour.set(hour, normalizeSource(cover.source));
    if (bucketMs < HOUR_MS) continue;
    const t = from === null ? hour : from + Math.floor((hour - from) / bucketMs) * bucketMs;
    const sources = hourSources.get(t) ?? new Set();
    sources.add(normalizeSource(cover.source));
    hourSources.set(t, sources);
    if (bucketMs === HOUR_MS && cover.runId) rowAt(t).runId = cover.runId;
  }
  if (bucketMs < HOUR_MS) {
    for (const row of rows.values()) {
      const source = byHour.get(Math.floor(row.t / HOUR_MS) * HOUR_MS);
      if (source) hourSources.set(row.t, new Set([source]));
    }
  }
  for (const [t, sources] of hourSources) {
    const row = rowAt(t);
    const served = [...sources].filter((source) => source !== 'none');
    row.source = served.length === 0 ? 'none' : sources.size === 1 ? (served[0] ?? 'none') : 'mixed';
    if (served.length > 0) for (const name of names) if (zeros.has(name)) row.values[name] = 0;
  }
  const series = Array.isArray(body.series) ? body.series : [];
  // Without groupBy the API merges every dimension value into one series; more than one means it
  // grouped, and then only the additive values can be combined here.
  const single = series.length <= 1;
  for (const s of series) {
    for (const point of Array.isArray(s.points) ? s.points : []) {
      const t = toMs(point.bucket);
      if (t === null) continue;
      const values = point.values ?? {};
      const row = rowAt(t);
      if (point.source) row.source = normalizeSource(point.source);
      for (const name of names) {
        const value = values[name];
        if (!isNumber(value)) continue;
        if (single) row.values[name] = value;
        else if (zeros.has(name)) row.values[name] = (row.values[name] ?? 0) + value;
      }
    }
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
 * The number a chart plots for a row: the value, or a rate of two values.
 * @param {ChartSpec} spec
 * @param {OverviewRow} row
 * @returns {number | null}
 */
function plotted(spec, row) {
  const value = row.values[spec.value] ?? null;
  if (!spec.rateOf) return value;
  const base = row.values[spec.rateOf] ?? null;
  return isNumber(base) && base > 0 && isNumber(value) ? (100 * value) / base : null;
}

/**
 * @param {OverviewRow} row
 * @param {Array<[string, number | null, (v: number | null) => string]>} cells metric name, value, format
 */
function tableRow(row, cells) {
  const bucket = new Date(row.t).toISOString();
  return h('tr', { 'data-bucket': bucket, 'data-source': row.source }, [
    h('th', { scope: 'row' }, [h('time', { datetime: bucket }, [formatTime(row.t)])]),
    h('td', {}, [
      h('span', { class: `source source-${row.source}` }, [row.source === 'none' ? 'no data' : row.source]),
    ]),
    ...cells.map(([metric, value, format]) =>
      h('td', { class: 'num', 'data-metric': metric, 'data-value': isNumber(value) ? value : '' }, [
        format(value),
      ]),
    ),
  ]);
}

/**
 * A chart card: caption, plot and a table of the same numbers.
 * @param {ChartSpec} spec
 */
function chartCard(spec) {
  const unit =
    spec.unit === 'per bucket'
      ? h('span', { class: 'muted bucket-unit' }, ['per hour'])
      : spec.unit
        ? h('span', { class: 'muted' }, [spec.unit])
        : null;
  const headers = spec.rateOf
    ? [
        h('th', { scope: 'col', class: 'num' }, [spec.column]),
        h('th', { scope: 'col', class: 'num' }, ['Rate']),
      ]
    : [h('th', { scope: 'col', class: 'num' }, [spec.column])];
  const card = h('figure', { class: 'chart-card', id: spec.id, 'data-metric': spec.value }, [
    h('figcaption', {}, [spec.label, unit ? ' ' : null, unit]),
    h('div', { class: 'plot', role: 'img', 'aria-label': 'Chart' }),
    h('details', {}, [
      h('summary', {}, ['Table']),
      h('div', { class: 'table-wrap' }, [
        h('table', { class: 'series-table' }, [
          h('caption', { class: 'visually-hidden' }, [`${spec.label} per bucket`]),
          h('thead', {}, [
            h('tr', {}, [
              h('th', { scope: 'col' }, ['Bucket (UTC)']),
              h('th', { scope: 'col' }, ['Source']),
              ...headers,
            ]),
          ]),
          h('tbody'),
        ]),
      ]),
    ]),
  ]);
  return card;
}

/**
 * @param {{ onError: (error: unknown) => void, onSuccess: () => void }} hooks
 */
export function createOverview(hooks) {
  const form = /** @type {HTMLFormElement} */ ($('#overview-controls'));
  const streamSelect = /** @type {HTMLSelectElement} */ ($('#stream-select'));
  const viewSelect = /** @type {HTMLSelectElement} */ ($('#view-select'));
  const rangeSelect = /** @type {HTMLSelectElement} */ ($('#range-select'));
  const fromInput = /** @type {HTMLInputElement} */ ($('#from-input'));
  const toInput = /** @type {HTMLInputElement} */ ($('#to-input'));
  const dimensionSelect = /** @type {HTMLSelectElement} */ ($('#filter-dimension'));
  const valueSelect = /** @type {HTMLSelectElement} */ ($('#filter-value'));
  const measureOptions = $('#measure-picker .measure-options');
  const chartsRoot = $('#charts');
  const errorLine = $('#overview-error');
  const customLabels = /** @type {HTMLElement[]} */ ([...document.querySelectorAll('.custom-range')]);

  /** @type {StreamInfo[]} */
  let catalog = [];
  /** @type {Selection} */
  let applied = {
    stream: '',
    view: '',
    preset: rangeSelect.value,
    from: null,
    to: null,
    dimension: '',
    value: '',
    values: [],
  };
  /** @type {AbortController | null} */
  let inFlight = null;
  /** When the filter values were last read, per view and dimension. */
  let filterValuesKey = '';
  let filterValuesAt = 0;
  /** @type {{ key: string, charts: Array<{ spec: ChartSpec, chart: ReturnType<typeof createChart> }> }} */
  let built = { key: '', charts: [] };

  /** @returns {ViewInfo | null} */
  function viewOf(stream = streamSelect.value, view = viewSelect.value) {
    return catalog.find((s) => s.name === stream)?.views.find((v) => v.name === view) ?? null;
  }

  function showCustom() {
    const custom = rangeSelect.value === 'custom';
    for (const label of customLabels) label.hidden = !custom;
    if (custom && !fromInput.value) {
      const { from, to } = presetRange('24h', Date.now());
      fromInput.value = toInputValue(from);
      toInput.value = toInputValue(to);
    }
  }

  /** Fill the view picker with the stream's views. @param {string} selected */
  function fillViews(selected) {
    const stream = catalog.find((s) => s.name === streamSelect.value);
    const views = stream?.views ?? [];
    viewSelect.replaceChildren(...views.map((view) => h('option', { value: view.name }, [view.name])));
    viewSelect.value = views.some((view) => view.name === selected)
      ? selected
      : ((stream ? defaultViewOf(stream)?.name : '') ?? '');
  }

  /**
   * Fill the filter and measure pickers for a view.
   * @param {ViewInfo | null} view
   * @param {{ dimension?: string, value?: string, values?: string[] }} keep what to keep selected
   */
  function fillViewControls(view, keep = {}) {
    const dimensions = view?.hasTop ? view.dimensions : [];
    const dimensionLabel = /** @type {HTMLElement} */ (dimensionSelect.closest('label'));
    const valueLabel = /** @type {HTMLElement} */ (valueSelect.closest('label'));
    dimensionSelect.replaceChildren(
      ...dimensions.map((d) => h('option', { value: d.name }, [humanize(d.name)])),
    );
    const dimension = dimensions.find((d) => d.name === keep.dimension) ?? dimensions[0];
    dimensionSelect.value = dimension?.name ?? '';
    // One dimension needs no picker of its own: the value picker is labelled with it.
    dimensionLabel.hidden = dimensions.length < 2;
    valueLabel.hidden = dimensions.length === 0;
    setFilterValues(
      dimension?.name ?? '',
      keep.value && dimension?.name === keep.dimension ? [keep.value] : [],
    );
    valueSelect.value = keep.value && dimension?.name === keep.dimension ? keep.value : '';
    $('#filter-value-caption').textContent = dimension ? humanize(dimension.name) : 'Filter';

    const values = view?.values ?? [];
    const chosen = keep.values?.filter((name) => values.some((v) => v.name === name)) ?? [];
    const picked = chosen.length > 0 ? chosen : view ? defaultValues(view) : [];
    measureOptions.replaceChildren(
      ...values.map((value) =>
        h('label', { class: 'measure-option' }, [
          h('input', {
            type: 'checkbox',
            name: 'measure',
            value: value.name,
            checked: picked.includes(value.name),
          }),
          h('span', {}, [value.name]),
        ]),
      ),
    );
    /** @type {HTMLElement} */ ($('#measure-picker')).hidden = values.length === 0;
  }

  /**
   * Options of the value picker: "all", then `values` (kept selected ones first).
   * @param {string} dimension
   * @param {string[]} values
   */
  function setFilterValues(dimension, values) {
    const all = dimension ? `All ${humanize(dimension).toLowerCase()}s` : 'All';
    valueSelect.replaceChildren(
      h('option', { value: '' }, [all]),
      ...values.map((value) => h('option', { value }, [value])),
    );
  }

  function chosenValues() {
    return [
      .../** @type {NodeListOf<HTMLInputElement>} */ (measureOptions.querySelectorAll('input:checked')),
    ].map((input) => input.value);
  }

  /** @returns {Selection | null} */
  function readControls() {
    const preset = rangeSelect.value;
    const from = fromInputValue(fromInput.value);
    const to = fromInputValue(toInput.value);
    if (preset === 'custom' && (from === null || to === null || from >= to)) {
      errorLine.textContent = 'Pick a custom range whose start is before its end.';
      errorLine.hidden = false;
      return null;
    }
    const view = viewOf();
    const dimension = valueSelect.closest('label')?.hidden ? '' : dimensionSelect.value;
    return {
      stream: streamSelect.value,
      view: viewSelect.value,
      preset,
      from,
      to,
      dimension: dimension && valueSelect.value ? dimension : '',
      value: dimension ? valueSelect.value : '',
      values: view ? chosenValues() : [],
    };
  }

  /** Apply the controls at once, unless a custom range waits for its Apply button. */
  function applySoon() {
    if (rangeSelect.value !== 'custom') form.requestSubmit();
  }

  streamSelect.addEventListener('change', () => {
    fillViews('');
    fillViewControls(viewOf());
    applySoon();
  });
  viewSelect.addEventListener('change', () => {
    fillViewControls(viewOf());
    applySoon();
  });
  rangeSelect.addEventListener('change', () => {
    showCustom();
    applySoon();
  });
  dimensionSelect.addEventListener('change', () => {
    setFilterValues(dimensionSelect.value, []);
    filterValuesKey = '';
    applySoon();
  });
  // A new filter value or measure applies at once; a custom range waits for Apply (two inputs).
  valueSelect.addEventListener('change', applySoon);
  measureOptions.addEventListener('change', applySoon);
  showCustom();

  /** @type {() => void} */
  let onApply = () => {};
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = readControls();
    if (!next) return;
    applied = next;
    saveToUrl(applied);
    onApply();
  });

  /** @param {Selection} selection */
  function saveToUrl(selection) {
    const url = new URL(location.href);
    const params = url.searchParams;
    for (const name of ['stream', 'view', 'range', 'from', 'to', 'filter', 'measures']) params.delete(name);
    params.set('stream', selection.stream);
    params.set('view', selection.view);
    params.set('range', selection.preset);
    if (selection.preset === 'custom' && selection.from !== null && selection.to !== null) {
      params.set('from', new Date(selection.from).toISOString());
      params.set('to', new Date(selection.to).toISOString());
    }
    if (selection.dimension && selection.value)
      params.set('filter', `${selection.dimension}=${selection.value}`);
    params.set('measures', selection.values.join(','));
    history.replaceState(null, '', url);
  }

  /** The selection a link asks for, checked against the catalog. */
  function selectionFromUrl() {
    const params = new URLSearchParams(location.search);
    const filter = params.get('filter') ?? '';
    const at = filter.indexOf('=');
    return {
      stream: params.get('stream') ?? '',
      view: params.get('view') ?? '',
      range: params.get('range') ?? '',
      from: toMs(params.get('from')),
      to: toMs(params.get('to')),
      dimension: at > 0 ? filter.slice(0, at) : '',
      value: at > 0 ? filter.slice(at + 1) : '',
      values: (params.get('measures') ?? '').split(',').filter(Boolean),
    };
  }

  /**
   * Take the deployment's catalog; the first call also takes the selection from the URL.
   * @param {StreamInfo[]} next
   */
  function setCatalog(next) {
    const first = catalog.length === 0;
    catalog = next;
    const wanted = first ? selectionFromUrl() : { ...applied, range: applied.preset };
    const fallback = defaultView(catalog);
    const view = viewOf(wanted.stream, wanted.view) ?? fallback;
    streamSelect.replaceChildren(...catalog.map((s) => h('option', { value: s.name }, [s.name])));
    streamSelect.value = view?.stream ?? '';
    /** @type {HTMLElement} */ (streamSelect.closest('label')).hidden = catalog.length < 2;
    fillViews(view?.name ?? '');
    fillViewControls(view, view?.name === wanted.view ? wanted : {});
    if (first && [...rangeSelect.options].some((o) => o.value === wanted.range)) {
      rangeSelect.value = wanted.range;
      if (wanted.range === 'custom' && wanted.from !== null && wanted.to !== null) {
        fromInput.value = toInputValue(wanted.from);
        toInput.value = toInputValue(wanted.to);
      }
      showCustom();
    }
    applied = readControls() ?? applied;
  }

  function currentRange() {
    if (applied.preset === 'custom' && applied.from !== null && applied.to !== null) {
      return { from: applied.from, to: applied.to };
    }
    return presetRange(applied.preset, Date.now());
  }

  /**
   * Values of the filtered dimension over the last 7 days, largest first, for the picker;
   * refreshed at most once a minute.
   * @param {ViewInfo} view
   * @param {AbortSignal} signal
   */
  async function loadFilterValues(view, signal) {
    const dimension = dimensionSelect.value;
    if (!view.hasTop || !dimension) return;
    const key = `${view.stream}/${view.name}/${dimension}`;
    if (key === filterValuesKey && Date.now() - filterValuesAt < 60_000) return;
    const to = presetRange('1h', Date.now()).to;
    const by = view.values.find((value) => value.kind === 'count') ?? view.values[0];
    const body = await getJson(
      `/v1/views/${encodeURIComponent(view.name)}/top`,
      {
        from: new Date(to - 168 * HOUR_MS).toISOString(),
        to: new Date(to).toISOString(),
        by: by?.name,
        dimension,
        k: 50,
      },
      signal,
    );
    filterValuesKey = key;
    filterValuesAt = Date.now();
    const items = Array.isArray(body) ? body : (body.items ?? body.top ?? body.values ?? []);
    /** @type {string[]} */
    const values = [];
    for (const item of items) {
      const value = item?.dims?.[dimension] ?? item?.[dimension] ?? item?.key ?? item?.value;
      if ((typeof value === 'string' || typeof value === 'number') && !values.includes(String(value))) {
        values.push(String(value));
      }
    }
    if (applied.value && !values.includes(applied.value)) values.unshift(applied.value);
    const selected = valueSelect.value;
    setFilterValues(dimension, values);
    valueSelect.value = values.includes(selected) ? selected : '';
  }

  /**
   * Chart cards for the picked values, rebuilt only when the picks change.
   * @param {ViewInfo} view
   * @param {ChartSpec[]} specs
   */
  function ensureCharts(view, specs) {
    const key = `${view.stream}/${view.name}/${specs.map((spec) => spec.id).join(',')}`;
    if (built.key === key) return built.charts;
    for (const { chart } of built.charts) chart.destroy();
    const charts = specs.map((spec) => {
      const card = chartCard(spec);
      return { spec, card };
    });
    chartsRoot.replaceChildren(...charts.map(({ card }) => card));
    built = {
      key,
      charts: charts.map(({ spec, card }) => ({
        spec,
        chart: createChart($('.plot', card), {
          label: spec.label,
          color: spec.color,
          kind: spec.kind,
          format: spec.format,
          integer: spec.integer,
        }),
      })),
    };
    if (specs.length === 0) {
      chartsRoot.replaceChildren(
        h('p', { class: 'muted empty-charts' }, ['Pick at least one measure to chart.']),
      );
    }
    return built.charts;
  }

  async function refresh() {
    inFlight?.abort();
    const controller = new AbortController();
    inFlight = controller;
    const view = viewOf(applied.stream, applied.view);
    if (!view) {
      if (catalog.length > 0) {
        errorLine.textContent = 'This deployment has no view to show.';
        errorLine.hidden = false;
      }
      return;
    }
    const { from, to } = currentRange();
    const { granularity, bucketMs } = pickGranularity(view, from, to);
    const specs = chartSpecs(view, applied.values);
    // A rate needs its denominator even when that value is not charted itself.
    const names = [
      ...new Set(specs.flatMap((spec) => (spec.rateOf ? [spec.value, spec.rateOf] : [spec.value]))),
    ];
    const dimension = view.dimensions.find((d) => d.name === applied.dimension);
    try {
      const body = await getJson(
        `/v1/views/${encodeURIComponent(view.name)}/series`,
        {
          from: new Date(from).toISOString(),
          to: new Date(to).toISOString(),
          granularity,
          // The API groups by every dimension unless told otherwise; one merged series keeps
          // percentiles and distinct counts exact.
          groupBy: view.dimensions.length > 0 ? 'none' : undefined,
          measures: names.length > 0 ? names.join(',') : undefined,
          ...(dimension && applied.value ? { [dimension.parameter]: applied.value } : {}),
        },
        controller.signal,
      );
      render(view, specs, names, body, from, to, bucketMs);
      errorLine.hidden = true;
      hooks.onSuccess();
      loadFilterValues(view, controller.signal).catch(() => {
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
   * @param {ViewInfo} view
   * @param {ChartSpec[]} specs
   * @param {string[]} names
   * @param {any} body
   * @param {number} from
   * @param {number} to
   * @param {number} bucketMs
   */
  function render(view, specs, names, body, from, to, bucketMs) {
    const rows = rowsFromSeries(body, names, bucketMs, zeroValues(view));
    const charts = ensureCharts(view, specs);
    for (const unit of document.querySelectorAll('.bucket-unit')) unit.textContent = bucketUnit(bucketMs);
    const sealedThroughMs = toMs(body.sealedThrough);
    const speedWatermarkMs = toMs(body.speedWatermark);
    const rangeFrom = toMs(body.from) ?? from;
    const rangeTo = toMs(body.to) ?? to;
    // Newest first in the tables: the live edge is what people look for.
    const newestFirst = [...rows].reverse();
    for (const { spec, chart } of charts) {
      chart.update({
        fromMs: rangeFrom,
        toMs: rangeTo,
        bucketMs,
        sealedThroughMs,
        buckets: rows.map((row) => ({ t: row.t, source: row.source, value: plotted(spec, row) })),
      });
      const tbody = /** @type {HTMLTableSectionElement} */ ($(`#${spec.id} .series-table tbody`));
      setRows(
        tbody,
        newestFirst.map((row) =>
          tableRow(
            row,
            spec.rateOf
              ? [
                  [spec.value, row.values[spec.value] ?? null, formatInteger],
                  [spec.rateMetric ?? 'rate', plotted(spec, row), spec.format],
                ]
              : [[spec.value, row.values[spec.value] ?? null, spec.format]],
          ),
        ),
        'No buckets in this range',
      );
    }

    for (const count of document.querySelectorAll('[data-source-count]')) {
      const source = /** @type {HTMLElement} */ (count).dataset.sourceCount;
      const n = rows.filter((row) => row.source === source).length;
      count.textContent = n > 0 ? `(${n})` : '';
    }
    const title = $('#overview-view');
    title.dataset.stream = view.stream;
    title.dataset.view = view.name;
    title.textContent = catalog.length > 1 ? `${view.stream} · ${view.name}` : view.name;

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
    range.dataset.granularity = String(body.granularity ?? '');
    const filter =
      applied.dimension && applied.value
        ? view.dimensions.length > 1
          ? ` · ${applied.dimension} = ${applied.value}`
          : ` · ${applied.value}`
        : '';
    range.textContent = `${formatTime(rangeFrom)} – ${formatTime(rangeTo, { short: true })}${filter}`;
    $('#overview').dataset.updatedAt = new Date().toISOString();
  }

  return {
    refresh,
    setCatalog,
    /** The stream whose view is on screen (the health panel shows its speed layer). */
    get stream() {
      return applied.stream;
    },
    /** @param {() => void} listener called when the user applies new controls */
    onApply(listener) {
      onApply = listener;
    },
  };
}

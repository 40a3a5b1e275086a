// One time-series chart on uPlot: each bucket's background shaded by the source that served it
// (sealed batch, speed, mixed, none) and a dashed line where the batch layer's sealed-through
// watermark falls. uPlot is loaded as a classic script (vendor/uPlot.iife.min.js) before modules run.

/** @typedef {'batch' | 'speed' | 'mixed' | 'none'} Source */
/**
 * @typedef {object} ChartModel
 * @property {number} fromMs range start, epoch ms
 * @property {number} toMs range end (exclusive), epoch ms
 * @property {number} bucketMs bucket width
 * @property {Array<{ t: number, source: Source, value: number | null }>} buckets bucket start, source, value
 * @property {number | null} sealedThroughMs every bucket before this is sealed
 */

/** Background per source; `none` is hatched so it reads as "missing" without colour too. */
export const SOURCE_FILL = {
  batch: 'rgba(37, 99, 235, 0.13)',
  speed: 'rgba(234, 128, 12, 0.20)',
  mixed: 'rgba(124, 58, 237, 0.16)',
};
const SEALED_COLOR = '#1e3a8a';
const INTEGER_INCREMENTS = [
  1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6,
  5e6, 1e7, 1e8, 1e9,
];

/** @type {any} */
const uPlot = /** @type {any} */ (globalThis).uPlot;

/** @type {CanvasPattern | null} */
let hatch = null;
/** @param {CanvasRenderingContext2D} ctx */
function noneFill(ctx) {
  if (hatch) return hatch;
  const tile = document.createElement('canvas');
  tile.width = 8;
  tile.height = 8;
  const t = tile.getContext('2d');
  if (!t) return 'rgba(100, 116, 139, 0.12)';
  t.fillStyle = 'rgba(100, 116, 139, 0.08)';
  t.fillRect(0, 0, 8, 8);
  t.strokeStyle = 'rgba(100, 116, 139, 0.35)';
  t.lineWidth = 1;
  t.beginPath();
  t.moveTo(0, 8);
  t.lineTo(8, 0);
  t.stroke();
  hatch = ctx.createPattern(tile, 'repeat');
  return hatch ?? 'rgba(100, 116, 139, 0.12)';
}

/**
 * Axis label for a tick: `14:00`, or the date `11-26` at midnight UTC so days are visible.
 * @param {number} seconds
 */
function axisTime(seconds) {
  const iso = new Date(seconds * 1000).toISOString();
  return iso.slice(11, 16) === '00:00' ? iso.slice(5, 10) : iso.slice(11, 16);
}

/**
 * @param {HTMLElement} container element the canvas goes in; its width decides the chart's
 * @param {{ label: string, color: string, kind: 'bars' | 'line', format: (v: number | null) => string, integer?: boolean }} options
 */
export function createChart(container, options) {
  /** @type {ChartModel} */
  let model = { fromMs: 0, toMs: 1, bucketMs: 1, buckets: [], sealedThroughMs: null };

  if (!uPlot) {
    container.textContent = 'Chart library failed to load; the numbers are in the table below.';
    return { update: (/** @type {ChartModel} */ next) => void next, destroy() {} };
  }

  const height = () => (container.clientWidth < 500 ? 170 : 210);

  /** @param {any} u */
  function shadeBuckets(u) {
    const { ctx, bbox } = u;
    const half = model.bucketMs / 2000;
    ctx.save();
    ctx.beginPath();
    ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
    ctx.clip();
    for (const bucket of model.buckets) {
      const start = bucket.t / 1000;
      const x0 = Math.round(u.valToPos(start, 'x', true));
      const x1 = Math.round(u.valToPos(start + 2 * half, 'x', true));
      ctx.fillStyle = bucket.source === 'none' ? noneFill(ctx) : SOURCE_FILL[bucket.source];
      ctx.fillRect(x0, bbox.top, Math.max(1, x1 - x0), bbox.height);
    }
    ctx.restore();
  }

  /** @param {any} u */
  function drawSealedMarker(u) {
    const sealed = model.sealedThroughMs;
    if (sealed === null || sealed < model.fromMs || sealed > model.toMs) return;
    const { ctx, bbox } = u;
    const x = Math.round(u.valToPos(sealed / 1000, 'x', true));
    const ratio = devicePixelRatio || 1;
    ctx.save();
    ctx.strokeStyle = SEALED_COLOR;
    ctx.lineWidth = 2 * ratio;
    ctx.setLineDash([6 * ratio, 4 * ratio]);
    ctx.beginPath();
    ctx.moveTo(x, bbox.top);
    ctx.lineTo(x, bbox.top + bbox.height);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = SEALED_COLOR;
    ctx.font = `${11 * ratio}px system-ui, sans-serif`;
    const label = 'sealed';
    const width = ctx.measureText(label).width;
    const right = x + 4 * ratio + width < bbox.left + bbox.width;
    ctx.textAlign = right ? 'left' : 'right';
    ctx.textBaseline = 'top';
    ctx.fillText(label, right ? x + 4 * ratio : x - 4 * ratio, bbox.top + 3 * ratio);
    ctx.restore();
  }

  const series =
    options.kind === 'bars'
      ? {
          label: options.label,
          stroke: options.color,
          fill: options.color,
          width: 0,
          paths: uPlot.paths.bars({ size: [0.7, 64] }),
          points: { show: false },
          value: (/** @type {any} */ _u, /** @type {number | null} */ v) => options.format(v),
        }
      : {
          label: options.label,
          stroke: options.color,
          width: 2,
          points: { show: true, size: 5, fill: options.color },
          spanGaps: false,
          value: (/** @type {any} */ _u, /** @type {number | null} */ v) => options.format(v),
        };

  const plot = new uPlot(
    {
      width: Math.max(200, container.clientWidth),
      height: height(),
      tzDate: (/** @type {number} */ ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      scales: {
        x: { time: true, range: () => [model.fromMs / 1000, model.toMs / 1000] },
        y: {
          range: (/** @type {any} */ _u, /** @type {number} */ _min, /** @type {number} */ max) => [
            0,
            Number.isFinite(max) && max > 0 ? max * 1.12 : 1,
          ],
        },
      },
      series: [
        {
          label: 'UTC',
          value: (/** @type {any} */ _u, /** @type {number | null} */ v) =>
            v === null
              ? '—'
              : new Date(v * 1000 - model.bucketMs / 2).toISOString().slice(0, 16).replace('T', ' '),
        },
        series,
      ],
      axes: [
        {
          stroke: '#475569',
          size: 32,
          grid: { stroke: 'rgba(100,116,139,0.15)' },
          ticks: { show: false },
          values: (/** @type {any} */ _u, /** @type {number[]} */ splits) => splits.map(axisTime),
        },
        {
          stroke: '#475569',
          size: 56,
          // Counts get whole-number ticks only (no "0, 0, 1, 1" on an empty chart).
          ...(options.integer ? { incrs: INTEGER_INCREMENTS } : {}),
          grid: { stroke: 'rgba(100,116,139,0.15)' },
          ticks: { show: false },
          values: (/** @type {any} */ _u, /** @type {number[]} */ splits) =>
            splits.map((v) => options.format(v).replace(/ (ms|%)$/, '')),
        },
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false }, points: { show: options.kind === 'line' } },
      hooks: { drawClear: [shadeBuckets], draw: [drawSealedMarker] },
    },
    [[], []],
    container,
  );

  const resize = new ResizeObserver(() => {
    const width = Math.max(200, container.clientWidth);
    if (width !== plot.width) plot.setSize({ width, height: height() });
  });
  resize.observe(container);

  return {
    /** @param {ChartModel} next */
    update(next) {
      model = next;
      // What the marker shows, in text, for people using a screen reader and for the browser test.
      const sealedIso = next.sealedThroughMs === null ? '' : new Date(next.sealedThroughMs).toISOString();
      container.dataset.sealedThrough = sealedIso;
      container.setAttribute(
        'aria-label',
        `${options.label} chart; ${sealedIso ? `sealed through ${sealedIso.slice(0, 16).replace('T', ' ')} UTC` : 'nothing sealed'}`,
      );
      // x at the bucket's middle, so bars and points sit inside their shaded hour.
      const xs = next.buckets.map((b) => (b.t + next.bucketMs / 2) / 1000);
      const ys = next.buckets.map((b) => b.value);
      plot.setData([xs, ys]);
    },
    destroy() {
      resize.disconnect();
      plot.destroy();
    },
  };
}

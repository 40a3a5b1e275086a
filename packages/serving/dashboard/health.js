// The health panel: per view sealed-through, stale hours and last batch runs; the speed layer of
// the stream on screen: watermark, lag per partition, dead-letter and late counters. It also
// decides which layer of which stream is down or behind, which the app turns into banners.

import { ApiError, getJson } from './api.js';
import { $, h, setRows } from './dom.js';
import { formatDuration, formatInteger, formatTime, HOUR_MS, isNumber, toMs } from './format.js';

/**
 * @typedef {object} HealthThresholds
 * @property {number} speedBehindMs the speed watermark may trail now by this much while events wait
 * @property {number} speedLagLimit events waiting in Kafka past which the speed layer is behind
 * @property {number} batchBehindMs sealed-through may trail now by this much
 */
/** @type {HealthThresholds} */
export const defaultThresholds = {
  speedBehindMs: 120_000,
  speedLagLimit: 10_000,
  batchBehindMs: 3 * HOUR_MS,
};

/** @typedef {{ id: string, level: 'error' | 'warning', text: string }} Alert */

/**
 * @typedef {object} RunView
 * @property {string} view
 * @property {number | null} hour
 * @property {string} status
 * @property {number | null} durationMs
 * @property {number | null} finishedAt
 * @property {string | null} error
 * @property {string | null} reason why a skipped run was skipped
 */

/**
 * @param {any} run
 * @param {string} view
 * @returns {RunView}
 */
function normalizeRun(run, view) {
  const started = toMs(run?.startedAt);
  const finished = toMs(run?.finishedAt ?? run?.endedAt);
  const durationMs = isNumber(run?.durationMs)
    ? run.durationMs
    : started !== null && finished !== null
      ? finished - started
      : null;
  return {
    view,
    hour: toMs(run?.hour),
    status: String(run?.status ?? 'unknown'),
    durationMs,
    finishedAt: finished,
    error: run?.error ? String(run.error?.message ?? run.error) : null,
    reason: run?.reason ? String(run.reason) : null,
  };
}

/**
 * One stream's speed status.
 * @param {any} speed
 */
function normalizeSpeed(speed) {
  if (!speed) return null;
  const partitions = Array.isArray(speed?.partitions) ? speed.partitions : [];
  return {
    up: speed.up ?? speed.ok ?? speed.reachable ?? !speed.error,
    error: speed.error ? String(speed.error?.message ?? speed.error) : null,
    watermark: toMs(speed.watermark),
    maxEventTime: toMs(speed.maxEventTime),
    heartbeat: toMs(speed.heartbeatAt ?? speed.lastHeartbeat ?? speed.updatedAt),
    partitions: partitions.map((/** @type {any} */ p) => ({
      partition: Number(p.partition),
      appliedOffset: p.appliedOffset ?? null,
      lag: isNumber(p.lag) ? p.lag : p.lag === null || p.lag === undefined ? null : Number(p.lag),
    })),
    dlqCount: isNumber(speed.dlqCount) ? speed.dlqCount : null,
    lateCount: isNumber(speed.lateCount) ? speed.lateCount : null,
    eventsApplied: isNumber(speed.eventsApplied) ? speed.eventsApplied : null,
  };
}

/**
 * Normalize a `/v1/status` body: views with their stream, and each stream's speed layer
 * (`streams`; a server without it reports one `speed`, taken as the only stream's).
 * @param {any} body
 */
export function normalizeStatus(body) {
  const rawViews = Array.isArray(body?.views)
    ? body.views
    : Object.entries(body?.views ?? {}).map(([name, v]) => ({ name, .../** @type {any} */ (v) }));
  const views = rawViews.map((/** @type {any} */ v) => {
    const name = String(v?.name ?? v?.view ?? '?');
    const batch = v?.batch ?? v;
    const stale = Array.isArray(batch?.staleHours) ? batch.staleHours : [];
    const runs = Array.isArray(batch?.runs ?? batch?.lastRuns ?? batch?.runHistory)
      ? (batch.runs ?? batch.lastRuns ?? batch.runHistory)
      : [];
    return {
      name,
      stream: typeof v?.stream === 'string' ? v.stream : null,
      sealedThrough: toMs(batch?.sealedThrough),
      staleHours: stale.map(toMs).filter((/** @type {number | null} */ t) => t !== null),
      runs: runs.map((/** @type {any} */ r) => normalizeRun(r, name)),
      error: batch?.error ? String(batch.error?.message ?? batch.error) : null,
    };
  });
  /** @type {Array<{ name: string | null, speed: ReturnType<typeof normalizeSpeed> }>} */
  const streams = Array.isArray(body?.streams)
    ? body.streams.map((/** @type {any} */ s) => ({
        name: typeof s?.stream === 'string' ? s.stream : null,
        speed: normalizeSpeed(s?.speed),
      }))
    : [{ name: null, speed: normalizeSpeed(body?.speed) }];
  return {
    views,
    streams,
    /** The first stream's speed layer (the only one on a single-stream server). */
    speed: streams[0]?.speed ?? null,
    now: toMs(body?.now) ?? Date.now(),
  };
}

/**
 * Whether one stream's speed layer is down or behind.
 * @param {string} layer how the text names it
 * @param {ReturnType<typeof normalizeSpeed>} speed
 * @param {number} now
 * @param {HealthThresholds} thresholds
 * @returns {Alert | null}
 */
function speedAlert(layer, speed, now, thresholds) {
  if (!speed) {
    return {
      id: 'speed',
      level: 'error',
      text: `${layer}: no status reported. Real-time buckets may be missing.`,
    };
  }
  if (!speed.up) {
    return {
      id: 'speed',
      level: 'error',
      text: `${layer} is down${speed.error ? `: ${speed.error}` : ''}. Recent buckets show only what the batch layer has sealed.`,
    };
  }
  const known = speed.partitions.filter((p) => p.lag !== null);
  const lag = known.reduce((sum, p) => sum + (p.lag ?? 0), 0);
  const watermarkAge = speed.watermark === null ? null : now - speed.watermark;
  const old = watermarkAge === null || watermarkAge > thresholds.speedBehindMs;
  const age = watermarkAge === null ? '' : `, watermark ${formatDuration(watermarkAge)} old`;
  if (known.length > 0 && ((lag > 0 && old) || lag > thresholds.speedLagLimit)) {
    return {
      id: 'speed',
      level: 'error',
      text: `${layer} is behind: ${formatInteger(lag)} events waiting in Kafka${age}. It may be stopped.`,
    };
  }
  if (known.length === 0 && speed.watermark !== null && old) {
    // Without Kafka end offsets an idle stream and a stopped worker look alike: say both.
    return {
      id: 'speed',
      level: 'warning',
      text: `${layer} has applied nothing new${age}: it is stopped, or no events are arriving.`,
    };
  }
  return null;
}

/**
 * Which layers are down or behind, from a normalized status.
 * @param {ReturnType<typeof normalizeStatus>} status
 * @param {HealthThresholds} thresholds
 * @returns {Alert[]}
 */
export function healthAlerts(status, thresholds) {
  /** @type {Alert[]} */
  const alerts = [];
  const { now } = status;
  // One speed banner, naming the streams when there are several (each has its own speed layer).
  /** @type {Alert[]} */
  const speedAlerts = [];
  const named = status.streams.length > 1;
  for (const { name, speed } of status.streams) {
    const layer = named && name ? `Speed layer (${name})` : 'Speed layer';
    const alert = speedAlert(layer, speed, now, thresholds);
    if (alert) speedAlerts.push(alert);
  }
  if (speedAlerts.length > 0) {
    alerts.push({
      id: 'speed',
      level: speedAlerts.some((a) => a.level === 'error') ? 'error' : 'warning',
      text: speedAlerts.map((a) => a.text).join(' '),
    });
  }
  // One batch banner, not one per view: views usually share a scheduler and fall behind together.
  const broken = [];
  const behind = [];
  const stale = [];
  for (const view of status.views) {
    const latest = view.runs[0];
    if (view.error) broken.push(`${view.name}: ${view.error}`);
    else if (latest && /fail|error/i.test(latest.status)) {
      broken.push(
        `the last run of ${view.name}${latest.hour === null ? '' : ` (hour ${formatTime(latest.hour)})`} failed${
          latest.error ? `: ${latest.error}` : ''
        }`,
      );
    } else if (view.sealedThrough !== null && now - view.sealedThrough > thresholds.batchBehindMs)
      behind.push(view);
    if (view.staleHours.length > 0) stale.push(`${view.name} (${view.staleHours.length})`);
  }
  if (broken.length > 0) {
    alerts.push({ id: 'batch', level: 'error', text: `Batch layer: ${broken.join('; ')}.` });
  } else if (behind.length > 0) {
    const oldest = Math.min(...behind.map((v) => /** @type {number} */ (v.sealedThrough)));
    alerts.push({
      id: 'batch',
      level: 'warning',
      text: `Batch layer is behind: ${behind.map((v) => v.name).join(', ')} sealed only through ${formatTime(
        oldest,
      )} UTC (${formatDuration(now - oldest)} ago).`,
    });
  }
  if (stale.length > 0) {
    alerts.push({
      id: 'stale',
      level: 'warning',
      text: `Stale batch hours waiting for a recompute: ${stale.join(', ')}.`,
    });
  }
  return alerts;
}

/**
 * @param {{ onError: (error: unknown) => void, onSuccess: () => void, onAlerts: (alerts: Alert[]) => void, thresholds: HealthThresholds }} hooks
 */
export function createHealth(hooks) {
  const errorLine = $('#health-error');
  /** The stream whose speed layer the facts show (the overview's); '' for the first. */
  let shownStream = '';

  /** @param {string} selector @param {number | null} value @param {string} text */
  function fact(selector, value, text) {
    const element = $(selector);
    element.dataset.value = value === null ? '' : String(value);
    element.textContent = text;
  }

  /** @param {ReturnType<typeof normalizeStatus>} status */
  function render(status) {
    const { now } = status;
    const shown = status.streams.find((s) => s.name === shownStream) ?? status.streams[0];
    const speed = shown?.speed ?? null;
    $('#speed-stream').textContent = status.streams.length > 1 && shown?.name ? shown.name : '';
    $('#speed-facts').dataset.stream = shown?.name ?? '';
    fact(
      '#speed-watermark',
      speed?.watermark ?? null,
      speed?.watermark ? formatTime(speed.watermark, { seconds: true }) : '—',
    );
    $('#speed-watermark').dataset.value = speed?.watermark ? new Date(speed.watermark).toISOString() : '';
    $('#speed-behind').textContent = speed?.watermark ? formatDuration(now - speed.watermark) : '—';
    const lags = (speed?.partitions ?? []).map((p) => p.lag).filter((l) => l !== null);
    const lag = lags.length === 0 ? null : lags.reduce((sum, l) => sum + l, 0);
    fact('#speed-lag', lag, formatInteger(lag));
    fact('#speed-dlq', speed?.dlqCount ?? null, formatInteger(speed?.dlqCount));
    fact('#speed-late', speed?.lateCount ?? null, formatInteger(speed?.lateCount));
    fact('#speed-applied', speed?.eventsApplied ?? null, formatInteger(speed?.eventsApplied));
    $('#speed-dlq').classList.toggle('warn', (speed?.dlqCount ?? 0) > 0);

    setRows(
      /** @type {HTMLTableSectionElement} */ ($('#partitions-table tbody')),
      (speed?.partitions ?? []).map((p) =>
        h('tr', { 'data-partition': p.partition }, [
          h('th', { scope: 'row', class: 'num' }, [p.partition]),
          h('td', { class: 'num' }, [p.appliedOffset === null ? '—' : String(p.appliedOffset)]),
          h('td', { class: `num${(p.lag ?? 0) > 0 ? ' warn' : ''}`, 'data-value': p.lag ?? '' }, [
            formatInteger(p.lag),
          ]),
        ]),
      ),
      speed ? 'No partitions assigned' : 'Speed layer status unavailable',
    );

    setRows(
      /** @type {HTMLTableSectionElement} */ ($('#views-table tbody')),
      status.views.map((v) =>
        h(
          'tr',
          {
            'data-view': v.name,
            'data-stream': v.stream,
            'data-sealed-through': v.sealedThrough === null ? '' : new Date(v.sealedThrough).toISOString(),
          },
          [
            h('th', { scope: 'row' }, [
              v.name,
              status.streams.length > 1 && v.stream ? h('span', { class: 'muted' }, [` ${v.stream}`]) : null,
            ]),
            h('td', {}, [v.sealedThrough === null ? 'nothing sealed' : formatTime(v.sealedThrough)]),
            h('td', { class: 'wide-only' }, [
              v.sealedThrough === null ? '—' : formatDuration(now - v.sealedThrough),
            ]),
            h(
              'td',
              {
                class: `num${v.staleHours.length > 0 ? ' warn' : ''}`,
                'data-value': v.staleHours.length,
                title: v.staleHours.map((t) => formatTime(t)).join(', ') || null,
              },
              [String(v.staleHours.length)],
            ),
          ],
        ),
      ),
      'No views reported',
    );

    const runs = status.views.flatMap((v) => v.runs.slice(0, 3));
    runs.sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0));
    setRows(
      /** @type {HTMLTableSectionElement} */ ($('#runs-table tbody')),
      runs.slice(0, 9).map((r) => {
        const ok = /^(ok|succeeded|success|published|done|completed)$/i.test(r.status);
        const bad = /fail|error/i.test(r.status);
        const skipped = /^skipped$/i.test(r.status);
        return h('tr', { 'data-view': r.view, 'data-status': r.status }, [
          h('th', { scope: 'row' }, [r.view]),
          h('td', {}, [formatTime(r.hour).slice(5)]),
          h('td', {}, [
            h(
              'span',
              {
                class: `run-status ${ok ? 'ok' : bad ? 'bad' : skipped ? 'skipped' : 'other'}`,
                title: r.error ?? r.reason,
              },
              [r.status],
            ),
          ]),
          h('td', { class: 'num', 'data-value': r.durationMs ?? '' }, [formatDuration(r.durationMs)]),
          h('td', { class: 'wide-only' }, [formatTime(r.finishedAt, { short: true })]),
        ]);
      }),
      'No batch runs yet',
    );
    $('#health-updated').textContent =
      `updated ${formatTime(Date.now(), { short: true, seconds: true })} UTC`;
    $('#health').dataset.updatedAt = new Date().toISOString();
  }

  async function refresh() {
    try {
      const status = normalizeStatus(await getJson('/v1/status'));
      render(status);
      hooks.onAlerts(healthAlerts(status, hooks.thresholds));
      errorLine.hidden = true;
      hooks.onSuccess();
    } catch (error) {
      // A missing key is said once, by the banner and the key dialog, not by every panel.
      errorLine.hidden = error instanceof ApiError && error.status === 401;
      errorLine.textContent = `Status: ${error instanceof Error ? error.message : String(error)}`;
      hooks.onError(error);
    }
  }

  return {
    refresh,
    /** @param {string} stream the stream whose speed layer to show */
    setStream(stream) {
      shownStream = stream;
    },
  };
}

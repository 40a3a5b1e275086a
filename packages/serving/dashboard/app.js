// Entry point of the dashboard: wires the panels to timers, the API-key dialog and the banners.
// Polling intervals and alert thresholds can be tuned from the URL, e.g. `/?poll=2000&trending=30000`.

import { ApiError, getJson, storeApiKey, storedApiKey } from './api.js';
import { catalogFromStreams, catalogFromViews } from './catalog.js';
import { $, h } from './dom.js';
import { formatTime } from './format.js';
import { createHealth, defaultThresholds } from './health.js';
import { createOverview } from './overview.js';
import { createTrending } from './trending.js';

const params = new URLSearchParams(location.search);
/** @param {string} name @param {number} fallback @param {number} min */
function numberParam(name, fallback, min) {
  const raw = params.get(name);
  const value = raw === null || raw === '' ? Number.NaN : Number(raw);
  return Number.isFinite(value) && value >= min ? value : fallback;
}
const settings = {
  /** Overview and health refresh. @defaultValue 5000 */
  pollMs: numberParam('poll', 5000, 500),
  /** Trending refresh: its window slides every minute. @defaultValue 60000 */
  trendingMs: numberParam('trending', 60_000, 1000),
  thresholds: {
    speedBehindMs: numberParam('speedBehindMs', defaultThresholds.speedBehindMs, 0),
    speedLagLimit: numberParam('speedLagLimit', defaultThresholds.speedLagLimit, 0),
    batchBehindMs: numberParam('batchBehindMs', defaultThresholds.batchBehindMs, 0),
  },
};

// ---- banners -------------------------------------------------------------------------------

const bannerRoot = $('#banners');
/** @type {Map<string, HTMLElement>} */
const banners = new Map();

/** @param {string} id @param {'error' | 'warning'} level @param {string} text */
function setBanner(id, level, text) {
  let banner = banners.get(id);
  if (!banner) {
    banner = h('p', { class: 'banner', 'data-banner': id });
    banners.set(id, banner);
    bannerRoot.append(banner);
  }
  banner.className = `banner banner-${level}`;
  if (banner.textContent !== text) banner.textContent = text;
}

/** @param {string} id */
function clearBanner(id) {
  banners.get(id)?.remove();
  banners.delete(id);
}

/** Banner ids raised by the last status poll, so the next poll can clear what recovered. */
let healthBannerIds = new Set();
/** @param {import('./health.js').Alert[]} alerts */
function setHealthAlerts(alerts) {
  const next = new Set(alerts.map((a) => `health-${a.id}`));
  for (const id of healthBannerIds) if (!next.has(id)) clearBanner(id);
  for (const alert of alerts) setBanner(`health-${alert.id}`, alert.level, alert.text);
  healthBannerIds = next;
}

// ---- API key --------------------------------------------------------------------------------

const keyDialog = /** @type {HTMLDialogElement} */ ($('#key-dialog'));
const keyInput = /** @type {HTMLInputElement} */ ($('#key-input'));
const keyReason = $('#key-dialog-reason');
let askedForKey = false;

/** @param {string} reason */
function openKeyDialog(reason) {
  keyReason.textContent = reason;
  keyInput.value = storedApiKey() ?? '';
  if (!keyDialog.open) keyDialog.showModal();
  keyInput.focus();
}

$('#key-button').addEventListener('click', () =>
  openKeyDialog("Enter the API key to send with every request. It is kept in this browser's local storage."),
);
keyDialog.addEventListener('close', () => {
  if (keyDialog.returnValue === 'save' && keyInput.value.trim() !== '') storeApiKey(keyInput.value.trim());
  else if (keyDialog.returnValue === 'clear') storeApiKey(null);
  else return;
  askedForKey = false;
  clearBanner('auth');
  refreshAll();
});

// ---- errors shared by every panel -----------------------------------------------------------

/** @param {unknown} error */
function onError(error) {
  if (!(error instanceof ApiError)) return;
  if (error.status === 401) {
    setBanner('auth', 'warning', 'The API needs a key: use the "API key" button to enter one.');
    liveState.textContent = 'Waiting for an API key';
    if (!askedForKey) {
      askedForKey = true;
      openKeyDialog(
        storedApiKey()
          ? 'The API did not accept the stored key. Enter another one; it is kept in local storage.'
          : "The API asks for a key. It is kept in this browser's local storage.",
      );
    }
  } else if (error.status === 403) {
    setBanner('auth', 'error', `This API key may not read the dashboard's data: ${error.message}`);
  } else if (error.status === 0) {
    setBanner('api', 'error', `${error.message}. Retrying every ${Math.round(settings.pollMs / 1000)} s.`);
  } else if (error.status === 429) {
    setBanner('api', 'warning', 'The API is rate-limiting this key; updates will resume shortly.');
  } else if (error.status >= 500) {
    setBanner('api', 'error', `The API failed: ${error.message}`);
  }
}

function onSuccess() {
  clearBanner('api');
  if (banners.get('auth')?.classList.contains('banner-warning')) clearBanner('auth');
  liveState.textContent = paused
    ? 'Paused'
    : `Live · updated ${formatTime(Date.now(), { short: true, seconds: true })} UTC`;
}

// ---- panels and timers ----------------------------------------------------------------------

const liveState = $('#live-state');
const overview = createOverview({ onError, onSuccess });
const trending = createTrending({ onError, onSuccess });
const health = createHealth({
  onError,
  onSuccess,
  onAlerts: setHealthAlerts,
  thresholds: settings.thresholds,
});

let paused = false;
let catalogLoaded = false;
/** Whether the deployment has the trending view (the panel hides when it does not). */
let hasTrending = true;

/** The deployment's streams and views, once: from /v1/streams, or /v1/views on an older server. */
async function loadCatalog() {
  if (catalogLoaded) return;
  try {
    let catalog;
    try {
      catalog = catalogFromStreams(await getJson('/v1/streams'));
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
      catalog = catalogFromViews(await getJson('/v1/views'));
    }
    overview.setCatalog(catalog);
    hasTrending = catalog.some((stream) => stream.views.some((view) => view.name === 'trending_pages'));
    $('#trending').hidden = !hasTrending;
    catalogLoaded = true;
  } catch (error) {
    onError(error);
  }
}

async function refreshFast() {
  await loadCatalog();
  health.setStream(overview.stream);
  await Promise.all([overview.refresh(), health.refresh()]);
}

async function refreshTrending() {
  if (hasTrending) return trending.refresh();
  return null;
}

function refreshAll() {
  return Promise.all([refreshFast(), refreshTrending()]);
}

/**
 * Run `task` every `intervalMs`, never overlapping itself, skipping ticks while paused or hidden.
 * A task may resolve to the number of ms until it is next worth running (clamped to 5 s …
 * `intervalMs`), as the trending panel does to land just after its window slides.
 * @param {() => Promise<unknown>} task
 * @param {number} intervalMs
 * @param {boolean} [now] run the first time at once
 */
function every(task, intervalMs, now = false) {
  const tick = async () => {
    let next = intervalMs;
    if (!paused && document.visibilityState !== 'hidden') {
      try {
        const wanted = await task();
        if (typeof wanted === 'number' && Number.isFinite(wanted)) {
          next = Math.min(intervalMs, Math.max(Math.min(5000, intervalMs), wanted));
        }
      } catch (error) {
        console.warn('dashboard refresh failed', error);
      }
    }
    setTimeout(tick, next);
  };
  setTimeout(tick, now ? 0 : intervalMs);
}

overview.onApply(() => {
  health.setStream(overview.stream);
  overview.refresh();
  health.refresh();
});

const pauseButton = $('#pause-button');
pauseButton.addEventListener('click', () => {
  paused = !paused;
  pauseButton.setAttribute('aria-pressed', String(paused));
  pauseButton.textContent = paused ? 'Resume updates' : 'Pause updates';
  liveState.textContent = paused ? 'Paused' : 'Live';
  if (!paused) refreshAll();
});
$('#trending-refresh').addEventListener('click', () => refreshTrending());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && !paused) refreshFast();
});

every(refreshFast, settings.pollMs, true);
every(refreshTrending, settings.trendingMs, true);

// The trending panel: top pages of the sliding 5-minute window from `/v1/trending`.

import { ApiError, getJson } from './api.js';
import { $, h, setRows } from './dom.js';
import { formatInteger, formatTime, isNumber, MINUTE_MS, toMs } from './format.js';

/**
 * Normalize a trending response to `{ from, to, pages: [{ page, views }] }`.
 * @param {any} body
 */
export function trendingPages(body) {
  const list = Array.isArray(body) ? body : (body?.items ?? body?.pages ?? []);
  /** @type {Array<{ page: string, views: number }>} */
  const pages = [];
  for (const item of list) {
    // The API answers `{ rank, page, score, source }`; a null page is views without a page_id.
    const page = item?.page ?? item?.page_id ?? item?.key;
    const views = item?.score ?? item?.count ?? item?.views;
    if (page !== undefined && isNumber(views))
      pages.push({ page: page === null ? '(no page id)' : String(page), views });
  }
  return { from: toMs(body?.from), to: toMs(body?.to), pages };
}

/**
 * A page's bar, `percent` wide. The width goes through the CSSOM: the Content-Security-Policy
 * (`style-src 'self'`) refuses a `style` attribute, not a property set from script.
 * @param {number} percent
 */
function bar(percent) {
  const element = h('span', { class: 'bar', 'aria-hidden': 'true' });
  element.style.width = `${percent.toFixed(1)}%`;
  return element;
}

/**
 * @param {{ onError: (error: unknown) => void, onSuccess: () => void, k?: number }} hooks
 */
export function createTrending(hooks) {
  const tbody = /** @type {HTMLTableSectionElement} */ ($('#trending-table tbody'));
  const windowLine = $('#trending-window');
  const errorLine = $('#trending-error');
  const k = hooks.k ?? 10;

  /**
   * Reads the window; resolves to the ms until it next slides (null when unknown or on error).
   * The window ends at the last whole minute before the speed watermark, so it slides when the
   * watermark, which trails the clock by about `now - speedWatermark`, crosses `to + 1 min`.
   * @returns {Promise<number | null>}
   */
  async function refresh() {
    try {
      const body = await getJson('/v1/trending', { window: '5m', k });
      const { from, to, pages } = trendingPages(body);
      const top = Math.max(1, ...pages.map((p) => p.views));
      setRows(
        tbody,
        pages.map((p, i) =>
          h('tr', { 'data-page': p.page }, [
            h('td', { class: 'num' }, [i + 1]),
            h('th', { scope: 'row', class: 'page' }, [
              h('span', { class: 'page-name' }, [p.page]),
              bar((100 * p.views) / top),
            ]),
            h('td', { class: 'num', 'data-value': p.views }, [formatInteger(p.views)]),
          ]),
        ),
        'No page views in the last 5 minutes',
      );
      windowLine.textContent =
        from !== null && to !== null
          ? `Window ${formatTime(from, { short: true })}–${formatTime(to, { short: true })} UTC, slides every minute.`
          : 'Top pages of the last 5 minutes, refreshed every minute.';
      $('#trending').dataset.updatedAt = new Date().toISOString();
      errorLine.hidden = true;
      hooks.onSuccess();
      const watermark = toMs(body?.speedWatermark);
      if (to === null || watermark === null) return null;
      return to + MINUTE_MS - watermark + 1000;
    } catch (error) {
      // A missing key is said once, by the banner and the key dialog, not by every panel.
      errorLine.hidden = error instanceof ApiError && error.status === 401;
      errorLine.textContent = `Trending: ${error instanceof Error ? error.message : String(error)}`;
      hooks.onError(error);
      return null;
    }
  }

  return { refresh };
}

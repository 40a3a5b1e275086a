// The dashboard in a real browser (Debian's Chromium through playwright-core) against a running
// serving layer: it loads clean and fast, shows the numbers the API gives for the same range, moves
// its sealed-through marker when the batch layer publishes an hour, raises a banner when the speed
// layer stops, and asks for the API key on a 401. Then, against a deployment with an IoT stream,
// a person picks that stream's view, its measures and one site, and sees the API's numbers.
// Screenshots land in screenshots/ (gitignored).
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LaunchedBrowser, launchChromium, watchProblems } from './dashboard/browser.ts';
import type { DashboardBackend } from './dashboard/backend.ts';
import { startCatalogBackend } from './dashboard/catalog-backend.ts';
import { startFixtureBackend } from './dashboard/fixture-server.ts';
import { startLiveBackend } from './dashboard/live-stack.ts';

// Browser globals used inside page.evaluate callbacks: the workspace's tsconfig has no DOM lib, and
// adding it would leak DOM types into every Node package, so the few members used are declared here.
interface BrowserElement {
  id: string;
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  value: string;
  open: boolean;
  checked: boolean;
  querySelector(selector: string): BrowserElement | null;
}
declare const document: {
  querySelectorAll(selector: string): ArrayLike<BrowserElement> & Iterable<BrowserElement>;
  activeElement: BrowserElement | null;
  documentElement: { scrollWidth: number };
};
declare const window: { innerWidth: number };
declare const localStorage: {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
};

const screenshots = resolve(fileURLToPath(new URL('../../screenshots/', import.meta.url)));
/** Fast polling so live updates show within the test's patience; the default is 5 s. */
const POLL_MS = 1000;
/** Patience for what the page shows after its next poll or two, on a busy CI machine. */
const SOON = { timeout: 15_000, interval: 250 };

interface PageRow {
  bucket: string;
  source: string;
  requests: number | null;
  requestsText: string;
  errors: number | null;
  errorRate: number | null;
  p95: number | null;
}

/** Reads the three tables under the overview charts, newest bucket first. */
async function readOverviewTables(page: Page): Promise<PageRow[]> {
  return page.evaluate(() => {
    const value = (cell: BrowserElement | null | undefined): number | null => {
      const raw = cell?.dataset.value ?? '';
      return raw === '' ? null : Number(raw);
    };
    const byBucket = (table: string, metric: string) =>
      new Map(
        [...document.querySelectorAll(`${table} .series-table tbody tr[data-bucket]`)].map((row) => [
          row.dataset.bucket!,
          row.querySelector(`[data-metric="${metric}"]`),
        ]),
      );
    const errors = byBucket('#chart-error-rate', 'errors_5xx');
    const rates = byBucket('#chart-error-rate', 'error_rate');
    const p95 = byBucket('#chart-p95', 'p95_latency_ms');
    return [...document.querySelectorAll('#chart-requests .series-table tbody tr[data-bucket]')].map(
      (row) => {
        const bucket = row.dataset.bucket!;
        const requests = row.querySelector('[data-metric="requests"]');
        return {
          bucket,
          source: row.dataset.source!,
          requests: value(requests),
          requestsText: requests?.textContent ?? '',
          errors: value(errors.get(bucket)),
          errorRate: value(rates.get(bucket)),
          p95: value(p95.get(bucket)),
        };
      },
    );
  });
}

/** The same range from the API, shaped like the page's rows (newest first). */
async function apiRows(backend: DashboardBackend, from: string, to: string, endpoint: string | null) {
  const body = await backend.api('/v1/views/endpoint_hourly/series', {
    from,
    to,
    granularity: '1h',
    groupBy: 'none',
    ...(endpoint === null ? {} : { endpoint }),
  });
  const points = new Map<string, { source: string; values: Record<string, number | null> }>();
  for (const point of body.series[0]?.points ?? []) points.set(point.bucket, point);
  return (body.coverage as Array<{ bucket: string; source: string }>)
    .map((cover) => {
      const point = points.get(cover.bucket);
      const served = cover.source !== 'none';
      const requests = point?.values.requests ?? (served ? 0 : null);
      const errors = point?.values.errors_5xx ?? (served ? 0 : null);
      return {
        bucket: cover.bucket,
        source: point?.source ?? cover.source,
        requests,
        errors,
        errorRate: requests && errors !== null ? (100 * errors) / requests : null,
        p95: point?.values.p95_latency_ms ?? null,
      };
    })
    .reverse();
}

/** Awaits `check`; when it fails, the backend's process logs are added to the error. */
async function withLogs(backend: DashboardBackend, check: Promise<unknown>): Promise<void> {
  try {
    await check;
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${await backend.logs()}`, {
      cause: error,
    });
  }
}

async function overviewRange(page: Page): Promise<{ from: string; to: string }> {
  return page.$eval('#overview-range', (el) => ({
    from: (el as unknown as BrowserElement).dataset.from ?? '',
    to: (el as unknown as BrowserElement).dataset.to ?? '',
  }));
}

describe('dashboard in Chromium', () => {
  let backend: DashboardBackend;
  let chromium: LaunchedBrowser;

  beforeAll(async () => {
    await mkdir(screenshots, { recursive: true });
    // DASHBOARD_BACKEND=fixture runs the same checks against canned answers (no stack needed), for
    // working on the page; the default, and what CI runs, is the real platform.
    backend =
      process.env.DASHBOARD_BACKEND === 'fixture' ? await startFixtureBackend() : await startLiveBackend();
    chromium = await launchChromium();
  });

  afterAll(async () => {
    const errors: unknown[] = [];
    await chromium?.close().catch((error: unknown) => errors.push(error));
    await backend?.close().catch((error: unknown) => errors.push(error));
    if (errors.length > 0) throw new AggregateError(errors, 'dashboard test teardown failed');
  });

  it('asks for the API key when the API answers 401 and keeps it for the next visit', async () => {
    const page = await chromium.context.newPage();
    try {
      await page.goto(`${backend.url}/?poll=${POLL_MS}`);
      const dialog = page.locator('#key-dialog');
      await expect.poll(() => dialog.evaluate((d) => (d as unknown as BrowserElement).open), SOON).toBe(true);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('key-input');
      await page.screenshot({ path: join(screenshots, 'dashboard-api-key.png') });
      await page.keyboard.type(backend.apiKey);
      await page.keyboard.press('Enter');
      await page.waitForSelector('#chart-requests .series-table tbody tr[data-bucket]', {
        state: 'attached',
      });
      expect(await page.evaluate(() => localStorage.getItem('tandem.apiKey'))).toBe(backend.apiKey);
      expect(await page.locator('[data-banner="auth"]').count()).toBe(0);
    } finally {
      await page.close();
    }
  });

  it('loads in under a second with no console errors and shows the numbers the API returns', async () => {
    const page = await chromium.context.newPage();
    const problems = watchProblems(page, backend.url);
    try {
      const started = Date.now();
      await page.goto(`${backend.url}/?poll=${POLL_MS}`);
      await page.waitForSelector('#chart-requests .series-table tbody tr[data-bucket]', {
        state: 'attached',
      });
      await page.waitForSelector('#runs-table tbody tr[data-view]', { state: 'attached' });
      await page.waitForSelector('#trending-table tbody tr[data-page]', { state: 'attached' });
      const loadedMs = Date.now() - started;
      const timing = await page.evaluate(() => {
        const [nav] = performance.getEntriesByType('navigation' as never) as unknown as Array<{
          loadEventEnd: number;
        }>;
        return { load: nav?.loadEventEnd ?? Number.NaN };
      });
      console.log(`dashboard: load event ${Math.round(timing.load)} ms, data on screen ${loadedMs} ms`);
      expect(timing.load).toBeLessThan(1000);

      // Let the speed layer settle, let the page poll once more, hold it still, then ask the API
      // for the range the page shows.
      await backend.waitForSpeedIdle();
      await page.waitForTimeout(2 * POLL_MS);
      await page.click('#pause-button');
      const { from, to } = await overviewRange(page);
      const shown = await readOverviewTables(page);
      const expected = await apiRows(backend, from, to, null);
      expect(shown.length).toBe(expected.length);
      expect(shown.length).toBeGreaterThanOrEqual(24);
      for (const [i, row] of shown.entries()) {
        const want = expected[i]!;
        expect(row.bucket).toBe(want.bucket);
        expect(row.source).toBe(want.source);
        expect(row.requests).toBe(want.requests);
        expect(row.requestsText).toBe(want.requests === null ? '—' : want.requests.toLocaleString('en-US'));
        expect(row.errors).toBe(want.errors);
        if (want.errorRate === null) expect(row.errorRate).toBeNull();
        else expect(row.errorRate).toBeCloseTo(want.errorRate, 9);
        expect(row.p95).toBe(want.p95);
      }
      expect(shown.some((row) => row.source === 'batch')).toBe(true);
      expect(shown.some((row) => row.source === 'speed')).toBe(true);
      await page.screenshot({ path: join(screenshots, 'dashboard-laptop.png'), fullPage: true });

      // Trending shows what /v1/trending says.
      const trending = await backend.api('/v1/trending', { window: '5m', k: '10' });
      const pages = await page.$$eval('#trending-table tbody tr[data-page]', (rows) =>
        rows.map((row) => ({
          page: (row as unknown as BrowserElement).dataset.page,
          views: Number(row.querySelector('[data-value]')?.getAttribute('data-value')),
        })),
      );
      expect(pages).toEqual(
        trending.items.map((item: { page: string | null; score: number }) => ({
          page: item.page ?? '(no page id)',
          views: item.score,
        })),
      );
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('picks one endpoint with the keyboard and shows its numbers', async () => {
    const page = await chromium.context.newPage();
    const problems = watchProblems(page, backend.url);
    try {
      await page.goto(`${backend.url}/?poll=${POLL_MS}`);
      await page.waitForSelector('#filter-value option:nth-child(2)', { state: 'attached' });
      const endpoint = await page.$eval(
        '#filter-value option:nth-child(2)',
        (o) => (o as unknown as BrowserElement).value,
      );
      // Tab from the range picker to the endpoint picker, choose with the arrow key.
      await page.focus('#range-select');
      await page.keyboard.press('Tab');
      await expect.poll(() => page.evaluate(() => document.activeElement?.id), SOON).toBe('filter-value');
      await page.keyboard.press('ArrowDown');
      await expect
        .poll(() => page.$eval('#overview-range', (el) => el.textContent ?? ''), SOON)
        .toContain(endpoint);
      await backend.waitForSpeedIdle();
      await page.waitForTimeout(2 * POLL_MS);
      await page.click('#pause-button');
      const { from, to } = await overviewRange(page);
      const shown = await readOverviewTables(page);
      const expected = await apiRows(backend, from, to, endpoint);
      expect(shown.map((r) => [r.bucket, r.source, r.requests, r.errors, r.p95])).toEqual(
        expected.map((r) => [r.bucket, r.source, r.requests, r.errors, r.p95]),
      );
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('shows a chosen range: the last 6 hours, as the API gives them', async () => {
    const page = await chromium.context.newPage();
    const problems = watchProblems(page, backend.url);
    try {
      await page.goto(`${backend.url}/?poll=${POLL_MS}`);
      await page.waitForSelector('#chart-requests .series-table tbody tr[data-bucket]', {
        state: 'attached',
      });
      await page.focus('#range-select');
      await page.keyboard.press('ArrowUp'); // from "Last 24 hours" to "Last 6 hours"
      await expect.poll(async () => (await readOverviewTables(page)).length, SOON).toBe(6);
      await backend.waitForSpeedIdle();
      await page.waitForTimeout(2 * POLL_MS);
      await page.click('#pause-button');
      const { from, to } = await overviewRange(page);
      expect(Date.parse(to) - Date.parse(from)).toBe(6 * 3_600_000);
      const shown = await readOverviewTables(page);
      const expected = await apiRows(backend, from, to, null);
      expect(shown.map((r) => [r.bucket, r.source, r.requests, r.errors, r.p95])).toEqual(
        expected.map((r) => [r.bucket, r.source, r.requests, r.errors, r.p95]),
      );
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('moves the sealed-through marker when the batch layer publishes an hour', async () => {
    const page = await chromium.context.newPage();
    const problems = watchProblems(page, backend.url);
    try {
      await page.goto(`${backend.url}/?poll=${POLL_MS}`);
      const marker = page.locator('#chart-requests .plot');
      await expect.poll(() => marker.getAttribute('data-sealed-through'), SOON).toMatch(/Z$/);
      const before = (await marker.getAttribute('data-sealed-through'))!;
      await page.screenshot({ path: join(screenshots, 'dashboard-sealed-before.png') });
      const sealed = await backend.publishNextHour();
      const after = new Date(sealed).toISOString();
      expect(Date.parse(after)).toBeGreaterThan(Date.parse(before));
      await expect.poll(() => marker.getAttribute('data-sealed-through'), SOON).toBe(after);
      expect(
        await page.$eval('#overview-sealed-through', (el) => (el as unknown as BrowserElement).dataset.value),
      ).toBe(after);
      // The hour just published is now served by the batch layer.
      const published = new Date(sealed - 3_600_000).toISOString();
      await expect
        .poll(
          () =>
            page.$eval(
              `#chart-requests .series-table tr[data-bucket="${published}"]`,
              (row) => (row as unknown as BrowserElement).dataset.source,
            ),
          SOON,
        )
        .toBe('batch');
      await page.screenshot({ path: join(screenshots, 'dashboard-sealed-after.png') });
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('updates live while traffic flows and shows a banner when the speed layer stops, at phone width', async () => {
    const page = await chromium.context.newPage();
    const problems = watchProblems(page, backend.url);
    try {
      await page.setViewportSize({ width: 390, height: 844 });
      // Live traffic from here on (a `tandem generate` process takes a while to start on a busy machine).
      backend.startTraffic(10);
      // A lag of 30 events is "behind" here, so the test need not wait minutes for the watermark.
      await page.goto(`${backend.url}/?poll=${POLL_MS}&speedLagLimit=30`);
      await page.waitForSelector('#partitions-table tbody tr[data-partition]', { state: 'attached' });
      await page.waitForSelector('#chart-requests .series-table tbody tr[data-bucket]', {
        state: 'attached',
      });
      // Nothing may be wider than the phone's screen (tables scroll inside their own boxes).
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);

      if (backend.live) {
        // The total over the range, not the newest hour's, so an hour turning over cannot fool it.
        const total = async () =>
          (await readOverviewTables(page)).reduce((sum, row) => sum + (row.requests ?? 0), 0);
        const before = await total();
        // The page polls: the counts grow without a reload.
        await withLogs(
          backend,
          expect.poll(total, { timeout: 60_000, interval: 500 }).toBeGreaterThan(before),
        );
      }
      expect(await page.locator('[data-banner="health-speed"]').count()).toBe(0);
      await page.screenshot({ path: join(screenshots, 'dashboard-phone.png'), fullPage: true });

      await backend.stopSpeed();
      const banner = page.locator('[data-banner="health-speed"]');
      await withLogs(backend, expect.poll(() => banner.count(), { timeout: 60_000, interval: 500 }).toBe(1));
      // With several streams the banner names the stream whose speed layer stopped.
      expect(await banner.textContent()).toMatch(/Speed layer (\(events\) )?is (down|behind)/);
      await page.screenshot({ path: join(screenshots, 'dashboard-phone-speed-stopped.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});

interface ValueRow {
  bucket: string;
  source: string;
  sourceText: string;
  value: number | null;
  text: string;
}

/** Reads the table under the chart of one value, newest bucket first. */
async function readValueTable(page: Page, value: string): Promise<ValueRow[]> {
  return page.evaluate((name) => {
    return [...document.querySelectorAll(`#chart-${name} .series-table tbody tr[data-bucket]`)].map((row) => {
      const cell = row.querySelector(`[data-metric="${name}"]`);
      const raw = cell?.dataset.value ?? '';
      return {
        bucket: row.dataset.bucket!,
        source: row.dataset.source!,
        sourceText: row.querySelector('.source')?.textContent ?? '',
        value: raw === '' ? null : Number(raw),
        text: cell?.textContent ?? '',
      };
    });
  }, value);
}

describe('dashboard in Chromium, a deployment with an IoT stream', () => {
  let backend: DashboardBackend;
  let chromium: LaunchedBrowser;

  beforeAll(async () => {
    // The real serving layer over seeded readers (the fixture server with DASHBOARD_BACKEND=fixture).
    backend =
      process.env.DASHBOARD_BACKEND === 'fixture' ? await startFixtureBackend() : await startCatalogBackend();
    chromium = await launchChromium();
  });

  afterAll(async () => {
    const errors: unknown[] = [];
    await chromium?.close().catch((error: unknown) => errors.push(error));
    await backend?.close().catch((error: unknown) => errors.push(error));
    if (errors.length > 0) throw new AggregateError(errors, 'dashboard test teardown failed');
  });

  it('picks the IoT view, its measures and one site, shows the API’s numbers and keeps the choice in the URL', async () => {
    const page = await chromium.context.newPage();
    const problems = watchProblems(page, backend.url);
    try {
      await page.addInitScript((key) => localStorage.setItem('tandem.apiKey', key), backend.apiKey);
      await page.goto(`${backend.url}/?poll=${POLL_MS}`);
      // The web overview opens first, as it always did.
      await page.waitForSelector('#chart-requests .series-table tbody tr[data-bucket]', {
        state: 'attached',
      });
      expect(await page.$eval('#view-select', (el) => (el as unknown as BrowserElement).value)).toBe(
        'endpoint_hourly',
      );

      await page.selectOption('#stream-select', 'iot');
      await expect
        .poll(() => page.$eval('#view-select', (el) => (el as unknown as BrowserElement).value), SOON)
        .toBe('site_minutely');
      await page.waitForSelector('#chart-readings .series-table tbody tr[data-bucket]', {
        state: 'attached',
      });
      // Its first three values by default; swap the average for the p95 and the device count.
      await page.click('#measure-picker input[value="avg_temperature_c"]');
      await page.click('#measure-picker input[value="p95_temperature_c"]');
      await page.click('#measure-picker input[value="devices"]');
      await page.waitForSelector('#filter-value option[value="lyon"]', { state: 'attached' });
      await page.selectOption('#filter-value', 'lyon');
      const charted = ['readings', 'max_temperature_c', 'p95_temperature_c', 'devices'];
      await expect
        .poll(
          () =>
            page.$$eval('#charts .chart-card', (cards) =>
              cards.map((c) => (c as unknown as BrowserElement).id),
            ),
          SOON,
        )
        .toEqual(charted.map((value) => `chart-${value}`));
      await expect
        .poll(() => page.$eval('#overview-range', (el) => el.textContent ?? ''), SOON)
        .toContain('lyon');
      await page.waitForTimeout(2 * POLL_MS);
      await page.click('#pause-button');
      await page.screenshot({ path: join(screenshots, 'dashboard-iot.png'), fullPage: true });

      const { from, to } = await overviewRange(page);
      const granularity = await page.$eval(
        '#overview-range',
        (el) => (el as unknown as BrowserElement).dataset.granularity ?? '',
      );
      // A day of a minute view: five-minute buckets keep the chart readable.
      expect(granularity).toBe('5m');
      const body = await backend.api('/v1/views/site_minutely/series', {
        from,
        to,
        granularity,
        groupBy: 'none',
        measures: charted.join(','),
        site: 'lyon',
      });
      expect(body.series).toHaveLength(1);
      const points = [
        ...(body.series[0].points as Array<{
          bucket: string;
          source: string;
          values: Record<string, number | null>;
        }>),
      ].reverse();
      expect(points).toHaveLength(288);
      for (const value of charted) {
        const shown = await readValueTable(page, value);
        expect(
          shown.map((row) => [row.bucket, row.source, row.value]),
          value,
        ).toEqual(points.map((point) => [point.bucket, point.source, point.values[value] ?? null]));
      }
      // The hours before the stream's first reading say so, rather than showing zeros.
      const readings = await readValueTable(page, 'readings');
      const oldest = readings[readings.length - 1]!;
      expect(oldest).toMatchObject({ source: 'none', sourceText: 'no data', value: null, text: '—' });
      expect(readings.some((row) => row.source === 'batch')).toBe(true);
      expect(readings.some((row) => row.source === 'speed')).toBe(true);

      // The choice is in the URL: a reload (or a shared link) shows the same view.
      const link = page.url();
      expect(new URL(link).searchParams.get('view')).toBe('site_minutely');
      expect(new URL(link).searchParams.get('filter')).toBe('site=lyon');
      await page.goto(link);
      await page.waitForSelector('#chart-p95_temperature_c .series-table tbody tr[data-bucket]', {
        state: 'attached',
      });
      expect(await page.$eval('#stream-select', (el) => (el as unknown as BrowserElement).value)).toBe('iot');
      expect(await page.$eval('#filter-value', (el) => (el as unknown as BrowserElement).value)).toBe('lyon');
      expect(
        await page.$$eval('#measure-picker input', (inputs) =>
          inputs
            .filter((i) => (i as unknown as BrowserElement).checked)
            .map((i) => (i as unknown as BrowserElement).value),
        ),
      ).toEqual(charted);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});

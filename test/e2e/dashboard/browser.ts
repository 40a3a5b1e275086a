// Launches Debian's Chromium through playwright-core for the dashboard test: headless, no network
// beyond the servers the test starts, a fresh profile per launch. Collects console errors and
// failed requests so a test can assert the page ran clean.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface LaunchedBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * A fresh profile directory per launch: playwright takes it as the persistent context's
 * `userDataDir` (it passes `--user-data-dir` itself and refuses the flag in `args`).
 */
export async function launchChromium(viewport = { width: 1440, height: 1000 }): Promise<LaunchedBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'tandem-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      const errors: unknown[] = [];
      await context.close().catch((error: unknown) => errors.push(error));
      await rm(profile, { recursive: true, force: true }).catch((error: unknown) => errors.push(error));
      if (errors.length > 0) throw new AggregateError(errors, 'closing Chromium failed');
    },
  };
}

/**
 * Everything the page complained about: console errors, uncaught exceptions, failed requests, and
 * (with `origin`) any request that leaves it: every asset must come from the server itself.
 */
export function watchProblems(page: Page, origin?: string): string[] {
  const problems: string[] = [];
  if (origin !== undefined) {
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(`${origin}/`) && !url.startsWith('data:')) problems.push(`offsite request: ${url}`);
    });
  }
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('requestfailed', (request) => {
    const failure = request.failure()?.errorText ?? '';
    // A poll aborted because a newer one replaced it is not a problem.
    if (failure.includes('ERR_ABORTED')) return;
    problems.push(`requestfailed: ${request.url()} ${failure}`);
  });
  return problems;
}

// The serving layer of a deployment with an IoT stream beside the web stream, for the dashboard's
// non-web test: the real server (routes generated from the catalog, merge engine, auth, the
// dashboard's files) started in this process over in-memory batch and speed readers seeded with
// readings. The IoT stream began 10 hours ago; its first 6 hours are sealed by batch, the rest
// are in speed, so a 24-hour range shows "no data", batch and speed buckets.
import { createHash, randomUUID } from 'node:crypto';
import { HOUR_MS } from '@tandem/core';
import { buildServer, defaultDashboardDir } from '@tandem/serving';
import { generateEvents, seedReaders } from '../../../packages/serving/test/support/fixtures.ts';
import { generateReadings, testCatalog } from '../../../packages/serving/test/support/streams.ts';
import { apiClient, type DashboardBackend } from './backend.ts';

export async function startCatalogBackend(): Promise<DashboardBackend> {
  const apiKey = `dash-${randomUUID()}`;
  const now = Date.now();
  const currentHour = Math.floor(now / HOUR_MS) * HOUR_MS;
  const iotStart = currentHour - 10 * HOUR_MS;
  const webStart = currentHour - 30 * HOUR_MS;
  const catalog = testCatalog();
  const { batch, speed } = seedReaders(
    generateEvents({ seed: 11, from: webStart, to: now - 60_000, count: 6000 }),
    iotStart,
    6,
    {
      catalog,
      streamEvents: { iot: generateReadings({ seed: 12, from: iotStart, to: now - 60_000, count: 8000 }) },
    },
  );
  speed.watermark = now - 30_000;
  const app = await buildServer({
    catalog,
    batch,
    speed,
    apiKeys: [
      { name: 'dashboard', sha256: createHash('sha256').update(apiKey).digest('hex'), scopes: ['read'] },
    ],
    rateLimit: false,
    logLevel: 'warn',
    dashboardDir: defaultDashboardDir,
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    live: false,
    url,
    apiKey,
    api: apiClient(url, apiKey),
    async publishNextHour() {
      throw new Error('the catalog backend publishes no hours');
    },
    async stopSpeed() {
      speed.fail = true;
    },
    startTraffic() {},
    async stopTraffic() {},
    async waitForSpeedIdle() {},
    async logs() {
      return '';
    },
    close: () => app.close(),
  };
}

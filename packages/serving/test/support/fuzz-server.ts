// Starts the serving layer on a free port over seeded in-memory readers (batch sealed for most of
// the last 48 hours, speed for all of them) for scripts/fuzz-api; prints `listening <url>` once ready.
// The catalog has the web stream, an IoT stream and a stream whose dimensions are named like query
// parameters, so the fuzzer meets the routes generated for any stream.
import { createHash } from 'node:crypto';
import { buildServer } from '../../src/index.ts';
import { HOUR_MS } from '@tandem/core';
import { generateEvents, seedReaders } from './fixtures.ts';
import { RecordingRecomputeQueue } from './recompute-queue.ts';
import { generateMessages, generateReadings, testCatalog } from './streams.ts';

const adminKey = process.env.FUZZ_ADMIN_KEY ?? 'fuzz-admin-key';
const now = Date.now();
const start = Math.floor(now / HOUR_MS) * HOUR_MS - 47 * HOUR_MS;
const events = generateEvents({ seed: 3, from: start, to: now, count: 20_000 });
const catalog = testCatalog();
const { batch, speed } = seedReaders(events, start, 40, {
  catalog,
  streamEvents: {
    iot: generateReadings({ seed: 4, from: start, to: now, count: 20_000 }),
    mail: generateMessages({ seed: 5, from: start, to: now, count: 5_000 }),
  },
});
speed.watermark = now - 30_000;

const app = await buildServer({
  catalog,
  batch,
  speed,
  apiKeys: [
    { name: 'fuzz', sha256: createHash('sha256').update(adminKey).digest('hex'), scopes: ['read', 'admin'] },
  ],
  // High enough that the fuzzer is never limited; the plugin still runs on every request.
  rateLimit: { max: 10_000_000, windowMs: 60_000 },
  recomputeJobs: new RecordingRecomputeQueue(),
  readinessProbes: { redis: async () => 'PONG', kafka: async () => true, lake: async () => true },
  healthChecks: { 'batch scheduler': () => ({ ok: true, detail: 'idle' }) },
  logLevel: 'warn',
  dashboardDir: null,
});
const url = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`listening ${url}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}

// Child process of scripts/bench/serving: serves either a Fastify hello-world (the baseline) or the
// Tandem serving layer over the benchmark's lake and Redis prefix, with production plugins (API
// key auth, Redis-backed rate limit with a limit the load never reaches). Prints `listening <url>`.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { openBatchLayer } from '../../packages/batch/src/index.ts';
import { openObjectStore } from '../../packages/lake/src/index.ts';
import { buildServer } from '../../packages/serving/src/index.ts';
import { RedisSpeedViewReader } from '../../packages/speed/src/index.ts';
import { connectRedis } from '../../packages/connections/src/index.ts';
import { loadConfig } from '../../packages/core/src/config.ts';

// fastify is a dependency of @tandem/serving, not of the workspace root: resolve it from there.
const requireFromServing = createRequire(new URL('../../packages/serving/package.json', import.meta.url));
const Fastify = requireFromServing(
  'fastify',
) as typeof import('../../packages/serving/node_modules/fastify/fastify.js').default;

const mode = process.argv[2];
const config = loadConfig();

if (mode === 'hello') {
  const app = Fastify({ logger: false });
  app.get('/', async () => ({ hello: 'world' }));
  const payloadFile = process.env.BENCH_PAYLOAD_FILE;
  if (payloadFile !== undefined) {
    const payload = readFileSync(payloadFile);
    app.get('/payload', async (_request, reply) => reply.type('application/json').send(payload));
  }
  console.log(`listening ${await app.listen({ host: '127.0.0.1', port: 0 })}`);
} else {
  const lakeUrl = process.env.BENCH_LAKE_URL!;
  const prefix = process.env.BENCH_PREFIX!;
  const apiKey = process.env.BENCH_API_KEY!;
  const redis = await connectRedis(config.redis);
  const store = openObjectStore({ url: lakeUrl });
  const batch = await openBatchLayer({
    store,
    redis,
    redisPrefix: prefix,
    tempDirectory: process.env.BENCH_TEMP_DIR!,
    threads: 1,
    memoryLimit: '512MB',
  });
  const app = await buildServer({
    batch: batch.reader,
    speed: new RedisSpeedViewReader({ redis, prefix }),
    redis,
    redisPrefix: prefix,
    apiKeys: [{ name: 'bench', sha256: createHash('sha256').update(apiKey).digest('hex'), scopes: ['read'] }],
    rateLimit: { max: 1_000_000_000, windowMs: 60_000 },
    logLevel: 'warn',
    dashboardDir: null,
  });
  app.addHook('onClose', async () => {
    await batch.close();
    await store.close();
    await redis.quit();
  });
  console.log(`listening ${await app.listen({ host: '127.0.0.1', port: 0 })}`);
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

// Benchmark of the serving layer on the local stack (one JSON line on stdout), per issue 7:
// - seeds 30 days x 200 endpoints of batch views by writing raw logs to a file:// lake and running
//   the real batch layer over every hour (DuckDB -> Parquet -> pointers), plus the live hours (the
//   last two sealed hours, as in the grace period, and the unsealed ones) in Redis through the
//   speed layer's apply script;
// - autocannon, 50 connections, 20 s each, against (a) a 24-hour hourly series of one endpoint
//   (sealed hours from batch, the live hours from speed) and (b) a 7-day daily series of all 200
//   endpoints (groupBy=endpoint) over the last 7 complete UTC days, and a Fastify hello-world
//   measured in the same run as the baseline. The servers run in child processes, with API-key
//   auth and the Redis-backed rate limit on (limit out of reach), logging at warn. The hello-world
//   child also serves (b)'s answer as static bytes, whose p99 (stderr) is what moving an answer of
//   that size costs here with no work at all.
// Cold (first) latencies go to stderr; BENCH_DURATION, BENCH_EVENTS_PER_HOUR shrink a trial run,
// BENCH_KEEP=1 keeps the seeded lake and Redis keys (their location goes to stderr).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { openBatchLayer } from '../../packages/batch/src/index.ts';
import { loadConfig } from '../../packages/core/src/config.ts';
import { DAY_MS, getView, HOUR_MS, type TandemEvent } from '../../packages/core/src/index.ts';
import { logPartitionPrefix, openObjectStore } from '../../packages/lake/src/index.ts';
import { connectRedis } from '../../packages/connections/src/index.ts';
import { seedSpeedViews } from '../../packages/speed/src/testing.ts';
import { mulberry32 } from '../../test/support/random.ts';
import { deleteKeys } from '../../test/support/redis.ts';

const DAYS = 30;
const ENDPOINTS = 200;
const EVENTS_PER_HOUR = Number(process.env.BENCH_EVENTS_PER_HOUR ?? 1000);
const DURATION_S = Number(process.env.BENCH_DURATION ?? 20);
const CONNECTIONS = 50;
const log = (message: string) => process.stderr.write(`[bench serving] ${message}\n`);

// autocannon is a dev dependency of @tandem/serving, not of the workspace root.
const requireFromServing = createRequire(new URL('../../packages/serving/package.json', import.meta.url));
type AutocannonResult = {
  requests: { average: number };
  latency: { p99: number; average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
};
const autocannon = requireFromServing('autocannon') as (options: object) => Promise<AutocannonResult>;

const config = loadConfig();
const runId = randomUUID().slice(0, 8);
const prefix = `bench-serving-${runId}`;
const apiKey = `bench-${randomUUID()}`;
const now = Date.now();
const currentHour = Math.floor(now / HOUR_MS) * HOUR_MS;
const sealedEnd = currentHour - 2 * HOUR_MS;
const sealedStart = Math.floor((sealedEnd - DAYS * DAY_MS) / HOUR_MS) * HOUR_MS;
const speedStart = sealedEnd - 2 * HOUR_MS;

function hourEvents(hour: number, until = hour + HOUR_MS): TandemEvent[] {
  const rand = mulberry32(hour / HOUR_MS);
  const events: TandemEvent[] = [];
  const statuses = [200, 200, 200, 200, 201, 204, 304, 404, 500, 503];
  for (let i = 0; i < EVENTS_PER_HOUR; i++) {
    const timestamp = hour + Math.floor(rand() * HOUR_MS);
    if (timestamp >= until) continue;
    // Zipf-like: low endpoint numbers are busier.
    const endpoint = Math.floor(ENDPOINTS * rand() ** 2);
    events.push({
      event_id: `${hour}-${i}`,
      timestamp,
      endpoint: `/api/resource-${endpoint}`,
      method: rand() < 0.8 ? 'GET' : 'POST',
      status_code: statuses[Math.floor(rand() * statuses.length)]!,
      response_time_ms: 1 + Math.floor(rand() * rand() * 3000),
      bytes_sent: Math.floor(rand() * 100_000),
      user_id: `user-${Math.floor(rand() * 5000)}`,
      session_id: null,
      page_id: rand() < 0.7 ? `page-${Math.floor(rand() * 300)}` : null,
    });
  }
  return events;
}

async function seed(lakeDir: string, tempDirectory: string): Promise<void> {
  const started = performance.now();
  const store = openObjectStore({ url: `file://${lakeDir}` });
  const hours: number[] = [];
  for (let hour = sealedStart; hour < sealedEnd; hour += HOUR_MS) hours.push(hour);
  for (const hour of hours) {
    const lines = hourEvents(hour).map((event) => JSON.stringify(event));
    await store.put(
      `${logPartitionPrefix(hour)}events+0+${hour / HOUR_MS}.json.gz`,
      gzipSync(`${lines.join('\n')}\n`),
    );
  }
  log(`wrote ${hours.length} hours of logs (${hours.length * EVENTS_PER_HOUR} events) in ${ms(started)}`);
  const redis = await connectRedis(config.redis);
  const batch = await openBatchLayer({
    store,
    redis,
    redisPrefix: prefix,
    tempDirectory,
    threads: 2,
    memoryLimit: '1GB',
    concurrency: 2,
    logger: requireFromServing('pino')({ level: 'error' }),
  });
  try {
    const batchStarted = performance.now();
    const outcomes = await batch.runHours('endpoint_hourly', hours);
    const failed = outcomes.filter((outcome) => outcome.status !== 'published');
    if (failed.length > 0)
      throw new Error(`batch did not publish ${failed.length} hours: ${failed[0]?.reason}`);
    log(`batch published ${outcomes.length} hours of endpoint_hourly in ${ms(batchStarted)}`);

    // Live hours through the speed layer's apply script (partition 0), watermark near now.
    const live: TandemEvent[] = [];
    for (let hour = speedStart; hour <= currentHour; hour += HOUR_MS) live.push(...hourEvents(hour, now));
    await seedSpeedViews(redis, {
      prefix,
      partition: 0,
      views: [getView('endpoint_hourly')],
      events: live,
      owner: 'bench',
    });
    log(
      `speed holds ${live.length} live events (${((now - speedStart) / HOUR_MS) | 0}h); seeding took ${ms(started)}`,
    );
  } finally {
    await batch.close();
    await redis.quit();
    await store.close();
  }
}

function ms(started: number): string {
  return `${((performance.now() - started) / 1000).toFixed(1)} s`;
}

async function startChild(
  args: string[],
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string }> {
  const script = fileURLToPath(new URL('./serving-server.ts', import.meta.url));
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening (\S+)/.exec(output);
      if (match !== null) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server ${args.join(' ')} exited with ${code}`)));
  });
  return { child, url };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function load(url: string, headers: Record<string, string>, label: string): Promise<AutocannonResult> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S, headers });
  log(
    `${label}: ${result.requests.average.toFixed(0)} req/s, p99 ${result.latency.p99} ms, ` +
      `avg ${result.latency.average.toFixed(2)} ms, non-2xx ${result.non2xx}, errors ${result.errors}`,
  );
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(
      `${label}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`,
    );
  }
  return result;
}

async function timed(url: string, headers: Record<string, string>): Promise<string> {
  const started = performance.now();
  const response = await fetch(url, { headers });
  const body = await response.text();
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${body.slice(0, 300)}`);
  return `${(performance.now() - started).toFixed(1)} ms, ${body.length} bytes`;
}

const lakeDir = await mkdtemp(join(tmpdir(), 'tandem-bench-serving-lake-'));
const tempDirectory = await mkdtemp(join(tmpdir(), 'tandem-bench-serving-tmp-'));
const children: ChildProcess[] = [];
const cleanupRedis = async () => {
  const redis = await connectRedis(config.redis);
  await deleteKeys(redis, `${prefix}*`);
  await redis.quit();
};
try {
  await seed(lakeDir, tempDirectory);
  const serving = await startChild(['serving'], {
    BENCH_LAKE_URL: `file://${lakeDir}`,
    BENCH_PREFIX: prefix,
    BENCH_API_KEY: apiKey,
    BENCH_TEMP_DIR: tempDirectory,
  });
  children.push(serving.child);
  const headers = { 'x-api-key': apiKey };
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const urlA =
    `${serving.url}/v1/views/endpoint_hourly/series?from=${new Date(now - DAY_MS).toISOString()}` +
    `&to=${new Date(now).toISOString()}&granularity=1h&endpoint=${encodeURIComponent('/api/resource-3')}`;
  const urlB =
    `${serving.url}/v1/views/endpoint_hourly/series?from=${new Date(today - 7 * DAY_MS).toISOString()}` +
    `&to=${new Date(today).toISOString()}&granularity=1d&groupBy=endpoint`;
  log(`cold (a): ${await timed(urlA, headers)}; cold (b): ${await timed(urlB, headers)}`);
  // The hello-world child also serves (b)'s bytes as a static payload: the ceiling that moving
  // an answer of that size over HTTP alone allows on this machine (reported on stderr only).
  const payloadFile = join(tempDirectory, 'payload-b.json');
  await writeFile(payloadFile, Buffer.from(await (await fetch(urlB, { headers })).arrayBuffer()));
  const hello = await startChild(['hello'], { BENCH_PAYLOAD_FILE: payloadFile });
  children.push(hello.child);
  log(`warm (a): ${await timed(urlA, headers)}; warm (b): ${await timed(urlB, headers)}`);

  const helloResult = await load(`${hello.url}/`, {}, 'hello');
  const a = await load(urlA, headers, '(a) 24h series, one endpoint');
  const b = await load(urlB, headers, '(b) 7-day daily series, all endpoints');
  const payload = await load(`${hello.url}/payload`, {}, "static payload of (b)'s size (ceiling)");
  const ratio = a.requests.average / helloResult.requests.average;
  log(
    `(a) at ${(ratio * 100).toFixed(1)}% of hello-world (target >= 15%), p99 ${a.latency.p99} ms (target <= 25); ` +
      `(b) p99 ${b.latency.p99} ms (target <= 100; a static payload of its size: p99 ${payload.latency.p99} ms)`,
  );
  console.log(
    JSON.stringify({
      bench: 'serving',
      a_req_per_s: Math.round(a.requests.average),
      a_p99_ms: a.latency.p99,
      b_req_per_s: Math.round(b.requests.average),
      b_p99_ms: b.latency.p99,
      hello_req_per_s: Math.round(helloResult.requests.average),
    }),
  );
} finally {
  const errors: unknown[] = [];
  for (const child of children) await stopChild(child).catch((error) => errors.push(error));
  if (process.env.BENCH_KEEP === '1') {
    log(`kept: BENCH_LAKE_URL=file://${lakeDir} BENCH_PREFIX=${prefix} BENCH_TEMP_DIR=${tempDirectory}`);
  } else {
    await cleanupRedis().catch((error) => errors.push(error));
    await rm(lakeDir, { recursive: true, force: true });
    await rm(tempDirectory, { recursive: true, force: true });
  }
  if (errors.length > 0) log(`cleanup: ${errors.map(String).join('; ')}`);
}

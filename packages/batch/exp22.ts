import { DuckDBInstance } from '@duckdb/node-api';
import { getView } from '@tandem/core';
import { readdirSync } from 'node:fs';
import { computeHours } from './src/hour-compute.ts';
const [nHours, mem, threads] = [
  Number(process.argv[2] ?? 6),
  process.argv[3] ?? '1GB',
  process.argv[4] ?? '2',
];
const BASE = Date.UTC(2024, 4, 1);
const root = '/work/main/.data/bench/batch/ndjson/logs/dt=2024-05-01';
const hours = Array.from({ length: nHours }, (_, h) => BASE + h * 3600000);
const files = hours.flatMap((hour, h) => {
  const d = `${root}/hour=${String(h).padStart(2, '0')}`;
  return readdirSync(d).map((f) => ({
    key: f,
    path: `${d}/${f}`,
    format: 'ndjson' as const,
    partitionHour: hour,
    size: 1,
  }));
});
const inst = await DuckDBInstance.create(':memory:', {
  threads,
  memory_limit: mem,
  temp_directory: '/tmp/exp/spill5',
  preserve_insertion_order: 'false',
});
const c = await inst.connect();
const mon = await inst.connect();
let peakDuck = 0;
let peakTemp = 0;
let t0 = Date.now();
const timer = setInterval(async () => {
  try {
    const r = await mon.runAndReadAll(
      `SELECT sum(memory_usage_bytes), sum(temporary_storage_bytes) FROM duckdb_memory()`,
    );
    const [m, t] = r.getRowsJS()[0] as [bigint, bigint];
    peakDuck = Math.max(peakDuck, Number(m));
    peakTemp = Math.max(peakTemp, Number(t));
    if (process.env.TRACE)
      console.log(
        't',
        Date.now() - t0,
        'rss',
        Math.round(process.memoryUsage().rss / 2 ** 20),
        'duck',
        Math.round(Number(m) / 2 ** 20),
        'tmp',
        Math.round(Number(t) / 2 ** 20),
      );
  } catch {}
}, 1000);
t0 = Date.now();
await computeHours(c, {
  view: getView('endpoint_hourly'),
  files,
  partitionHours: hours,
  outputHours: hours,
  nowMs: Date.now(),
  futureToleranceMs: 300000,
  maxBytes: 65536,
  sampleSize: 5,
  sampleChars: 100,
});
clearInterval(timer);
console.log(
  nHours,
  mem,
  'total',
  Date.now() - t0,
  'ms; peak rss MiB',
  Math.round(process.resourceUsage().maxRSS / 1024),
  'duckdb tracked MiB',
  Math.round(peakDuck / 2 ** 20),
  'spilled MiB',
  Math.round(peakTemp / 2 ** 20),
);

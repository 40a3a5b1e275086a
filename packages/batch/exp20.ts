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
const t0 = Date.now();
const r = await computeHours(c, {
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
console.log(
  'total',
  Date.now() - t0,
  'ms; rows',
  [...r.partials.values()].reduce((s, p) => s + p.length, 0),
  'peak rss MiB',
  Math.round(process.resourceUsage().maxRSS / 1024),
);

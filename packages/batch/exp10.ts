import { DuckDBInstance } from '@duckdb/node-api';
import { getView } from '@tandem/core';
import { computeHours } from './src/hour-compute.ts';
import { readdirSync } from 'node:fs';
const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
const c = await inst.connect();
const view = getView(process.argv[2] ?? 'endpoint_hourly');
const base = Date.UTC(2024, 2, 1);
const files = [0, 1].flatMap((h) => {
  const d = `/tmp/exp/lake2/logs/dt=2024-03-01/hour=0${h}`;
  return readdirSync(d).map((f) => ({
    key: `x/${f}`,
    path: `${d}/${f}`,
    format: 'ndjson' as const,
    partitionHour: base + h * 3600000,
    size: 1,
  }));
});
const t0 = Date.now();
const r = await computeHours(c, {
  view,
  files,
  partitionHours: [base, base + 3600000],
  outputHours: [base, base + 3600000],
  nowMs: Date.now(),
  futureToleranceMs: 300000,
  maxBytes: 2000,
  sampleSize: 5,
  sampleChars: 100,
});
console.log(Date.now() - t0, 'ms');
console.log(JSON.stringify([...r.stats.values()], null, 1).slice(0, 3000));
for (const [h, rows] of r.partials)
  console.log(h, rows.length, JSON.stringify(rows[0]?.states).slice(0, 200));

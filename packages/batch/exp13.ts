import { DuckDBInstance } from '@duckdb/node-api';
import { getView } from '@tandem/core';
import { computeHours } from './src/hour-compute.ts';
import { generateHour, writeHour, encodeNdjson } from './test/support/fixtures.ts';
import { gzipSync } from 'node:zlib';
import { writeFileSync, mkdirSync } from 'node:fs';
const BASE = Date.UTC(2024, 2, 1);
const data = generateHour(BASE, {
  seed: 123,
  events: Number(process.argv[2] ?? 60000),
  users: 20_000,
  endpoints: 50,
  badLines: 0,
  duplicateShare: 0.02,
  files: 3,
  userIdPadding: Number(process.argv[4] ?? 0),
});
mkdirSync('/tmp/exp/spilltest', { recursive: true });
const files = [...data.files].map(([name, lines], i) => {
  const p = `/tmp/exp/spilltest/${name}`;
  writeFileSync(p, gzipSync(encodeNdjson(lines)));
  return { key: name, path: p, format: 'ndjson' as const, partitionHour: BASE, size: 1 };
});
const inst = await DuckDBInstance.create(':memory:', {
  threads: '1',
  memory_limit: process.argv[3] ?? '48MB',
  temp_directory: '/tmp/exp/spill2',
  preserve_insertion_order: 'false',
});
const c = await inst.connect();
const t0 = Date.now();
const r = await computeHours(c, {
  view: getView('endpoint_hourly'),
  files,
  partitionHours: [BASE],
  outputHours: [BASE],
  nowMs: Date.now(),
  futureToleranceMs: 300000,
  maxBytes: 65536,
  sampleSize: 5,
  sampleChars: 100,
});
console.log(Date.now() - t0, 'ms', r.partials.get(BASE)?.length);

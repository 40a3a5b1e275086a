// Benchmark of @tandem/batch (one JSON line on stdout): endpoint_hourly for a whole day of 10M
// events (24 hourly partitions of gzipped NDJSON in a local lake), computed by the batch layer end to
// end (staging, validation, dedup, compile, Parquet + pointer publish) against DuckDB alone running
// the equivalent built-in query on the same files in the same run; the same day from Parquet inputs;
// and the batch run's peak RSS. Each phase runs in its own process; best of BENCH_RUNS (default 1).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureArchivedData, ensureBenchData } from './batch-data.ts';

// `--stream iot` (or BENCH_STREAM=iot): the same benchmark on the IoT stream (batch-iot.ts).
const streamFlag = process.argv.indexOf('--stream');
if ((streamFlag >= 0 ? process.argv[streamFlag + 1] : process.env.BENCH_STREAM) === 'iot') {
  await import('./batch-iot.ts');
  process.exit(0);
}

const root = join(new URL('../..', import.meta.url).pathname, '.data', 'bench', 'batch');
const runs = Number(process.env.BENCH_RUNS ?? 1);
const data = await ensureBenchData(root, Number(process.env.BENCH_EVENTS ?? 10_000_000));
const archived = ensureArchivedData(root, data.ndjsonLake);

interface PhaseResult {
  ms: number;
  peak_rss_mib: number;
  rows_in?: number;
  files?: number;
  trusted_files?: number;
}

function phase(name: 'tandem' | 'duckdb', lake: string): PhaseResult {
  const child = spawnSync(
    process.execPath,
    [new URL('./batch-phase.ts', import.meta.url).pathname, name, lake],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  if (child.status !== 0) throw new Error(`bench phase ${name} failed with exit code ${child.status}`);
  const line = child.stdout.trim().split('\n').at(-1)!;
  const result = JSON.parse(line) as PhaseResult;
  process.stderr.write(`[bench] ${name} ${lake.slice(lake.lastIndexOf('/') + 1)}: ${line}\n`);
  return result;
}

const best = (results: PhaseResult[]) => results.reduce((a, b) => (b.ms < a.ms ? b : a));
const tandem: PhaseResult[] = [];
const duckdb: PhaseResult[] = [];
const parquet: PhaseResult[] = [];
const trusted: PhaseResult[] = [];
for (let run = 0; run < runs; run++) {
  tandem.push(phase('tandem', data.ndjsonLake));
  duckdb.push(phase('duckdb', data.ndjsonLake));
  parquet.push(phase('tandem', data.parquetLake));
  trusted.push(phase('tandem', archived.lake));
}
const t = best(tandem);
const d = best(duckdb);
const p = best(parquet);
const a = best(trusted);
if (t.rows_in !== data.lines)
  throw new Error(`the batch layer read ${t.rows_in} lines, expected ${data.lines}`);
if (a.rows_in !== archived.lines || a.trusted_files !== a.files)
  throw new Error(
    `archived lake: read ${a.rows_in} of ${archived.lines} lines, ${a.trusted_files} of ${a.files} files trusted`,
  );
process.stdout.write(
  `${JSON.stringify({
    bench: 'batch',
    events: data.lines,
    tandem_ms: t.ms,
    duckdb_ms: d.ms,
    parquet_tandem_ms: p.ms,
    // the same events as the archiver writes them (validated at ingestion, with manifests)
    archived_tandem_ms: a.ms,
    peak_rss_mib: Math.max(...[...tandem, ...parquet, ...trusted].map((r) => r.peak_rss_mib)),
    events_per_s: Math.round((data.lines / t.ms) * 1000),
    ratio_vs_duckdb: Math.round((t.ms / d.ms) * 100) / 100,
    duckdb_peak_rss_mib: d.peak_rss_mib,
  })}\n`,
);

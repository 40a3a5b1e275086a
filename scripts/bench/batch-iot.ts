// The batch benchmark on a declared stream other than the web one (`scripts/bench/batch --stream
// iot`, or BENCH_STREAM=iot; one JSON line on stdout): site_minutely of the IoT stream for a whole
// day of readings (10M lines by default, BENCH_EVENTS; 24 hourly partitions of gzipped NDJSON under
// streams/iot/logs/ in a local lake), computed by the batch layer end to end against DuckDB alone
// running the equivalent built-in query on the same files in the same run; the same day as the IoT
// archiver writes it (trusted read); and the batch runs' peak RSS. Each phase runs in its own
// process; best of BENCH_RUNS (default 1).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureIotBenchData } from './batch-iot-data.ts';

const root = join(new URL('../..', import.meta.url).pathname, '.data', 'bench', 'batch-iot');
const runs = Number(process.env.BENCH_RUNS ?? 1);
const data = await ensureIotBenchData(root, Number(process.env.BENCH_EVENTS ?? 10_000_000));

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
    [new URL('./batch-iot-phase.ts', import.meta.url).pathname, name, lake],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 * 1024 * 1024 },
  );
  if (child.status !== 0) throw new Error(`bench phase ${name} failed with exit code ${child.status}`);
  const line = child.stdout.trim().split('\n').at(-1)!;
  process.stderr.write(`[bench] iot ${name} ${lake.slice(lake.lastIndexOf('/') + 1)}: ${line}\n`);
  return JSON.parse(line) as PhaseResult;
}

const best = (results: PhaseResult[]) => results.reduce((a, b) => (b.ms < a.ms ? b : a));
const tandem: PhaseResult[] = [];
const duckdb: PhaseResult[] = [];
const trusted: PhaseResult[] = [];
for (let run = 0; run < runs; run++) {
  tandem.push(phase('tandem', data.ndjsonLake));
  duckdb.push(phase('duckdb', data.ndjsonLake));
  trusted.push(phase('tandem', data.archivedLake));
}
const t = best(tandem);
const d = best(duckdb);
const a = best(trusted);
if (t.rows_in !== data.lines)
  throw new Error(`the batch layer read ${t.rows_in} lines, expected ${data.lines}`);
if (a.rows_in !== data.archivedLines || a.trusted_files !== a.files)
  throw new Error(
    `archived lake: read ${a.rows_in} of ${data.archivedLines} lines, ${a.trusted_files} of ${a.files} files trusted`,
  );
process.stdout.write(
  `${JSON.stringify({
    bench: 'batch',
    stream: 'iot',
    view: 'site_minutely',
    events: data.lines,
    tandem_ms: t.ms,
    duckdb_ms: d.ms,
    // the same readings as the IoT archiver writes them (validated at ingestion, with manifests)
    archived_tandem_ms: a.ms,
    peak_rss_mib: Math.max(...[...tandem, ...trusted].map((r) => r.peak_rss_mib)),
    events_per_s: Math.round((data.lines / t.ms) * 1000),
    ratio_vs_duckdb: Math.round((t.ms / d.ms) * 100) / 100,
    duckdb_peak_rss_mib: d.peak_rss_mib,
  })}\n`,
);

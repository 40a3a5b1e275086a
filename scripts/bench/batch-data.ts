// Generates the batch benchmark's day once: 24 hourly partitions × 4 files of gzipped NDJSON with
// 10M lines in total (0.5% producer-retry duplicates, one malformed line per file), and the same
// rows as one Parquet file per hour in a second lake. Deterministic; a marker file records the shape.
// A third lake holds the day as the archiver would have written it (archivedLake).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DuckDbEngine } from '../../packages/batch/src/index.ts';
import { EVENT_VALIDATOR_VERSION, parseEvent } from '../../packages/core/src/index.ts';
import { archiveManifestKey, buildArchiveManifest } from '../../packages/lake/src/index.ts';
import { HOUR_MS } from '../../packages/core/src/time.ts';

export const BENCH_DAY = Date.UTC(2024, 4, 1);
const FILES_PER_HOUR = 4;

export interface BenchData {
  ndjsonLake: string;
  parquetLake: string;
  lines: number;
  parquetRows: number;
}

/**
 * The NDJSON day as the archiver writes it: every valid line run through core's validator and
 * written back as `JSON.stringify` of the normalized event (malformed lines went to the dead-letter
 * topic instead), with a manifest per file. Generated once from the NDJSON lake; returns its path
 * and its line count.
 */
export function ensureArchivedData(root: string, ndjsonLake: string): { lake: string; lines: number } {
  const lake = join(root, 'archived');
  const marker = join(root, 'archived.json');
  const shape = {
    version: 1,
    validator: EVENT_VALIDATOR_VERSION,
    source: readFileSync(join(root, 'generated.json'), 'utf8'),
  };
  if (existsSync(marker)) {
    const found = JSON.parse(readFileSync(marker, 'utf8')) as typeof shape & { lines: number };
    if (
      found.version === shape.version &&
      found.validator === shape.validator &&
      found.source === shape.source
    ) {
      return { lake, lines: found.lines };
    }
  }
  let lines = 0;
  const started = Date.now();
  const files = (readdirSync(join(ndjsonLake, 'logs'), { recursive: true }) as string[])
    .filter((name) => name.endsWith('.json.gz'))
    .sort();
  for (const name of files) {
    const key = `logs/${name}`;
    const out: string[] = [];
    for (const line of gunzipSync(readFileSync(join(ndjsonLake, key)))
      .toString('utf8')
      .split('\n')) {
      if (line === '') continue;
      const parsed = parseEvent(line, { now: () => Date.now() });
      if (parsed.ok) out.push(JSON.stringify(parsed.event));
    }
    const body = gzipSync(`${out.join('\n')}\n`);
    const manifest = buildArchiveManifest(key, body, out.length, EVENT_VALIDATOR_VERSION, 65_536);
    const manifestPath = join(lake, archiveManifestKey(key)!);
    mkdirSync(dirname(join(lake, key)), { recursive: true });
    mkdirSync(dirname(manifestPath), { recursive: true });
    writeFileSync(join(lake, key), body);
    writeFileSync(manifestPath, JSON.stringify(manifest));
    lines += out.length;
  }
  process.stderr.write(
    `[bench] archived copy of ${relative(root, ndjsonLake)}: ${lines} lines (${Math.round((Date.now() - started) / 1000)}s)\n`,
  );
  writeFileSync(marker, JSON.stringify({ ...shape, lines }));
  return { lake, lines };
}

export async function ensureBenchData(root: string, lines = 10_000_000): Promise<BenchData> {
  const ndjsonLake = join(root, 'ndjson');
  const parquetLake = join(root, 'parquet');
  const marker = join(root, 'generated.json');
  const shape = { version: 2, lines, filesPerHour: FILES_PER_HOUR, day: BENCH_DAY };
  if (existsSync(marker)) {
    const found = JSON.parse(readFileSync(marker, 'utf8')) as typeof shape & { parquetRows: number };
    if (
      JSON.stringify({ ...found, parquetRows: undefined }) ===
      JSON.stringify({ ...shape, parquetRows: undefined })
    ) {
      return { ndjsonLake, parquetLake, lines, parquetRows: found.parquetRows };
    }
  }
  const files = 24 * FILES_PER_HOUR;
  const bad = files; // one malformed line per file
  // unique + ceil(unique / 199) duplicates + bad = lines
  let unique = Math.floor(((lines - bad) * 199) / 200);
  while (unique + Math.ceil(unique / 199) + bad < lines) unique++;
  while (unique + Math.ceil(unique / 199) + bad > lines) unique--;
  const engine = await DuckDbEngine.create({
    threads: 2,
    memoryLimit: '2GB',
    tempDirectory: join(root, 'tmp'),
  });
  const started = Date.now();
  let parquetRows = 0;
  try {
    await engine.withConnection(async (connection) => {
      for (let hour = 0; hour < 24; hour++) {
        const hourMs = BENCH_DAY + hour * HOUR_MS;
        const iso = new Date(hourMs).toISOString();
        const partition = `logs/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
        mkdirSync(join(ndjsonLake, partition), { recursive: true });
        mkdirSync(join(parquetLake, partition), { recursive: true });
        const perFile: string[] = [];
        for (let file = 0; file < FILES_PER_HOUR; file++) {
          const k = hour * FILES_PER_HOUR + file;
          const from = Math.floor((k * unique) / files);
          const to = Math.floor(((k + 1) * unique) / files);
          const rows = `
            SELECT i,
              'evt-' || i AS event_id,
              ${hourMs} + (hash(i, 11) % ${HOUR_MS})::BIGINT AS ts,
              (hash(i, 12) % 1000000) / 1e6 AS u1,
              (hash(i, 13) % 1000000) / 1e6 AS u2,
              (hash(i, 14) % 1000) AS u3
            FROM range(${from}, ${to}) t(i)`;
          const events = `
            SELECT i, event_id, ts,
              '/api/v1/resource-' || floor(200 * u1 * u1)::INT AS endpoint,
              CASE WHEN u3 < 700 THEN 'GET' ELSE 'POST' END AS method,
              CASE WHEN u3 < 900 THEN 200 WHEN u3 < 950 THEN 201 WHEN u3 < 985 THEN 404 ELSE 503 END AS status_code,
              round(1 + exp(u2 * 6), 3) AS response_time_ms,
              CASE WHEN u3 % 10 = 0 THEN NULL ELSE (hash(i, 15) % 50000)::BIGINT END AS bytes_sent,
              'user-' || (hash(i, 16) % 200000) AS user_id,
              's-' || (hash(i, 16) % 200000) || '-' || (ts // 1800000) AS session_id,
              '/page/' || (hash(i, 17) % 5000) AS page_id
            FROM (${rows})`;
          const withDuplicates = `SELECT * FROM (${events}) UNION ALL SELECT * FROM (${events}) WHERE i % 199 = 0`;
          const path = join(ndjsonLake, partition, `events+${file}+${from}.json.gz`);
          // Two timestamp encodings, as producers send them: ISO-8601 with zone, and epoch ms.
          await connection.run(`
            COPY (
              SELECT line FROM (
                SELECT i, to_json(struct_pack(event_id := event_id,
                  "timestamp" := CASE WHEN i % 3 = 0 THEN to_json(ts) ELSE to_json(strftime(make_timestamp(ts * 1000), '%Y-%m-%dT%H:%M:%S.%gZ')) END,
                  endpoint := endpoint, method := method, status_code := status_code, response_time_ms := response_time_ms,
                  bytes_sent := bytes_sent, user_id := user_id, session_id := session_id, page_id := page_id))::VARCHAR AS line
                FROM (${withDuplicates})
                UNION ALL SELECT -1, '{"event_id": "broken-${k}", "timestamp": '
              ) ORDER BY i
            ) TO '${path}' (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x01', COMPRESSION gzip)`);
          perFile.push(withDuplicates);
        }
        const parquetPath = join(parquetLake, partition, 'part-0.parquet');
        const result = await connection.runAndReadAll(`
          COPY (SELECT event_id, ts AS "timestamp", endpoint, method, status_code, response_time_ms, bytes_sent,
                       user_id, session_id, page_id FROM (${perFile.join(' UNION ALL ')}))
          TO '${parquetPath}' (FORMAT parquet, COMPRESSION zstd)`);
        parquetRows += Number(result.getRowsJS()[0]?.[0] ?? 0);
        process.stderr.write(
          `[bench] generated hour ${hour + 1}/24 (${Math.round((Date.now() - started) / 1000)}s)\n`,
        );
      }
    });
  } finally {
    engine.close();
  }
  writeFileSync(marker, JSON.stringify({ ...shape, parquetRows }));
  return { ndjsonLake, parquetLake, lines, parquetRows };
}

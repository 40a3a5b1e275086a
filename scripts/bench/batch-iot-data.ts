// The IoT stream of the batch benchmark (`scripts/bench/batch --stream iot`): the stream and its
// site_minutely view as examples/iot/tandem.config.ts declares them, and a day of readings generated
// once: 24 hourly partitions × 4 files of gzipped NDJSON under streams/iot/logs/ (0.5% producer
// retries, one malformed line per file), plus the same day as the IoT archiver writes it (each valid
// line through the stream's validator and back as JSON.stringify, a manifest per file naming the
// stream's fingerprint). Deterministic; marker files record the shapes.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DuckDbEngine } from '../../packages/batch/src/index.ts';
import {
  type Catalog,
  compileStreamValidator,
  createCatalog,
  defineStream,
  defineView,
  type Stream,
  type View,
} from '../../packages/core/src/index.ts';
import {
  archiveManifestKey,
  buildArchiveManifest,
  logPartitionPrefix,
} from '../../packages/lake/src/index.ts';
import { HOUR_MS } from '../../packages/core/src/time.ts';

export const IOT_BENCH_DAY = Date.UTC(2024, 4, 1);
const FILES_PER_HOUR = 4;

/** The example's IoT stream (examples/iot/tandem.config.ts). */
export const iotBenchStream: Stream = defineStream({
  name: 'iot',
  topic: 'iot-readings',
  schema: {
    type: 'object',
    properties: {
      reading_id: { type: 'string', minLength: 1, maxLength: 64 },
      ts: { type: 'integer', description: 'epoch milliseconds' },
      site: { type: 'string', minLength: 1, maxLength: 64 },
      device: { type: 'string', minLength: 1, maxLength: 64 },
      kind: { type: 'string', enum: ['thermo', 'hygro', 'combo'], default: 'thermo' },
      temperature_c: { type: 'number', minimum: -90, maximum: 150 },
      humidity: { type: ['number', 'null'], minimum: 0, maximum: 100 },
      battery_low: { type: 'boolean', default: false },
    },
    required: ['reading_id', 'ts', 'site', 'device', 'temperature_c'],
  },
  time: { field: 'ts', encoding: 'epoch_ms' },
  idField: 'reading_id',
});

/** Per site per minute: readings, avg/max/p95 temperature, distinct devices, low-battery readings. */
export const iotBenchView: View = defineView(
  {
    name: 'site_minutely',
    stream: 'iot',
    bucket: '1m',
    dimensions: ['site'],
    measures: {
      readings: { kind: 'count' },
      avg_temperature_c: { kind: 'avg', field: 'temperature_c' },
      max_temperature_c: { kind: 'max', field: 'temperature_c' },
      temperature_c: { kind: 'quantiles', field: 'temperature_c', qs: [0.95] },
      devices: { kind: 'distinct', field: 'device' },
      low_battery: { kind: 'count', where: { op: 'eq', field: 'battery_low', value: true } },
    },
  },
  iotBenchStream,
);

export const iotBenchCatalog: Catalog = createCatalog([iotBenchStream], [iotBenchView]);

export interface IotBenchData {
  ndjsonLake: string;
  archivedLake: string;
  lines: number;
  archivedLines: number;
}

/** Generates the day once (and its archived copy); returns the lakes and line counts. */
export async function ensureIotBenchData(root: string, lines = 10_000_000): Promise<IotBenchData> {
  const ndjsonLake = join(root, 'ndjson');
  const marker = join(root, 'generated.json');
  const shape = { version: 1, lines, filesPerHour: FILES_PER_HOUR, day: IOT_BENCH_DAY };
  const generated = existsSync(marker) && readFileSync(marker, 'utf8') === JSON.stringify(shape);
  if (!generated) await generate(ndjsonLake, lines);
  writeFileSync(marker, JSON.stringify(shape));
  const archived = ensureArchived(root, ndjsonLake);
  return { ndjsonLake, archivedLake: archived.lake, lines, archivedLines: archived.lines };
}

async function generate(lake: string, lines: number): Promise<void> {
  const files = 24 * FILES_PER_HOUR;
  const bad = files; // one malformed line per file
  // unique + ceil(unique / 199) duplicates + bad = lines
  let unique = Math.floor(((lines - bad) * 199) / 200);
  while (unique + Math.ceil(unique / 199) + bad < lines) unique++;
  while (unique + Math.ceil(unique / 199) + bad > lines) unique--;
  rmSync(lake, { recursive: true, force: true }); // files of another size are named differently
  const engine = await DuckDbEngine.create({
    threads: 2,
    memoryLimit: '2GB',
    tempDirectory: join(lake, '..', 'tmp'),
  });
  const started = Date.now();
  try {
    await engine.withConnection(async (connection) => {
      for (let hour = 0; hour < 24; hour++) {
        const hourMs = IOT_BENCH_DAY + hour * HOUR_MS;
        const partition = logPartitionPrefix(hourMs, iotBenchStream.lakePrefix);
        mkdirSync(join(lake, partition), { recursive: true });
        for (let file = 0; file < FILES_PER_HOUR; file++) {
          const k = hour * FILES_PER_HOUR + file;
          const from = Math.floor((k * unique) / files);
          const to = Math.floor(((k + 1) * unique) / files);
          // 50 sites × 40 devices; temperatures with three decimals; a quarter without humidity.
          const readings = `
            SELECT i, 'r-' || i AS reading_id,
              ${hourMs} + (hash(i, 11) % ${HOUR_MS})::BIGINT AS ts,
              'site-' || (hash(i, 12) % 50) AS site,
              'dev-' || (hash(i, 12) % 50) || '-' || (hash(i, 13) % 40) AS device,
              CASE hash(i, 16) % 3 WHEN 0 THEN 'thermo' WHEN 1 THEN 'hygro' ELSE 'combo' END AS kind,
              round(-10 + (hash(i, 14) % 600000) / 10000.0, 3) AS temperature_c,
              CASE WHEN hash(i, 17) % 4 = 0 THEN NULL ELSE round((hash(i, 18) % 1000) / 10.0, 1) END AS humidity,
              hash(i, 15) % 50 = 0 AS battery_low
            FROM range(${from}, ${to}) t(i)`;
          const withDuplicates = `SELECT * FROM (${readings}) UNION ALL SELECT * FROM (${readings}) WHERE i % 199 = 0`;
          const path = join(lake, partition, `iot-readings+${file}+${from}.json.gz`);
          // ts as producers send it: mostly a number, every third reading a string of digits.
          await connection.run(`
            COPY (
              SELECT line FROM (
                SELECT i, to_json(struct_pack(reading_id := reading_id,
                  ts := CASE WHEN i % 3 = 0 THEN to_json(CAST(ts AS VARCHAR)) ELSE to_json(ts) END,
                  site := site, device := device, kind := kind, temperature_c := temperature_c,
                  humidity := humidity, battery_low := battery_low))::VARCHAR AS line
                FROM (${withDuplicates})
                UNION ALL SELECT -1, '{"reading_id": "broken-${k}", "ts": '
              ) ORDER BY i
            ) TO '${path}' (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x01', COMPRESSION gzip)`);
        }
        process.stderr.write(
          `[bench] generated iot hour ${hour + 1}/24 (${Math.round((Date.now() - started) / 1000)}s)\n`,
        );
      }
    });
  } finally {
    engine.close();
  }
}

/** The day as the IoT archiver writes it, generated once from the NDJSON lake. */
function ensureArchived(root: string, ndjsonLake: string): { lake: string; lines: number } {
  const lake = join(root, 'archived');
  const marker = join(root, 'archived.json');
  const shape = {
    version: 1,
    validator: iotBenchStream.fingerprint,
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
  rmSync(lake, { recursive: true, force: true });
  const validator = compileStreamValidator(iotBenchStream);
  const prefix = iotBenchStream.lakePrefix;
  let lines = 0;
  const started = Date.now();
  const files = (readdirSync(join(ndjsonLake, prefix), { recursive: true }) as string[])
    .filter((name) => name.endsWith('.json.gz'))
    .sort();
  for (const name of files) {
    const key = `${prefix}/${name}`;
    const out: string[] = [];
    for (const line of gunzipSync(readFileSync(join(ndjsonLake, key)))
      .toString('utf8')
      .split('\n')) {
      if (line === '') continue;
      const parsed = validator.parse(line, { now: () => Date.now() });
      if (parsed.ok) out.push(JSON.stringify(parsed.event));
    }
    const body = gzipSync(`${out.join('\n')}\n`);
    const manifest = buildArchiveManifest(key, body, out.length, iotBenchStream.fingerprint, 65_536);
    const manifestPath = join(lake, archiveManifestKey(key, prefix)!);
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

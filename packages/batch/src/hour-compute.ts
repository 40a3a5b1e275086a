// The DuckDB part of a batch run: raw lines of one or more hour partitions → core's staging SQL for
// the view's stream (the same verdicts as the stream's TS validator) → counts and samples of bad rows
// → deduplication (by the stream's id field, or by the whole normalized event when it has none) →
// core's view SQL → partial rows per hour. Many hours go through one query (hour is part of the
// bucket), so a day costs one scan, not 24. Nothing here names a field of any stream: columns, their
// types, the time field and the id field all come from the `Stream`.
import {
  archivedFormOf,
  compileStreamStagingSql,
  compileViewSql,
  decodeStates,
  describeStreamRejection,
  encodeStates,
  type EventRule,
  viewFieldsRead,
  HOUR_MS,
  hourStart,
  inputRangeFor,
  quoteIdent,
  rejectionCode,
  type Stream,
  sqlRowToPartialRow,
  TandemError,
  type TimeRange,
  type View,
} from '@tandem/core';
import type { DuckDBConnection } from '@duckdb/node-api';
import { parseArchiveFileName } from '@tandem/lake';
import { sqlStringList } from './duckdb-engine.ts';
import type { StagedFile } from './input-staging.ts';
import type { EncodedPartialRow } from './run-files.ts';

/** Sampled bad line, as the quarantine report shows it. */
export interface BadRowSample {
  partitionHour: number;
  /** The input object, when known (lines the CSV reader refused); null for schema failures. */
  key: string | null;
  code: string;
  field: string | null;
  rule: string;
  message: string;
  /** The line, cut to `sampleChars`. */
  line: string;
}

/** What one partition hour's input held. */
export interface PartitionStats {
  partitionHour: number;
  /** Non-empty lines read (valid + bad). */
  rowsIn: number;
  badRows: number;
  /** Valid lines dropped as copies of another (same id, or same content without an id field). */
  duplicateRows: number;
  /** Valid events whose event time lies outside their partition's hour (left out, see below). */
  misplacedRows: number;
  errors: Array<{ code: string; field: string | null; rule: string; message: string; count: number }>;
  samples: BadRowSample[];
}

/** The stats of a partition hour before any line is read (or of one without files). */
export function emptyStats(hour: number): PartitionStats {
  return {
    partitionHour: hour,
    rowsIn: 0,
    badRows: 0,
    duplicateRows: 0,
    misplacedRows: 0,
    errors: [],
    samples: [],
  };
}

export interface ComputeRequest {
  view: View;
  /** The view's stream: its fields, types, time and id field, validation rules. */
  stream: Stream;
  /** Every input file of every partition the output hours need. */
  files: readonly StagedFile[];
  /** Partition hours to read (their files are in `files`; a partition without files is empty). */
  partitionHours: readonly number[];
  /** Output hours; each gets an entry in the result, empty when no bucket falls in it. */
  outputHours: readonly number[];
  nowMs: number;
  futureToleranceMs: number;
  maxBytes: number;
  /** Bad lines kept per partition for the quarantine report. */
  sampleSize: number;
  /** Characters of a bad line kept in a sample. */
  sampleChars: number;
}

export interface ComputeResult {
  /**
   * Each output hour's partial rows, sorted by bucket and dims, their states already encoded as
   * `encodeStates` writes them (the view SQL's states JSON in the envelope, never parsed here).
   */
  partials: Map<number, EncodedPartialRow[]>;
  stats: Map<number, PartitionStats>;
  /** Where the time went: reading + validating lines, deduplicating, the view's SQL. */
  timings: { stagingMs: number; dedupMs: number; viewMs: number };
}

/**
 * The stream columns a run stages: what the view's SQL reads, the time field and the id field; the
 * others are left NULL to keep the staged table small. A stream without an id field deduplicates by
 * the whole normalized event, so every column is staged. In the stream's field order.
 */
export function eventColumnsUsed(view: View, stream: Stream): string[] {
  const all = stream.fields.map((field) => field.name);
  if (stream.idField === null) return all;
  const used = viewFieldsRead(view, stream);
  return all.filter((field) => used.has(field));
}

/** How the CSV reader's refusals map to event error codes (it refuses before the staging SQL sees a line). */
function rejectVerdict(errorType: string): { code: string; rule: EventRule } {
  if (errorType === 'INVALID ENCODING' || errorType === 'INVALID UNICODE') {
    return { code: 'TANDEM_ERR_EVENT_INVALID_UTF8', rule: 'utf8' };
  }
  if (errorType === 'LINE SIZE OVER MAXIMUM') return { code: 'TANDEM_ERR_EVENT_TOO_LARGE', rule: 'size' };
  // TOO MANY COLUMNS: a raw 0x01 byte, which is never valid JSON; anything else is unreadable too.
  return { code: 'TANDEM_ERR_EVENT_INVALID_JSON', rule: 'json' };
}

const num = (value: unknown): number => (typeof value === 'bigint' ? Number(value) : Number(value ?? 0));
const str = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));

/**
 * Computes the partial rows of `outputHours` from the staged files, on one connection (temp tables
 * live and die with it). Throws DuckDB's error for unreadable files (a corrupt gzip stream).
 */
export async function computeHours(
  connection: DuckDBConnection,
  request: ComputeRequest,
): Promise<ComputeResult> {
  const { view, stream } = request;
  const stats = new Map<number, PartitionStats>();
  for (const hour of request.partitionHours) stats.set(hour, emptyStats(hour));
  const partials = new Map<number, EncodedPartialRow[]>(request.outputHours.map((hour) => [hour, []]));
  const hoursWithFiles = request.partitionHours.filter((hour) =>
    request.files.some((file) => file.partitionHour === hour),
  );
  const usedFields = eventColumnsUsed(view, stream);
  const used = new Set(usedFields);
  const timings = { stagingMs: 0, dedupMs: 0, viewMs: 0 };
  const started = performance.now();
  const maxLineBytes = Math.max(2 * 1024 * 1024, request.maxBytes + 1024);

  if (hoursWithFiles.length > 0) {
    const keep = usedFields.map(quoteIdent);
    const types = usedFields.map((field) => `${quoteIdent(field)} ${stream.sqlTypes[field]}`);
    // What makes two valid rows copies of one event: the id field, or (without one) every
    // normalized field — NULLs equal, -0.0 equal to 0.0, as in the event's canonical JSON.
    const identity = stream.idField === null ? keep : [quoteIdent(stream.idField)];
    const idHash = `hash(${identity.join(', ')})`;
    await connection.run(
      `CREATE TEMP TABLE tandem_staged (partition_hour BIGINT, ${types.join(', ')}, id_hash UBIGINT, ` +
        'error_code VARCHAR, error_field VARCHAR, error_rule VARCHAR, bad_line VARCHAR)',
    );
    const sampleChars = Math.max(1, Math.floor(request.sampleChars));
    const sample = `left(line, ${sampleChars})`;
    const files = request.files.filter((file) => hoursWithFiles.includes(file.partitionHour));
    for (const hour of hoursWithFiles) {
      const trusted = files.filter((file) => file.partitionHour === hour && file.trusted === true);
      if (trusted.length > 0) {
        await connection.run(
          trustedInsertSql(hour, trusted, usedFields, idHash, request, sampleChars, maxLineBytes),
        );
      }
    }
    // The other files go through the staging SQL, all partitions in one statement (each line
    // carries its partition hour through): one scan over many files keeps both threads busy to the
    // end, where a statement per partition leaves one idle on its last file. Only one staging
    // pipeline holds memory at a time (the JSON functions' working memory is outside what DuckDB
    // can spill; it is per thread, not per file). The table itself spills.
    // Files the archiver wrote hold normalized events (time as epoch ms): judged by that form of
    // the rules. Anything else (foreign producers, hand-written files) by the stream's raw rules.
    const checked = files.filter((file) => file.trusted !== true);
    const archived = archivedFormOf(stream);
    const groups =
      archived === stream
        ? [{ rules: stream, group: checked }]
        : [
            { rules: archived, group: checked.filter((file) => parseArchiveFileName(file.key) !== null) },
            { rules: stream, group: checked.filter((file) => parseArchiveFileName(file.key) === null) },
          ];
    for (const { rules, group } of groups) {
      if (group.length === 0) continue;
      const staging = compileStreamStagingSql(rules, {
        linesRelation: await linesSql(connection, stream, group, maxLineBytes),
        nowMs: request.nowMs,
        futureToleranceMs: request.futureToleranceMs,
        maxBytes: request.maxBytes,
        carry: ['partition_hour'],
      });
      await connection.run(
        `INSERT INTO tandem_staged SELECT partition_hour, ${keep.join(', ')}, ${idHash}, error_code, error_field, error_rule, ` +
          `CASE WHEN error_code IS NOT NULL THEN ${sample} END FROM (${staging.sql})`,
        staging.params,
      );
    }
    // Every line's file must have been recognized by its path (a NULL hour would drop it from the
    // counts): refuse the run rather than count wrong.
    const lost = await connection.runAndReadAll(
      'SELECT count(*) AS n FROM tandem_staged WHERE partition_hour IS NULL',
    );
    if (num(lost.getRowObjectsJS()[0]?.n) > 0) {
      throw new TandemError(
        'TANDEM_ERR_BATCH_RUN_FAILED',
        'the staged lines of some input file could not be matched to its partition',
      );
    }
    await collectBadRows(connection, request, stats);
    await collectRejects(connection, request, stats);
    timings.stagingMs = Math.round(performance.now() - started);

    // Deduplicate: one row per event identity. Duplicates are producer retries with identical
    // content; to stay deterministic even if they differed, the copy with the smallest content hash
    // wins, and a copy filed under its own hour always beats a stray copy in another partition. Only
    // fixed-size aggregate states (row id, hash, count): DuckDB tracks and spills those, unlike
    // string or struct minimums, whose memory grows outside its limit.
    // Grouping every identity is the costly part, and duplicates are rare: a group by its 64-bit
    // hash finds the identities that can have copies (every copy has the same hash; a hash collision
    // only adds candidates), and only those rows go through the exact pick. An event whose hash is
    // unique is its own pick with one copy.
    const time = quoteIdent(stream.timeField);
    const content = `hash(${['partition_hour', ...keep].join(', ')})`;
    const misplaced = `(${time} < partition_hour OR ${time} >= partition_hour + ${HOUR_MS})`;
    const order = `CASE WHEN ${misplaced} THEN ${content} | (CAST(1 AS UBIGINT) << 63) ELSE ${content} & ~(CAST(1 AS UBIGINT) << 63) END`;
    await connection.run(
      'CREATE TEMP TABLE tandem_dup_ids AS SELECT id_hash FROM tandem_staged WHERE error_code IS NULL ' +
        'GROUP BY id_hash HAVING count(*) > 1',
    );
    // The pick among the candidates: per identity the winning row id, whether it is misplaced (top
    // bit of the order), its partition and how many copies there were.
    await connection.run(
      'CREATE TEMP TABLE tandem_pick AS SELECT arg_min(rowid, pick_order) AS pick, min(pick_order) >> 63 = 1 AS misplaced, ' +
        'arg_min(partition_hour, pick_order) AS partition_hour, count(*) AS copies ' +
        `FROM (SELECT s.rowid AS rowid, ${identity.map((column) => `s.${column}`).join(', ')}, partition_hour, ${order} AS pick_order FROM tandem_staged s ` +
        `SEMI JOIN tandem_dup_ids d ON s.id_hash = d.id_hash WHERE error_code IS NULL) GROUP BY ${identity.join(', ')}`,
    );
    const singles =
      'FROM tandem_staged s ANTI JOIN tandem_dup_ids d ON s.id_hash = d.id_hash WHERE s.error_code IS NULL';
    const valid = await connection.runAndReadAll(
      'SELECT partition_hour, sum(duplicates) AS duplicates, sum(misplaced) AS misplaced FROM (' +
        'SELECT partition_hour, copies - 1 AS duplicates, CASE WHEN misplaced THEN 1 ELSE 0 END AS misplaced FROM tandem_pick ' +
        `UNION ALL SELECT partition_hour, 0, 1 ${singles} AND ${misplaced}) GROUP BY partition_hour`,
    );
    for (const row of valid.getRowObjectsJS()) {
      const entry = stats.get(num(row.partition_hour));
      if (entry === undefined) continue;
      entry.duplicateRows = num(row.duplicates);
      entry.misplacedRows = num(row.misplaced);
    }

    // The picked rows become their own table: core's view SQL reads its source several times
    // (once per sketch), and re-running the join each time would hold several hash tables at once.
    // An event counts only in its own hour's partition, so a day computed in one query equals the
    // same hours computed one by one (an event filed under the wrong hour is counted as misplaced).
    await connection.run(
      `CREATE TEMP TABLE tandem_events AS SELECT ${keep.map((column) => `s.${column}`).join(', ')} ${singles} AND NOT ${misplaced} ` +
        `UNION ALL SELECT ${keep.map((column) => `s.${column}`).join(', ')} ` +
        'FROM tandem_staged s JOIN tandem_pick p ON s.rowid = p.pick WHERE NOT p.misplaced',
    );
    await connection.run('DROP TABLE tandem_dup_ids');
    await connection.run('DROP TABLE tandem_pick');
    await connection.run('DROP TABLE tandem_staged');
    timings.dedupMs = Math.round(performance.now() - started) - timings.stagingMs;
    const columns = stream.fields.map(({ name }) =>
      used.has(name) ? quoteIdent(name) : `CAST(NULL AS ${stream.sqlTypes[name]}) AS ${quoteIdent(name)}`,
    );
    const eventsRelation = `(SELECT ${columns.join(', ')} FROM tandem_events)`;
    const range = outputRange(request.outputHours);
    const compiled = compileViewSql(view, { eventsRelation, range });
    const reader = await connection.runAndReadAll(compiled.sql, compiled.params);
    // The states stay the SQL's JSON text inside encodeStates' envelope: parsing them into cells and
    // writing them back (several MB per chunk of sketch registers) only to store them was a good part
    // of a chunk's time on the Node thread. The reader decodes them with decodeStates, which adopts
    // exactly what sqlRowToPartialRow would have; the first row of each hour is decoded here as a
    // check that the envelope and the SQL's output agree.
    const envelope = statesEnvelope(view);
    for (const row of reader.getRowObjectsJS()) {
      const { bucket, dims } = sqlRowToPartialRow(view, { ...(row as Record<string, unknown>), states: {} });
      const hourRows = partials.get(hourStart(bucket));
      if (hourRows === undefined) continue;
      const states = `${envelope}${String(row.states)}}`;
      if (hourRows.length === 0) decodeStates(view, states);
      hourRows.push({ bucket, dims, states });
    }
    await connection.run('DROP TABLE tandem_events');
    timings.viewMs = Math.round(performance.now() - started) - timings.stagingMs - timings.dedupMs;
  }
  return { partials, stats, timings };
}

/**
 * Stages trusted files (archive-trust.ts) with DuckDB's typed JSON reader: their lines are the
 * canonical serializations of events the stream's archiver validated, so each field reads back as
 * the value the validator gave it (typed as `stream.sqlTypes`, the time field as epoch ms). Only the
 * clock-dependent rule is checked again: an event more than the tolerance ahead of this run's clock
 * is rejected as `future`, as the staging SQL would (its sample is the event's fields as JSON, the
 * line itself is not read).
 */
function trustedInsertSql(
  hour: number,
  files: readonly StagedFile[],
  fields: readonly string[],
  idHash: string,
  request: ComputeRequest,
  sampleChars: number,
  maxLineBytes: number,
): string {
  const { stream } = request;
  const latest = Math.trunc(request.nowMs) + Math.trunc(request.futureToleranceMs);
  const future = `${quoteIdent(stream.timeField)} > ${latest}`;
  const code = rejectionCode('future');
  const keep = fields.map(quoteIdent);
  const columns = fields.map((field) => `${sqlString(field)}: ${sqlString(stream.sqlTypes[field]!)}`);
  return (
    `INSERT INTO tandem_staged SELECT CAST(${hour} AS BIGINT), ${keep.join(', ')}, ${idHash}, ` +
    `CASE WHEN ${future} THEN '${code}' END, CASE WHEN ${future} THEN ${sqlString(stream.timeField)} END, ` +
    `CASE WHEN ${future} THEN 'future' END, ` +
    `CASE WHEN ${future} THEN left(CAST(to_json(struct_pack(${keep.join(', ')})) AS VARCHAR), ${sampleChars}) END ` +
    `FROM read_json(${sqlStringList(files.map((file) => file.path))}, format = 'newline_delimited', ` +
    `records = true, maximum_object_size = ${maxLineBytes}, columns = {${columns.join(', ')}})`
  );
}

/** What encodeStates writes before the states object: `{"v":…,"view":…,"m":{…},"s":`. */
function statesEnvelope(view: View): string {
  const {
    v,
    view: version,
    m,
  } = JSON.parse(encodeStates(view, {})) as { v: unknown; view: unknown; m: unknown };
  return `{"v":${JSON.stringify(v)},"view":${JSON.stringify(version)},"m":${JSON.stringify(m)},"s":`;
}

/** A SQL string literal (field names are identifiers core validated; quotes are doubled anyway). */
function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * The lines of some files as one relation of `line VARCHAR` and `partition_hour BIGINT` (the
 * partition of the line's file).
 */
async function linesSql(
  connection: DuckDBConnection,
  stream: Stream,
  files: readonly StagedFile[],
  maxLineBytes: number,
): Promise<string> {
  const selects: string[] = [];
  const ndjson = files.filter((file) => file.format === 'ndjson');
  if (ndjson.length > 0) {
    // Lines as raw text: a byte that never occurs in valid JSON as the delimiter, no quoting, so
    // the CSV reader only splits lines. Lines it refuses (bad UTF-8, too long, a raw 0x01) land in
    // the rejects tables and are counted as bad rows. The reader names each line's file (one
    // constant per chunk of lines, so the CASE costs nothing per line); the partition path's
    // dt/hour are not read as columns.
    const hourOfFile = ndjson
      .map((file) => `WHEN ${sqlString(file.path)} THEN CAST(${file.partitionHour} AS BIGINT)`)
      .join(' ');
    selects.push(
      `SELECT line, CASE filename ${hourOfFile} END AS partition_hour ` +
        `FROM read_csv(${sqlStringList(ndjson.map((file) => file.path))}, columns = {'line': 'VARCHAR'}, delim = '\x01', ` +
        `quote = '', escape = '', header = false, auto_detect = false, compression = 'auto', ` +
        `max_line_size = ${maxLineBytes}, store_rejects = true, rejects_table = 'tandem_rejects', ` +
        `rejects_scan = 'tandem_reject_scans', filename = true, hive_partitioning = false) WHERE line IS NOT NULL`,
    );
  }
  const parquetHours = [
    ...new Set(files.filter((file) => file.format === 'parquet').map((file) => file.partitionHour)),
  ];
  for (const hour of parquetHours) {
    const parquet = files
      .filter((file) => file.format === 'parquet' && file.partitionHour === hour)
      .map((file) => file.path);
    // Parquet rows become the same JSON lines, so one validator judges both formats. A typed
    // timestamp in the time field becomes what the stream's time encoding expects (a TIMESTAMP
    // without zone is UTC by the lake's convention). The stream's columns come first in declaration
    // order (key order never changes a verdict), so rows print as the canonical serialization the
    // staging SQL's fast path recognizes; the partition path's dt/hour are not row content and are
    // not read as columns.
    const source = `read_parquet(${sqlStringList(parquet)}, union_by_name = true, hive_partitioning = false)`;
    const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`);
    const columns = described.getRowObjectsJS().map((row) => ({
      name: String(row.column_name),
      type: String(row.column_type),
    }));
    const names = new Set(columns.map((column) => column.name));
    const declared = stream.fields.map((field) => field.name);
    const timeType = columns.find((column) => column.name === stream.timeField)?.type;
    const typed = timeType?.startsWith('TIMESTAMP') === true;
    const ordered = [
      ...declared.filter((field) => names.has(field)),
      ...columns.map((column) => column.name).filter((name) => !declared.includes(name)),
    ].map((name) =>
      name === stream.timeField && typed
        ? `${typedTimeAsWritten(stream, quoteIdent(name))} AS ${quoteIdent(name)}`
        : quoteIdent(name),
    );
    const projection = `SELECT ${ordered.join(', ')}`;
    selects.push(
      `SELECT CAST(to_json(p) AS VARCHAR) AS line, CAST(${hour} AS BIGINT) AS partition_hour FROM (${projection} FROM ${source}) p`,
    );
  }
  return `(${selects.join(' UNION ALL ')})`;
}

/**
 * A typed Parquet timestamp (TIMESTAMP is UTC by the lake's convention; TIMESTAMPTZ is absolute) as
 * the stream's time encoding writes event times, from its epoch ms.
 */
function typedTimeAsWritten(stream: Stream, column: string): string {
  const ms = `epoch_ms(${column})`;
  switch (stream.timeEncoding) {
    case 'iso8601':
      return `strftime(make_timestamp(${ms} * 1000), '%Y-%m-%dT%H:%M:%S.%gZ')`;
    case 'epoch_s':
      return `${ms} / 1000`;
    case 'epoch_us':
      return `${ms} * 1000`;
    default:
      return ms;
  }
}

/** Lines per partition, bad ones by verdict, and a sample of bad lines per partition. */
async function collectBadRows(
  connection: DuckDBConnection,
  request: ComputeRequest,
  stats: Map<number, PartitionStats>,
): Promise<void> {
  const counts = await connection.runAndReadAll(
    'SELECT partition_hour, error_code, error_field, error_rule, count(*) AS n FROM tandem_staged ' +
      'GROUP BY ALL ORDER BY ALL',
  );
  let anyBad = false;
  for (const row of counts.getRowObjectsJS()) {
    const entry = stats.get(num(row.partition_hour));
    if (entry === undefined) continue;
    const n = num(row.n);
    entry.rowsIn += n;
    const code = str(row.error_code);
    if (code === null) continue;
    anyBad = true;
    const field = str(row.error_field);
    const rule = str(row.error_rule) ?? 'json';
    entry.badRows += n;
    entry.errors.push({
      code,
      field,
      rule,
      message: describeStreamRejection(request.stream, field, rule as EventRule),
      count: n,
    });
  }
  if (!anyBad || request.sampleSize <= 0) return;
  const samples = await connection.runAndReadAll(
    'SELECT partition_hour, error_code, error_field, error_rule, bad_line FROM tandem_staged ' +
      'WHERE error_code IS NOT NULL ' +
      `QUALIFY row_number() OVER (PARTITION BY partition_hour ORDER BY error_code, bad_line) <= ${Math.floor(request.sampleSize)}`,
  );
  for (const row of samples.getRowObjectsJS()) {
    const entry = stats.get(num(row.partition_hour));
    if (entry === undefined) continue;
    const field = str(row.error_field);
    const rule = str(row.error_rule) ?? 'json';
    entry.samples.push({
      partitionHour: entry.partitionHour,
      key: null,
      code: str(row.error_code) ?? 'TANDEM_ERR_EVENT_INVALID',
      field,
      rule,
      message: describeStreamRejection(request.stream, field, rule as EventRule),
      line: str(row.bad_line) ?? '',
    });
  }
}

/** Lines the CSV reader refused (only if the rejects tables exist: some NDJSON was read). */
async function collectRejects(
  connection: DuckDBConnection,
  request: ComputeRequest,
  stats: Map<number, PartitionStats>,
): Promise<void> {
  const exists = await connection.runAndReadAll(
    "SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'tandem_rejects' AND temporary",
  );
  if (num(exists.getRowObjectsJS()[0]?.n) === 0) return;
  const fileByPath = new Map(request.files.map((file) => [file.path, file]));
  const rejects = await connection.runAndReadAll(
    'SELECT s.file_path, e.error_type, e.csv_line FROM tandem_rejects e ' +
      'JOIN tandem_reject_scans s ON e.scan_id = s.scan_id AND e.file_id = s.file_id',
  );
  for (const row of rejects.getRowObjectsJS()) {
    const file = fileByPath.get(String(row.file_path));
    const entry = file === undefined ? undefined : stats.get(file.partitionHour);
    if (file === undefined || entry === undefined) continue;
    const { code, rule } = rejectVerdict(String(row.error_type));
    entry.rowsIn += 1;
    entry.badRows += 1;
    const known = entry.errors.find(
      (error) => error.code === code && error.rule === rule && error.field === null,
    );
    if (known !== undefined) known.count += 1;
    else
      entry.errors.push({
        code,
        field: null,
        rule,
        message: describeStreamRejection(request.stream, null, rule),
        count: 1,
      });
    if (entry.samples.length < request.sampleSize) {
      entry.samples.push({
        partitionHour: entry.partitionHour,
        key: file.key,
        code,
        field: null,
        rule,
        message: describeStreamRejection(request.stream, null, rule),
        line: (str(row.csv_line) ?? '').slice(0, request.sampleChars),
      });
    }
  }
  await connection.run('DROP TABLE tandem_rejects');
  await connection.run('DROP TABLE tandem_reject_scans');
}

/** The span of the output hours (they are contiguous in every caller; others are filtered out). */
export function outputRange(hours: readonly number[]): TimeRange {
  const from = Math.min(...hours);
  const to = Math.max(...hours) + HOUR_MS;
  return { from, to };
}

/** Partition hours whose files an output hour needs: every hour overlapping `inputRangeFor`. */
export function partitionHoursFor(view: View, hour: number): number[] {
  const input = inputRangeFor(view, { from: hour, to: hour + HOUR_MS });
  const hours: number[] = [];
  for (let h = hourStart(input.from); h < input.to; h += HOUR_MS) hours.push(h);
  return hours;
}

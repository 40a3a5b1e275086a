// The PostgreSQL export sink: sealed batch hours, read through the batch layer's reader, written
// into one table per view version with the fenced, idempotent hour transaction. `exportHour` and
// `enqueue` never throw (a failed export is an outcome, logged, retried with backoff, and left
// lagging), so the batch scheduler can call them after each publish without risking publishing.
import {
  type Catalog,
  HOUR_MS,
  hourStart,
  isRetryable,
  type RunText,
  type SealedRunTextReader,
  TandemError,
  type TimeRange,
} from '@tandem/core';
import pg from 'pg';
import { type Logger, pino } from 'pino';
import { runTrailer } from './copy-rows.ts';
import { type ExportStage, exportHourInTransaction } from './hour-transaction.ts';
import { exportError } from './pg-errors.ts';
import { type ExportOptions, redactUrl, resolveExportOptions } from './options.ts';
import { ensureTable } from './table-check.ts';
import { HOURS_TABLE, hoursTableSql, ident, type TableLayout, tableLayoutOf } from './table-layout.ts';

/**
 * What the exporter reads from the batch layer: `LakeBatchViewReader` (the batch layer's `reader`)
 * has exactly these. Pointers give the run id, fencing token and pointer version of each hour;
 * `readRunText` (core's contract) reads a run once, finished into COPY text.
 */
export interface SealedViewSource extends SealedRunTextReader {
  pointersIn(
    view: string,
    range: TimeRange,
  ): Promise<
    Array<{ info: { etag: string }; pointer: { hour: number; runId: string; fencingToken: number } }>
  >;
  /** Forgets cached listings, so the next `pointersIn` sees the latest publish. */
  invalidate(): void;
}

export type HourExportStatus = 'exported' | 'unchanged' | 'superseded' | 'not-sealed' | 'failed';

/** What happened to one (view, hour). */
export interface HourExportOutcome {
  view: string;
  hour: number;
  /** `schema.table` written. */
  table: string;
  /**
   * `exported`: the hour now holds this run; `unchanged`: it already did; `superseded`: it holds a
   * newer run than the one read; `not-sealed`: the hour has no batch run; `failed`: see `error`.
   */
  status: HourExportStatus;
  runId: string | null;
  fencingToken: number | null;
  /** Rows of the run. */
  rows: number | null;
  upserted: number;
  deleted: number;
  attempts: number;
  /** From the first attempt to the outcome, reading the run included. */
  durationMs: number;
  /** Of which in the hour's PostgreSQL transaction (the last attempt's). */
  writeMs: number;
  error: TandemError | null;
}

export interface ExportHooks {
  /** Called at each stage of an hour's export; a test may pause here and kill the process. */
  onStage?: (stage: ExportStage, view: string, hour: number) => Promise<void> | void;
}

export interface PostgresExporterInit extends Partial<ExportOptions> {
  url: string;
  /** The deployment's streams and views (the same catalog the batch layer has). */
  catalog: Catalog;
  /** The batch layer's reader (`batchLayer.reader`). */
  source: SealedViewSource;
  /** A ready pool; its owner ends it. Built from `url` when absent. */
  pool?: pg.Pool;
  logger?: Logger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  hooks?: ExportHooks;
}

export interface ExportRangeOptions {
  /** Write the hour again even when the table holds its current run (repairs rows changed by hand). */
  force?: boolean;
  /** Stops between hours (the hour in its transaction finishes or rolls back). */
  signal?: AbortSignal;
  onHour?: (outcome: HourExportOutcome) => void;
}

/** Exported-through and lag of one view, for status pages. */
export interface ExportViewStatus {
  view: string;
  table: string;
  /** Every hour from the first exported one up to this one (exclusive) is exported; null when none is. */
  exportedThrough: number | null;
  lastExportedAt: number | null;
  exportedHours: number;
  /** Sealed hours of the window whose current run is not in the table (missing, or an older run). */
  lagging: number[];
  window: TimeRange;
}

/** Stops at the first failure of these: every later hour would fail the same way. */
const ENVIRONMENT_CODES = new Set([
  'TANDEM_ERR_SERVICE_UNAVAILABLE',
  'TANDEM_ERR_EXPORT_AUTH',
  'TANDEM_ERR_EXPORT_TABLE_ALTERED',
]);

export class PostgresExporter {
  readonly options: ExportOptions;
  readonly pool: pg.Pool;
  readonly #catalog: Catalog;
  readonly #source: SealedViewSource;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #hooks: ExportHooks;
  readonly #ownsPool: boolean;
  /** Tables checked (or created) by this process, by `schema.table`. */
  readonly #ready = new Map<string, Promise<void>>();
  #schemaReady: Promise<void> | null = null;
  /** Background exports queued by `enqueue`, run one at a time. */
  readonly #queued = new Map<string, { view: string; hour: number }>();
  #draining: Promise<void> | null = null;
  #closed = false;

  constructor(init: PostgresExporterInit) {
    const { catalog, source, pool, logger, now, sleep, hooks, ...options } = init;
    this.options = resolveExportOptions(options);
    this.#catalog = catalog;
    this.#source = source;
    this.#logger = logger ?? pino({ name: 'tandem-export', level: 'info' });
    this.#now = now ?? Date.now;
    this.#sleep = sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#hooks = hooks ?? {};
    this.#ownsPool = pool === undefined;
    this.pool =
      pool ??
      new pg.Pool({
        connectionString: this.options.url,
        max: this.options.poolSize,
        connectionTimeoutMillis: this.options.connectTimeoutMs,
        idleTimeoutMillis: 30_000,
        application_name: 'tandem-export',
        // A lock wait (another exporter's claim of the same hour, a DDL) fails after this instead
        // of hanging: the export is retried with backoff, and a process can always stop.
        lock_timeout: 30_000,
        idle_in_transaction_session_timeout: 120_000,
      });
    // An idle connection dropped by the server emits here; without a listener it would crash the
    // process. The next checkout opens a new connection.
    this.pool.on('error', (error) =>
      this.#logger.warn(
        { err: error },
        'an idle PostgreSQL export connection failed; it is replaced on next use',
      ),
    );
  }

  /** The table layout of a view's current version (name, columns, key). */
  layout(viewName: string): TableLayout {
    return tableLayoutOf(this.#catalog, this.#catalog.view(viewName), this.options.schema);
  }

  /**
   * Connects, and creates the schema and bookkeeping table when missing. Throws the coded error of
   * an unreachable database (`TANDEM_ERR_SERVICE_UNAVAILABLE`), refused credentials
   * (`TANDEM_ERR_EXPORT_AUTH`) or an old server (`TANDEM_ERR_EXPORT_FAILED`): what `tandem export`
   * checks before its first hour.
   */
  async check(): Promise<void> {
    this.#schemaReady ??= this.#withClient('connecting to PostgreSQL', async (client) => {
      const version = await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
      if (Number(version.rows[0]?.v) < 150000) {
        throw new TandemError(
          'TANDEM_ERR_EXPORT_FAILED',
          `PostgreSQL at ${redactUrl(this.options.url)} is version ${version.rows[0]?.v}; the export needs 15 or later (for UNIQUE NULLS NOT DISTINCT keys)`,
          { details: { serverVersionNum: version.rows[0]?.v } },
        );
      }
      await client.query('BEGIN');
      try {
        await client.query(`SELECT pg_advisory_xact_lock(hashtext('tandem export ddl'))`);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(this.options.schema)}`);
        await client.query(hoursTableSql(this.options.schema));
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    }).catch((error: unknown) => {
      this.#schemaReady = null;
      throw error;
    });
    return this.#schemaReady;
  }

  /** Creates the view version's table (and alias) or checks an existing one; once per process. */
  async ensureTable(viewName: string): Promise<TableLayout> {
    const layout = this.layout(viewName);
    const key = `${layout.schema}.${layout.table}`;
    let ready = this.#ready.get(key);
    if (ready === undefined) {
      ready = (async () => {
        await this.check();
        const { outcome, aliasProblem } = await this.#withClient(`preparing table ${key}`, (client) =>
          ensureTable(client, layout),
        );
        if (aliasProblem !== null) this.#logger.warn({ table: key }, aliasProblem);
        if (outcome === 'created') this.#logger.info({ table: key, view: viewName }, 'created export table');
      })();
      this.#ready.set(key, ready);
      ready.catch(() => this.#ready.delete(key));
    }
    await ready;
    return layout;
  }

  /**
   * Exports the hour's current sealed run (read now, not from a cache), retrying retryable
   * failures with backoff. Never rejects: a failure is the outcome's `error`.
   */
  async exportHour(
    viewName: string,
    hour: number,
    options: Omit<ExportRangeOptions, 'onHour'> = {},
  ): Promise<HourExportOutcome> {
    const start = hourStart(hour);
    return this.#exportWithRetries(viewName, start, null, options);
  }

  /**
   * Exports every sealed hour of the range, oldest first, skipping hours whose current run the
   * table already holds (unless `force`). Stops between hours on abort, and at the first failure
   * caused by the database or the table (every later hour would fail alike); hours not reached get
   * no outcome. Never rejects for an hour's failure.
   */
  async exportRange(
    viewName: string,
    range: TimeRange,
    options: ExportRangeOptions = {},
  ): Promise<HourExportOutcome[]> {
    const from = hourStart(range.from);
    const to = Math.ceil(range.to / HOUR_MS) * HOUR_MS;
    const outcomes: HourExportOutcome[] = [];
    const report = (outcome: HourExportOutcome): void => {
      outcomes.push(outcome);
      options.onHour?.(outcome);
    };
    const started = this.#now();
    let attempts = 0;
    let plan: { layout: TableLayout; pointers: Map<number, SealedPointer>; held: Map<number, number> };
    for (;;) {
      attempts++;
      try {
        const layout = await this.ensureTable(viewName);
        this.#source.invalidate();
        const pointers = await this.#pointers(viewName, { from, to });
        plan = { layout, pointers, held: await this.#heldTokens(layout, { from, to }) };
        break;
      } catch (caught) {
        const error = exportError(caught, this.options.url, `exporting ${viewName}`);
        if (!(await this.#backoff(error, attempts, viewName, from, options.signal))) {
          report(this.#failed(viewName, from, error, attempts, started));
          return outcomes;
        }
      }
    }
    const { layout, pointers, held } = plan;
    const needsExport = (hour: number): boolean => {
      const sealed = pointers.get(hour);
      const token = held.get(hour);
      return (
        sealed !== undefined && (options.force === true || token === undefined || token < sealed.fencingToken)
      );
    };
    // The next hours to export are read while this one is written: each read is a query on the
    // batch engine's DuckDB threads, so the COPY stream keeps this thread and reading keeps pace
    // with it. At most `readAheadHours` + 1 hours' text are held; every read has settled before
    // this returns (a caller may close the batch layer next).
    const toExport = [...pointers.keys()]
      .filter((hour) => hour >= from && hour < to && needsExport(hour))
      .sort((a, b) => a - b);
    const reads = new Map<number, Promise<RunText>>();
    const readAhead = (after: number): void => {
      for (const hour of toExport) {
        if (reads.size >= this.options.readAheadHours) break;
        if (hour <= after || reads.has(hour)) continue;
        const text = this.#read(viewName, pointers.get(hour)!);
        // Handled where it is awaited; this keeps a read that is never awaited (a stop, an
        // attempt failing before it) from being an unhandled rejection.
        text.catch(() => {});
        reads.set(hour, text);
      }
    };
    let current: Promise<unknown> = Promise.resolve();
    try {
      for (let hour = from; hour < to; hour += HOUR_MS) {
        if (options.signal?.aborted) break;
        const sealed = pointers.get(hour) ?? null;
        if (sealed === null) {
          report(this.#outcome(layout, hour, 'not-sealed', null, started));
          continue;
        }
        const token = held.get(hour);
        if (!needsExport(hour) && token !== undefined) {
          report({
            ...this.#outcome(
              layout,
              hour,
              token === sealed.fencingToken ? 'unchanged' : 'superseded',
              sealed,
              started,
            ),
            attempts: 0,
          });
          continue;
        }
        const text = reads.get(hour) ?? this.#read(viewName, sealed);
        text.catch(() => {});
        reads.delete(hour);
        current = text;
        readAhead(hour);
        const outcome = await this.#exportWithRetries(viewName, hour, sealed, options, text);
        report(outcome);
        if (
          outcome.status === 'failed' &&
          outcome.error !== null &&
          ENVIRONMENT_CODES.has(outcome.error.code)
        )
          break;
      }
    } finally {
      await Promise.allSettled([current, ...reads.values()]);
    }
    return outcomes;
  }

  /**
   * Queues an export of the hour in the background and returns at once; never throws. Meant for
   * the batch scheduler, right after it publishes an hour: exports run one at a time, in order,
   * each retried with backoff; one that still fails is logged and left lagging (`status`), for the
   * next `tandem export` or a later publish to catch up.
   */
  enqueue(viewName: string, hour: number): void {
    if (this.#closed) return;
    const start = hourStart(hour);
    this.#queued.set(`${viewName}@${start}`, { view: viewName, hour: start });
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = null;
    });
  }

  /** Resolves when every queued export has finished. */
  async idle(): Promise<void> {
    while (this.#draining !== null) await this.#draining;
  }

  async #drain(): Promise<void> {
    for (;;) {
      const next = this.#queued.entries().next();
      if (next.done) return;
      const [key, { view, hour }] = next.value;
      this.#queued.delete(key);
      const outcome = await this.exportHour(view, hour);
      if (outcome.status === 'failed') {
        this.#logger.error(
          { err: outcome.error, code: outcome.error?.code, view, hour: new Date(hour).toISOString() },
          'export to PostgreSQL failed; the hour stays lagging until the next export',
        );
      }
    }
  }

  /**
   * The end of the run of consecutive exported hours that starts at the table's first exported
   * hour (every hour from there to it is in the table), or null when none is. Throws coded errors.
   */
  async exportedThrough(viewName: string): Promise<number | null> {
    const layout = this.layout(viewName);
    await this.check();
    return this.#withClient(`reading the export status of ${viewName}`, async (client) => {
      const result = await client.query<{ last: Date | null }>(
        `SELECT hour AS last FROM (
           SELECT hour, lead(hour) OVER (ORDER BY hour) AS next
             FROM ${ident(layout.schema)}.${ident(HOURS_TABLE)} WHERE table_name = $1
         ) runs
         WHERE next IS NULL OR next <> hour + interval '1 hour'
         ORDER BY hour LIMIT 1`,
        [layout.table],
      );
      const last = result.rows[0]?.last;
      return last === undefined || last === null ? null : last.getTime() + HOUR_MS;
    });
  }

  /**
   * Exported-through, the last export and the lagging hours of a view: sealed hours in `window`
   * (default: the last 48 hours) whose current run is not in the table. Throws coded errors.
   */
  async status(viewName: string, window?: TimeRange): Promise<ExportViewStatus> {
    const now = this.#now();
    const range = window ?? { from: hourStart(now) - 48 * HOUR_MS, to: hourStart(now) + HOUR_MS };
    const layout = this.layout(viewName);
    await this.check();
    const exportedThrough = await this.exportedThrough(viewName);
    const summary = await this.#withClient(`reading the export status of ${viewName}`, (client) =>
      client.query<{ hours: string; last: Date | null }>(
        `SELECT count(*) AS hours, max(exported_at) AS last FROM ${ident(layout.schema)}.${ident(HOURS_TABLE)}
          WHERE table_name = $1`,
        [layout.table],
      ),
    );
    this.#source.invalidate();
    const pointers = await this.#pointers(viewName, range);
    const held = await this.#heldTokens(layout, range);
    const lagging = [...pointers.values()]
      .filter((sealed) => (held.get(sealed.hour) ?? -1) < sealed.fencingToken)
      .map((sealed) => sealed.hour)
      .sort((a, b) => a - b);
    return {
      view: viewName,
      table: `${layout.schema}.${layout.table}`,
      exportedThrough,
      lastExportedAt: summary.rows[0]?.last?.getTime() ?? null,
      exportedHours: Number(summary.rows[0]?.hours ?? 0),
      lagging,
      window: range,
    };
  }

  /** Waits for queued exports, then ends the pool if this exporter built it. */
  /**
   * Stops taking exports, lets the queued ones finish — for at most `waitMs`, after which the hours
   * not started are dropped (they stay lagging, for `tandem export` to catch up) — then closes the
   * pool once the export in flight, if any, is done.
   */
  async close(waitMs = Number.POSITIVE_INFINITY): Promise<void> {
    this.#closed = true;
    if (Number.isFinite(waitMs)) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        this.idle().then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), waitMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut && this.#queued.size > 0) {
        this.#logger.warn(
          { hours: this.#queued.size },
          'stopping with exports still queued; those hours stay lagging until the next tandem export',
        );
        this.#queued.clear();
      }
    }
    await this.idle();
    if (this.#ownsPool) await this.pool.end();
  }

  // ---- internals ----

  async #exportWithRetries(
    viewName: string,
    hour: number,
    known: SealedPointer | null,
    options: Omit<ExportRangeOptions, 'onHour'>,
    /** `known`'s text, already being read (the first attempt uses it). */
    knownText: Promise<RunText> | null = null,
  ): Promise<HourExportOutcome> {
    const started = this.#now();
    let sealed = known;
    let prefetched = knownText;
    for (let attempt = 1; ; attempt++) {
      try {
        const layout = await this.ensureTable(viewName);
        if (sealed === null) {
          this.#source.invalidate();
          sealed = (await this.#pointers(viewName, { from: hour, to: hour + HOUR_MS })).get(hour) ?? null;
        }
        if (sealed === null)
          return { ...this.#outcome(layout, hour, 'not-sealed', null, started), attempts: attempt };
        const text = await (prefetched ?? this.#read(viewName, sealed));
        prefetched = null;
        return {
          ...(await this.#attempt(layout, sealed, text, options.force ?? false, started)),
          attempts: attempt,
        };
      } catch (caught) {
        const error = await this.#explain(viewName, caught, hour);
        if (!(await this.#backoff(error, attempt, viewName, hour, options.signal))) {
          return this.#failed(viewName, hour, error, attempt, started);
        }
        // The run may have been replaced (and its file collected) meanwhile: read the pointer again.
        sealed = null;
        prefetched = null;
      }
    }
  }

  /**
   * After a failed attempt: false when it should not be retried (not retryable, attempts used up,
   * aborted, closing), else waits the attempt's backoff (doubling, with jitter) and returns true.
   */
  async #backoff(
    error: TandemError,
    attempt: number,
    viewName: string,
    hour: number,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    if (attempt >= this.options.maxAttempts || !isRetryable(error) || signal?.aborted || this.#closed)
      return false;
    const delay = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** (attempt - 1));
    const jittered = Math.round(delay * (0.5 + Math.random() / 2));
    this.#logger.warn(
      { err: error, code: error.code, view: viewName, hour: new Date(hour).toISOString(), attempt },
      `export attempt ${attempt} failed; retrying in ${jittered} ms`,
    );
    await this.#sleep(jittered);
    return true;
  }

  /** Exactly the run a pointer named, finished into COPY text by the batch reader. */
  #read(viewName: string, sealed: SealedPointer): Promise<RunText> {
    return this.#source.readRunText(
      viewName,
      { hour: sealed.hour, runId: sealed.runId, pointerVersion: sealed.pointerVersion },
      { trailer: runTrailer(sealed), chunkRows: this.options.copyChunkRows },
    );
  }

  async #attempt(
    layout: TableLayout,
    sealed: SealedPointer,
    text: RunText,
    force: boolean,
    started: number,
  ): Promise<HourExportOutcome> {
    const view = layout.view.name;
    await this.#hooks.onStage?.('read', view, sealed.hour);
    const writeStarted = this.#now();
    const result = await this.#withClient(
      `exporting ${view} ${new Date(sealed.hour).toISOString()}`,
      (client) =>
        exportHourInTransaction(
          client,
          layout,
          sealed.hour,
          text,
          { runId: sealed.runId, fencingToken: sealed.fencingToken, pointerVersion: sealed.pointerVersion },
          {
            force,
            onStage: async (stage) => {
              await this.#hooks.onStage?.(stage, view, sealed.hour);
            },
          },
        ),
    );
    return {
      ...this.#outcome(layout, sealed.hour, result.status, sealed, started),
      rows: text.rows,
      upserted: result.upserted,
      deleted: result.deleted,
      writeMs: this.#now() - writeStarted,
    };
  }

  /**
   * Coded error for a failure; an SQL error about a column or the key makes the table be checked
   * again, so a table altered by hand after this process checked it is named as such.
   */
  async #explain(viewName: string, caught: unknown, hour: number): Promise<TandemError> {
    const error = exportError(
      caught,
      this.options.url,
      `exporting ${viewName} ${new Date(hour).toISOString()}`,
    );
    const state =
      error.code === 'TANDEM_ERR_EXPORT_FAILED' ? (error.details.sqlState as string | null) : null;
    if (state !== null && (state.startsWith('42') || state.startsWith('23'))) {
      const layout = this.layout(viewName);
      this.#ready.delete(`${layout.schema}.${layout.table}`);
      try {
        await this.ensureTable(viewName);
      } catch (recheck) {
        if (recheck instanceof TandemError && recheck.code === 'TANDEM_ERR_EXPORT_TABLE_ALTERED')
          return recheck;
      }
    }
    return error;
  }

  async #withClient<T>(what: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw exportError(error, this.options.url, what);
    }
    let failure: unknown = null;
    try {
      return await work(client);
    } catch (error) {
      failure = error;
      throw exportError(error, this.options.url, what);
    } finally {
      // A connection that failed mid-statement may be in any state: it is closed, not reused.
      client.release(failure instanceof Error && !(failure instanceof TandemError) ? failure : undefined);
    }
  }

  async #pointers(viewName: string, range: TimeRange): Promise<Map<number, SealedPointer>> {
    const found = await this.#source.pointersIn(viewName, range);
    return new Map(
      found.map(({ info, pointer }) => [
        pointer.hour,
        {
          hour: pointer.hour,
          runId: pointer.runId,
          fencingToken: pointer.fencingToken,
          pointerVersion: info.etag,
        },
      ]),
    );
  }

  async #heldTokens(layout: TableLayout, range: TimeRange): Promise<Map<number, number>> {
    return this.#withClient(`reading the export records of ${layout.view.name}`, async (client) => {
      const result = await client.query<{ hour: Date; fencing_token: string }>(
        `SELECT hour, fencing_token FROM ${ident(layout.schema)}.${ident(HOURS_TABLE)}
          WHERE table_name = $1 AND hour >= $2 AND hour < $3`,
        [layout.table, new Date(range.from), new Date(range.to)],
      );
      return new Map(result.rows.map((row) => [row.hour.getTime(), Number(row.fencing_token)]));
    });
  }

  #outcome(
    layout: TableLayout,
    hour: number,
    status: HourExportStatus,
    sealed: SealedPointer | null,
    started: number,
  ): HourExportOutcome {
    return {
      view: layout.view.name,
      hour,
      table: `${layout.schema}.${layout.table}`,
      status,
      runId: sealed?.runId ?? null,
      fencingToken: sealed?.fencingToken ?? null,
      rows: null,
      upserted: 0,
      deleted: 0,
      attempts: 1,
      durationMs: this.#now() - started,
      writeMs: 0,
      error: null,
    };
  }

  #failed(
    viewName: string,
    hour: number,
    error: TandemError,
    attempts: number,
    started: number,
  ): HourExportOutcome {
    let table: string;
    try {
      const layout = this.layout(viewName);
      table = `${layout.schema}.${layout.table}`;
    } catch {
      table = '';
    }
    return {
      view: viewName,
      hour,
      table,
      status: 'failed',
      runId: null,
      fencingToken: null,
      rows: null,
      upserted: 0,
      deleted: 0,
      attempts,
      durationMs: this.#now() - started,
      writeMs: 0,
      error,
    };
  }
}

/** A sealed hour's pointer as the exporter uses it. */
interface SealedPointer {
  hour: number;
  runId: string;
  fencingToken: number;
  pointerVersion: string;
}

// Atomic hours under SIGKILL: before each kill the hours are recomputed from changed input (a newer
// run each), then an exporter child is killed at a random moment or paused at a random stage of a
// random hour and killed there (mid-COPY, after the upsert but before the delete of vanished tuples,
// right before COMMIT). After every kill each hour in the table must be exactly one complete run —
// the previous one or the new one, never a mix — and a last, unkilled export converges to the view.
import { type ChildProcess, spawn } from 'node:child_process';
import { HOUR_MS } from '@tandem/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateHour, writeHour } from '../../batch/test/support/fixtures.ts';
import { mulberry32 } from '@tandem/test-support/random.ts';
import { redisUrl } from '@tandem/test-support/stack.ts';
import type { ExportStage } from '../src/index.ts';
import {
  createExportEnv,
  type ExportEnv,
  hoursRange,
  postgresUrl,
  sealedTruth,
  type TableRows,
  tableRows,
} from './support/fixtures.ts';

const BASE = Date.UTC(2025, 2, 3, 6);
const HOURS = 3;
const VIEW = 'user_minutes';
const KILLS = Number(process.env.TANDEM_EXPORT_KILLS ?? 12);
const CHILD = new URL('./fixtures/export-child.ts', import.meta.url).pathname;
const STAGES: ExportStage[] = ['read', 'claimed', 'copied', 'upserted', 'deleted'];

interface Child {
  process: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
  waitFor(text: string): Promise<boolean>;
}

function startChild(env: ExportEnv, pauseAt: { stage: ExportStage; hour: number } | null): Child {
  const child = spawn(process.execPath, [CHILD], {
    env: {
      ...process.env,
      TANDEM_EXPORT_CHILD: JSON.stringify({
        lake: env.batch.lake.options,
        redisUrl,
        prefix: env.batch.prefix,
        tempDirectory: env.batch.tempDirectory,
        postgresUrl,
        schema: env.schema,
        view: VIEW,
        ...hoursRange(BASE, HOURS),
        pauseAt,
      }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: Array<{ text: string; resolve: (found: boolean) => void }> = [];
  let buffer = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      lines.push(line);
      for (const waiter of waiters.splice(0)) {
        if (line.includes(waiter.text)) waiter.resolve(true);
        else waiters.push(waiter);
      }
      newline = buffer.indexOf('\n');
    }
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      for (const waiter of waiters.splice(0)) waiter.resolve(false);
      if (code !== 0 && code !== null) process.stderr.write(`export child failed (${code}):\n${stderr}\n`);
      resolve(code);
    }),
  );
  return {
    process: child,
    lines,
    exited,
    waitFor: (text) =>
      lines.some((line) => line.includes(text))
        ? Promise.resolve(true)
        : new Promise((resolve) => waiters.push({ text, resolve })),
  };
}

/** Recomputes every hour from input written with `seed`; returns each new run's rows by run id. */
async function newRuns(env: ExportEnv, seed: number): Promise<Map<string, TableRows>> {
  for (let i = 0; i < HOURS; i++) {
    const hour = generateHour(BASE + i * HOUR_MS, { events: 1500, users: 200, seed, badLines: 0 });
    await writeHour(env.batch.lake.store, hour);
  }
  const outcomes = await env.layer.runHours(
    VIEW,
    Array.from({ length: HOURS }, (_, i) => BASE + i * HOUR_MS),
    { force: true },
  );
  expect(outcomes.map((o) => o.status)).toEqual(Array(HOURS).fill('published'));
  const runs = new Map<string, TableRows>();
  for (let i = 0; i < HOURS; i++) {
    const rows = await sealedTruth(env.layer, VIEW, hoursRange(BASE + i * HOUR_MS, 1));
    runs.set([...rows.values()][0]!.run_id as string, rows);
  }
  return runs;
}

/** Every hour of the table is one complete known run (or, before any export, empty). */
async function expectWholeRuns(
  env: ExportEnv,
  runs: Map<string, TableRows>,
  label: string,
): Promise<string[]> {
  const held: string[] = [];
  for (let i = 0; i < HOURS; i++) {
    const range = hoursRange(BASE + i * HOUR_MS, 1);
    const actual = await tableRows(env, VIEW, range);
    const runIds = new Set([...actual.values()].map((row) => row.run_id as string));
    expect(runIds.size, `${label}: hour ${i} holds rows of ${[...runIds].join(', ')}`).toBeLessThanOrEqual(1);
    if (runIds.size === 0) {
      held.push('none');
      continue;
    }
    const runId = [...runIds][0]!;
    const expected = runs.get(runId);
    expect(expected, `${label}: hour ${i} holds unknown run ${runId}`).toBeDefined();
    expect([...actual.keys()].sort(), `${label}: hour ${i} keys of run ${runId}`).toEqual(
      [...expected!.keys()].sort(),
    );
    for (const [key, row] of expected!) expect(actual.get(key), `${label}: hour ${i} ${key}`).toEqual(row);
    const record = await env.admin.query<{ run_id: string }>(
      `SELECT run_id FROM "${env.schema}".tandem_export_hours WHERE table_name = $1 AND hour = $2`,
      [`${VIEW}_v1`, new Date(range.from)],
    );
    expect(record.rows[0]?.run_id, `${label}: hour ${i} record`).toBe(runId);
    held.push(runId);
  }
  return held;
}

describe('export crash atomicity', () => {
  let env: ExportEnv;
  beforeEach(async () => {
    env = await createExportEnv('file');
  });
  afterEach(async () => {
    await env.teardown();
  });

  it(`SIGKILL at ${KILLS} random points leaves every hour one complete run, and a rerun converges`, async () => {
    const random = mulberry32(20250303);
    const runs = await newRuns(env, 1);
    // A first complete export: the "previous run" of the first kill.
    const first = startChild(env, null);
    expect(await first.exited).toBe(0);
    await expectWholeRuns(env, runs, 'first export');
    let fullMs = 3000;
    const seen = new Set<string>();
    for (let kill = 0; kill < KILLS; kill++) {
      for (const [runId, rows] of await newRuns(env, 100 + kill)) runs.set(runId, rows);
      const pausing = random() < 0.6;
      const pauseAt = pausing
        ? {
            stage: STAGES[Math.floor(random() * STAGES.length)]!,
            hour: BASE + Math.floor(random() * HOURS) * HOUR_MS,
          }
        : null;
      const started = Date.now();
      const child = startChild(env, pauseAt);
      if (pauseAt !== null) {
        expect(await child.waitFor('paused'), `kill ${kill}: reached ${pauseAt.stage}`).toBe(true);
      } else {
        await child.waitFor('ready');
        await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * fullMs)));
      }
      child.process.kill('SIGKILL');
      await child.exited;
      const lastStage = child.lines.filter((line) => line.startsWith('stage ')).at(-1) ?? 'before any stage';
      const held = await expectWholeRuns(
        env,
        runs,
        `kill ${kill} (${pauseAt ? `paused at ${pauseAt.stage}` : 'random'}, last: ${lastStage})`,
      );
      seen.add(lastStage.split(' ')[1] ?? 'none');
      if (pauseAt === null && child.lines.includes('done')) fullMs = Math.max(500, Date.now() - started);
      expect(held.every((runId) => runId !== 'none')).toBe(true);
    }
    // The kills landed inside the transaction, not only around it.
    expect(
      [...seen].filter((stage) => ['claimed', 'copied', 'upserted', 'deleted'].includes(stage)).length,
    ).toBeGreaterThan(0);

    const last = startChild(env, null);
    expect(await last.exited).toBe(0);
    const range = hoursRange(BASE, HOURS);
    const truth = await sealedTruth(env.layer, VIEW, range);
    const actual = await tableRows(env, VIEW, range);
    expect([...actual.keys()].sort()).toEqual([...truth.keys()].sort());
    for (const [key, row] of truth) expect(actual.get(key), key).toEqual(row);
  });
});

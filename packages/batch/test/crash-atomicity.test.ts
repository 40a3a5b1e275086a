// Atomic publishing under SIGKILL: a child process runs the hour and is killed at every stage of the
// run (between the data write and the pointer write among them) and at random moments, while this
// process polls the reader. The reader must only ever see no run or a complete one, and a rerun
// after the crashes must succeed and leave no orphaned files behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { builtinViews, compileReducer, HOUR_MS, type PartialRow } from '@tandem/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunStage, viewHourPrefix } from '../src/index.ts';
import { expectSameRows } from './support/assertions.ts';
import type { LakeKind } from '@tandem/test-support/lake.ts';
import { mulberry32 } from '@tandem/test-support/random.ts';
import { redisUrl } from '@tandem/test-support/stack.ts';
import { createTestEnv, generateHour, type TestEnv, writeHour } from './support/fixtures.ts';

const BASE = Date.UTC(2024, 3, 7, 5);
const CHILD = new URL('./fixtures/batch-child.ts', import.meta.url).pathname;
const STAGES: RunStage[] = [
  'leased',
  'staged',
  'computed',
  'quarantine-written',
  'data-written',
  'pointer-written',
  'published',
];
const KILLS = Number(process.env.TANDEM_CRASH_KILLS ?? 22);

interface Child {
  process: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
  waitFor(text: string): Promise<boolean>;
}

function startChild(env: TestEnv, pauseAt: string | null): Child {
  const child = spawn(process.execPath, [CHILD], {
    env: {
      ...process.env,
      TANDEM_BATCH_CHILD: JSON.stringify({
        lake: env.lake.options,
        redisUrl,
        prefix: env.prefix,
        tempDirectory: env.tempDirectory,
        view: 'endpoint_hourly',
        hour: BASE,
        pauseAt,
      }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: Array<{ text: string; resolve: (found: boolean) => void }> = [];
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      lines.push(line);
      for (const waiter of waiters.splice(0)) {
        if (line.startsWith(waiter.text)) waiter.resolve(true);
        else waiters.push(waiter);
      }
      newline = buffer.indexOf('\n');
    }
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      for (const waiter of waiters.splice(0)) waiter.resolve(false);
      if (code !== 0 && code !== null && stderr !== '') console.error(stderr);
      resolve(code);
    });
  });
  return {
    process: child,
    lines,
    exited,
    waitFor: (text) =>
      lines.some((line) => line.startsWith(text))
        ? Promise.resolve(true)
        : new Promise((resolve) => waiters.push({ text, resolve })),
  };
}

describe.each(['file', 's3'] as LakeKind[])('crash atomicity on a %s lake', (kind) => {
  let env: TestEnv;
  beforeEach(async () => {
    env = await createTestEnv(kind);
  });
  afterEach(async () => {
    await env.teardown();
  });

  it(`never shows a half-published hour across ${KILLS} SIGKILLs, and reruns cleanly`, async () => {
    const data = generateHour(BASE, { seed: 314, events: 400, badLines: 2 });
    await writeHour(env.lake.store, data);
    const reducer = compileReducer(builtinViews.endpoint_hourly);
    for (const event of data.events) reducer.add(event);
    const expected: PartialRow[] = reducer.rows();
    const observer = await env.open({ owner: 'observer' });

    // The reader polls throughout: every observation is "nothing yet" or the complete run.
    let polling = true;
    let observations = 0;
    let sawPublished = 0;
    const failures: unknown[] = [];
    const poller = (async () => {
      while (polling) {
        try {
          const sealed = await observer.reader.sealedHours('endpoint_hourly', {
            from: BASE,
            to: BASE + HOUR_MS,
          });
          if (sealed.length > 0) {
            const pointer = await observer.reader.pointer('endpoint_hourly', BASE);
            const rows = await observer.reader.readPartials('endpoint_hourly', sealed, {});
            expectSameRows(rows, expected);
            if (pointer !== null && pointer.runId === sealed[0]!.runId)
              expect(pointer.rowsOut).toBe(rows.length);
            sawPublished++;
          }
          observations++;
        } catch (error) {
          // A run file GC'd between listing and reading is a retryable miss, not a torn read.
          if ((error as { code?: string }).code !== 'TANDEM_ERR_LAKE_NOT_FOUND') failures.push(error);
        }
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
    })();

    // One clean run to learn how long a run takes (random kills land within it).
    const startedAt = Date.now();
    const clean = startChild(env, null);
    expect(await clean.exited).toBe(0);
    const runMs = Date.now() - startedAt;
    expect(clean.lines.some((line) => line.startsWith('outcome published'))).toBe(true);

    const rand = mulberry32(7);
    const killedAt: string[] = [];
    for (let attempt = 0; killedAt.length < KILLS && attempt < KILLS * 3; attempt++) {
      const stage = attempt < STAGES.length * 2 ? STAGES[attempt % STAGES.length]! : null;
      const child = startChild(env, stage);
      if (stage !== null) {
        const paused = await child.waitFor('paused');
        expect(paused, `child reached ${stage}`).toBe(true);
      } else {
        await new Promise((resolve) => setTimeout(resolve, rand() * runMs));
      }
      const last = child.lines.filter((line) => line.startsWith('stage ')).at(-1) ?? 'starting';
      if (child.process.exitCode === null && child.process.kill('SIGKILL')) {
        killedAt.push(stage ?? `random after ${last}`);
      }
      await child.exited;
    }
    expect(killedAt.length).toBeGreaterThanOrEqual(KILLS);
    expect(killedAt).toEqual(expect.arrayContaining(['data-written', 'pointer-written']));

    const rerun = startChild(env, null);
    expect(await rerun.exited).toBe(0);
    expect(rerun.lines.find((line) => line.startsWith('outcome'))).toMatch(/^outcome published/);
    polling = false;
    await poller;
    expect(failures).toEqual([]);
    expect(sawPublished).toBeGreaterThan(0);
    expect(observations).toBeGreaterThan(sawPublished);

    // The final run's GC removed every orphan of the killed runs: only the kept runs remain.
    const pointer = (await observer.reader.pointer('endpoint_hourly', BASE))!;
    const kept = new Set([pointer.runId, ...pointer.previous.map((run) => run.runId)]);
    const files: string[] = [];
    for await (const info of env.lake.store.list(viewHourPrefix('endpoint_hourly', 1, BASE)))
      files.push(info.key);
    const runFiles = files.filter((key) => key.endsWith('.parquet'));
    expect(runFiles.length).toBe(kept.size);
    for (const key of runFiles)
      expect([...kept].some((runId) => key.endsWith(`run-${runId}.parquet`))).toBe(true);
    const rows = await observer.reader.readPartials(
      'endpoint_hourly',
      await observer.reader.sealedHours('endpoint_hourly', { from: BASE, to: BASE + HOUR_MS }),
      {},
    );
    expectSameRows(rows, expected);
  });
});

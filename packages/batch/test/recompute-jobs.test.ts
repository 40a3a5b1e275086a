// The recompute job queue on the real stack (Redis, DuckDB, a directory lake): jobs run to the exact
// truth with their progress visible from another replica; at most `concurrency` run at once; a
// queued job cancelled never runs; a running job cancelled from another replica, or stopped by a
// shutdown, stops between hours — the hours it published are complete, the others untouched; the
// records kept in Redis are bounded; a job whose process died shows as failed.
import { builtinViews, HOUR_MS, type RecomputeJob, type TandemEvent } from '@tandem/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchLayer, RecomputeJobs, RunStage } from '../src/index.ts';
import { pointerKey, viewHourPrefix } from '../src/index.ts';
import { expectEndpointTruth } from './support/assertions.ts';
import { createTestEnv, endpointTruth, generateHour, type TestEnv, writeHour } from './support/fixtures.ts';

const BASE = Date.UTC(2024, 2, 1);
const H = HOUR_MS;
const HOURS = 6;
const endpointHourly = builtinViews.endpoint_hourly;

let env: TestEnv;
let events: TandemEvent[];

beforeEach(async () => {
  env = await createTestEnv('file');
  events = [];
  for (let h = 0; h < HOURS; h++) {
    const data = generateHour(BASE + h * H, { seed: 40 + h, events: 40, badLines: 0 });
    events.push(...data.events);
    await writeHour(env.lake.store, data);
  }
});
afterEach(async () => {
  await env.teardown();
});

/** Polls until `check` holds (a job reaching a state, a hook being reached). */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function finished(jobs: RecomputeJobs, id: string): Promise<RecomputeJob> {
  return until(`job ${id} to finish`, async () => {
    const job = await jobs.get(id);
    return job !== null && ['done', 'failed', 'cancelled'].includes(job.state) ? job : undefined;
  });
}

/** Pointers of a view's hours as they are in the lake now (run id or null). */
async function runIds(layer: BatchLayer, view: string): Promise<Array<string | null>> {
  const out: Array<string | null> = [];
  for (let h = 0; h < HOURS; h++) out.push((await layer.reader.pointer(view, BASE + h * H))?.runId ?? null);
  return out;
}

async function objectsUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of env.lake.store.list(prefix)) keys.push(info.key);
  return keys;
}

/** A hook that holds the run at `stage` (for the hours given) until released. */
function gateAt(stage: RunStage, hour: number) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let reached = false;
  return {
    onStage: async (at: RunStage, context: { hours: number[] }) => {
      if (at === stage && context.hours.includes(hour)) {
        reached = true;
        await released;
      }
    },
    reached: () => reached,
    release,
  };
}

describe('recompute jobs', () => {
  it('run to the exact truth, with progress, and every replica sees them', async () => {
    const layer = await env.open();
    const replica = await env.open();
    const jobs = layer.createRecomputeJobs({ heartbeatMs: 50 });
    const elsewhere = replica.createRecomputeJobs({ heartbeatMs: 50 });
    const queued = await jobs.submit('endpoint_hourly', {
      from: BASE + 10 * 60_000,
      to: BASE + (HOURS - 1) * H + 1,
    });
    // Nothing else is queued, so it starts at once.
    expect(queued).toMatchObject({
      state: 'running',
      from: BASE,
      to: BASE + HOURS * H,
      hoursTotal: HOURS,
      hoursDone: 0,
    });

    const done = await finished(elsewhere, queued.id);
    expect(done).toMatchObject({
      state: 'done',
      hoursDone: HOURS,
      hoursPublished: HOURS,
      hoursFailed: 0,
      hoursSkipped: 0,
      currentHour: null,
      errors: [],
      reason: null,
      cancelRequested: false,
      owner: layer.runner.owner,
    });
    expect(done.startedAt).toBeGreaterThanOrEqual(done.createdAt);
    expect(done.finishedAt).toBeGreaterThanOrEqual(done.startedAt!);
    expect(await jobs.get(queued.id)).toEqual(done);
    expect((await elsewhere.list(10)).map((job) => job.id)).toEqual([queued.id]);

    const sealed = await layer.reader.sealedHours('endpoint_hourly', { from: BASE, to: BASE + HOURS * H });
    expect(sealed.map((hour) => hour.hour)).toEqual(Array.from({ length: HOURS }, (_, h) => BASE + h * H));
    expectEndpointTruth(
      endpointHourly,
      await layer.reader.readPartials('endpoint_hourly', sealed, {}),
      endpointTruth(events),
    );
    // A finished job is returned unchanged by a cancel; an unknown one is null.
    expect(await elsewhere.cancel(queued.id)).toEqual(done);
    expect(await elsewhere.get('00000000-0000-4000-8000-000000000000')).toBeNull();
  });

  it('run one at a time; a queued job cancelled never runs; a running one cancelled from another replica stops between hours', async () => {
    const gate = gateAt('published', BASE);
    const layer = await env.open({ hooks: { onStage: gate.onStage } });
    const replica = await env.open();
    const jobs = layer.createRecomputeJobs({ heartbeatMs: 50 });
    const elsewhere = replica.createRecomputeJobs({ heartbeatMs: 50 });
    const first = await jobs.submit('endpoint_hourly', { from: BASE, to: BASE + HOURS * H });
    const second = await jobs.submit('trending_pages', { from: BASE, to: BASE + 2 * H });
    const third = await jobs.submit('endpoint_hourly', { from: BASE + 4 * H, to: BASE + 5 * H });
    await until('the first hour to be published', async () => (gate.reached() ? true : undefined));
    expect(jobs.active).toEqual({ running: 1, queued: 2 });
    expect((await elsewhere.get(second.id))?.state).toBe('queued');
    expect(await elsewhere.get(first.id)).toMatchObject({ state: 'running', currentHour: BASE });

    const cancelledQueued = await jobs.cancel(second.id);
    expect(cancelledQueued).toMatchObject({
      state: 'cancelled',
      reason: 'cancelled on request before it started',
    });
    const asked = await elsewhere.cancel(first.id);
    expect(asked).toMatchObject({ state: 'running', cancelRequested: true });
    // The process running the job notices within a heartbeat and stops it after the hour it is publishing.
    await until('the cancel to reach the running job', async () =>
      (await jobs.get(first.id))?.cancelRequested ? true : undefined,
    );
    gate.release();

    const stopped = await finished(elsewhere, first.id);
    expect(stopped).toMatchObject({
      state: 'cancelled',
      hoursPublished: 1,
      hoursDone: 1,
      hoursTotal: HOURS,
      reason: `cancelled on request after 1 of ${HOURS} hours`,
    });
    // The third job ran once the first stopped; the cancelled second never did.
    expect((await finished(elsewhere, third.id)).state).toBe('done');
    expect(await runIds(layer, 'trending_pages')).toEqual(Array(HOURS).fill(null));
    const ids = await runIds(layer, 'endpoint_hourly');
    expect(ids.map((id) => id !== null)).toEqual([true, false, false, false, true, false]);
    // The hours the cancelled job did not reach hold nothing: no run file, no pointer.
    for (const h of [1, 2, 3, 5]) {
      expect(
        await objectsUnder(viewHourPrefix('endpoint_hourly', endpointHourly.version, BASE + h * H)),
      ).toEqual([]);
    }
    const sealed = await layer.reader.sealedHours('endpoint_hourly', { from: BASE, to: BASE + HOURS * H });
    const truth = endpointTruth(
      events.filter(
        (event) =>
          event.timestamp < BASE + H || (event.timestamp >= BASE + 4 * H && event.timestamp < BASE + 5 * H),
      ),
    );
    expectEndpointTruth(
      endpointHourly,
      await layer.reader.readPartials('endpoint_hourly', sealed, {}),
      truth,
    );
  });

  it('stop between hours on shutdown; queued ones are cancelled and no new one is taken', async () => {
    const gate = gateAt('published', BASE + H);
    const layer = await env.open({ maxHoursPerChunk: 2, hooks: { onStage: gate.onStage } });
    const replica = await env.open();
    const jobs = layer.createRecomputeJobs({ heartbeatMs: 50 });
    const running = await jobs.submit('endpoint_hourly', { from: BASE, to: BASE + HOURS * H });
    const waiting = await jobs.submit('endpoint_hourly', { from: BASE, to: BASE + H });
    await until('the second hour to be published', async () => (gate.reached() ? true : undefined));
    const closing = jobs.close();
    gate.release();
    await closing;

    const elsewhere = replica.createRecomputeJobs();
    expect(await elsewhere.get(running.id)).toMatchObject({
      state: 'cancelled',
      hoursPublished: 2,
      reason: `the server shut down after 2 of ${HOURS} hours`,
    });
    expect(await elsewhere.get(waiting.id)).toMatchObject({
      state: 'cancelled',
      hoursDone: 0,
      reason: 'the server shut down before the job started',
    });
    expect((await runIds(layer, 'endpoint_hourly')).map((id) => id !== null)).toEqual([
      true,
      true,
      false,
      false,
      false,
      false,
    ]);
    await expect(jobs.submit('endpoint_hourly', { from: BASE, to: BASE + H })).rejects.toMatchObject({
      code: 'TANDEM_ERR_SERVICE_UNAVAILABLE',
    });
    expect(
      await env.lake.store.get(pointerKey('endpoint_hourly', endpointHourly.version, BASE + 2 * H)),
    ).toBeNull();
  });

  it('keep a bounded number of jobs and queue, and show the job of a dead process as failed', async () => {
    const layer = await env.open();
    const jobs = layer.createRecomputeJobs({ keep: 2, maxQueued: 1, heartbeatMs: 50 });
    const ids: string[] = [];
    for (let h = 0; h < 3; h++) {
      const job = await jobs.submit('endpoint_hourly', { from: BASE + h * H, to: BASE + (h + 1) * H });
      ids.push(job.id);
      await finished(jobs, job.id);
    }
    expect((await jobs.list(10)).map((job) => job.id)).toEqual([ids[2], ids[1]]);
    expect(await jobs.get(ids[0]!)).toBeNull();
    const keys = await env.redis.keys(`${env.prefix}:batch:{jobs}:job:*`);
    expect(keys.sort()).toEqual([ids[1], ids[2]].map((id) => `${env.prefix}:batch:{jobs}:job:${id}`).sort());

    // One running and one queued: the queue (of one) is full.
    const gate = gateAt('staged', BASE);
    const slow = await env.open({ hooks: { onStage: gate.onStage } });
    const busy = slow.createRecomputeJobs({ maxQueued: 1, heartbeatMs: 50 });
    await busy.submit('endpoint_hourly', { from: BASE, to: BASE + H });
    await until('the job to be computing', async () => (gate.reached() ? true : undefined));
    await busy.submit('endpoint_hourly', { from: BASE, to: BASE + H });
    await expect(busy.submit('endpoint_hourly', { from: BASE, to: BASE + H })).rejects.toMatchObject({
      code: 'TANDEM_ERR_SERVICE_UNAVAILABLE',
      message: expect.stringContaining('1 queued recomputes'),
    });
    gate.release();

    // What a process that died mid-job leaves behind: a running record nobody refreshes.
    const id = '11111111-2222-4333-8444-555555555555';
    const stale = Date.now() - 60_000;
    await env.redis.set(
      `${env.prefix}:batch:{jobs}:job:${id}`,
      JSON.stringify({
        ...(await jobs.get(ids[2]!)),
        id,
        state: 'running',
        currentHour: BASE,
        updatedAt: stale,
        finishedAt: null,
      }),
    );
    const lost = await jobs.get(id);
    expect(lost).toMatchObject({ state: 'failed', currentHour: null });
    expect(lost?.reason).toContain(`stopped at ${new Date(stale).toISOString()}`);
  });
});

// Building a changed view's new version beside the serving one, on the real stack (file lake,
// DuckDB, Redis). The config changes endpoint_hourly to count GET requests only: the scheduler's
// catch-up keeps v1 up and builds v2 over the view's history (6h), newest hour first, then switches
// serving to it in one compare-and-set; v1's runs are untouched; rollback is a pointer move; a
// cosmetic edit builds nothing; a scheduler SIGKILLed mid-build resumes with the hours still missing
// and ends exact.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  builtinCatalog,
  createCatalog,
  defineView,
  HOUR_MS,
  type TandemEvent,
  viewSpecOf,
} from '@tandem/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redisUrl } from '@tandem/test-support/stack.ts';
import { GenerationRegistry } from '../src/index.ts';
import { editedCatalog } from './fixtures/generation-build-child.ts';
import { expectEndpointTruth } from './support/assertions.ts';
import { createTestEnv, endpointTruth, generateHour, type TestEnv, writeHour } from './support/fixtures.ts';

const BASE = Date.UTC(2024, 2, 1);
const H = HOUR_MS;
const LOG_HOURS = 8;
/** The clock of every layer here: hours 0..8 are complete (9 is not over), v2's history is 4..8. */
const NOW = BASE + 10 * H;
const V2_HOURS = [4, 5, 6, 7, 8].map((h) => BASE + h * H);
const manual = { schedule: () => ({ stop: () => {} }), catchUpOnStart: false };
const CHILD = new URL('./fixtures/generation-build-child.ts', import.meta.url).pathname;

let env: TestEnv;
let events: TandemEvent[];
beforeEach(async () => {
  env = await createTestEnv('file');
  events = [];
  for (let h = 0; h < LOG_HOURS; h++) {
    const data = generateHour(BASE + h * H, { seed: 40 + h, events: 40, badLines: 0 });
    events.push(...data.events);
    await writeHour(env.lake.store, data);
  }
});
afterEach(async () => {
  await env.teardown();
});

const getOnly = (list: readonly TandemEvent[]) => list.filter((event) => (event.method ?? 'GET') === 'GET');
const inHours = (list: readonly TandemEvent[], hours: readonly number[]) =>
  list.filter((event) => hours.includes(Math.floor(event.timestamp / H) * H));

/** The deployment before the edit: v1 adopted, its catch-up done. Returns v1's run id per hour. */
async function deployV1(): Promise<Map<number, string>> {
  const layer = await env.open({ now: () => NOW });
  await layer.createScheduler(manual).catchUp();
  const registry = new GenerationRegistry(env.redis, env.prefix);
  expect((await registry.list('endpoint_hourly')).generations.map((gen) => `v${gen.n}:${gen.state}`)).toEqual(
    ['v1:active'],
  );
  const sealed = await layer.reader.sealedHours('endpoint_hourly', { from: BASE, to: NOW });
  expect(sealed.map((hour) => (hour.hour - BASE) / H)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  return new Map(sealed.map((hour) => [hour.hour, hour.runId]));
}

describe('building a new view version', () => {
  it('builds v2 over its history beside v1, switches, rolls back, and ignores a cosmetic edit', async () => {
    const v1Runs = await deployV1();
    const layer = await env.open({ now: () => NOW, catalog: editedCatalog() });
    const registry = new GenerationRegistry(env.redis, env.prefix);

    const before = await layer.generations.progress('endpoint_hourly');
    expect(before).toMatchObject({
      active: 1,
      activeRef: 'endpoint_hourly@v1',
      building: 2,
      hoursNeeded: 5,
      hoursDone: 0,
    });
    expect(before.window).toEqual({ from: BASE + 4 * H, to: BASE + 9 * H });

    const outcomes = await layer.createScheduler(manual).catchUp();
    // v1 needed nothing; v2 published exactly its history's hours, under its own tree.
    expect(
      outcomes
        .filter((outcome) => outcome.status === 'published')
        .map((outcome) => `${outcome.view}@${(outcome.hour - BASE) / H}`)
        .sort(),
    ).toEqual([
      'endpoint_hourly@4',
      'endpoint_hourly@5',
      'endpoint_hourly@6',
      'endpoint_hourly@7',
      'endpoint_hourly@8',
    ]);
    const v2Sealed = await layer.reader.sealedHours('endpoint_hourly', { from: BASE, to: NOW });
    expect(v2Sealed.map((hour) => hour.hour)).toEqual(V2_HOURS);
    for (const hour of v2Sealed) {
      expect((await layer.reader.pointer('endpoint_hourly', hour.hour))?.viewVersion).toBe(2);
    }
    expectEndpointTruth(
      layer.view('endpoint_hourly'),
      await layer.reader.readPartials('endpoint_hourly', v2Sealed, {}),
      endpointTruth(getOnly(inHours(events, V2_HOURS))),
    );
    // Switched: v2 serves, v1 is kept for rollback with every run it had.
    let list = await registry.list('endpoint_hourly');
    expect([list.active, ...list.generations.map((gen) => `v${gen.n}:${gen.state}`)]).toEqual([
      2,
      'v1:active'.replace('active', 'previous'),
      'v2:active',
    ]);
    expect(await layer.generations.progress('endpoint_hourly')).toMatchObject({
      active: 2,
      activeRef: 'endpoint_hourly',
      building: null,
      hoursNeeded: 5,
      hoursDone: 5,
    });
    const v1Sealed = await layer.reader.sealedHours('endpoint_hourly@v1', { from: BASE, to: NOW });
    expect(new Map(v1Sealed.map((hour) => [hour.hour, hour.runId]))).toEqual(v1Runs);
    expectEndpointTruth(
      layer.view('endpoint_hourly@v1'),
      await layer.reader.readPartials('endpoint_hourly@v1', v1Sealed, {}),
      endpointTruth(events),
    );

    // Rollback: a pointer move back to v1, which stands (the next catch-up does not switch again).
    expect(await layer.generations.switchTo('endpoint_hourly', 1)).toEqual({ from: 2, to: 1 });
    const again = await layer.createScheduler(manual).catchUp();
    expect(again.filter((outcome) => outcome.status === 'published')).toEqual([]);
    list = await registry.list('endpoint_hourly');
    expect([list.active, ...list.generations.map((gen) => `v${gen.n}:${gen.state}`)]).toEqual([
      1,
      'v1:active',
      'v2:previous',
    ]);
    await layer.generations.switchTo('endpoint_hourly', 2);
    // Serving v2, the regular catch-up keeps it over the catch-up window (hours 0..3 too).
    const upkeep = await layer.createScheduler(manual).catchUp();
    expect(
      upkeep.filter((outcome) => outcome.status === 'published').map((outcome) => (outcome.hour - BASE) / H),
    ).toEqual([0, 1, 2, 3]);

    // A cosmetic edit (measures reordered, another history): same version, nothing to build.
    const spec = viewSpecOf(layer.view('endpoint_hourly'));
    const cosmetic = defineView({
      ...spec,
      history: '2d',
      measures: Object.fromEntries(Object.entries(spec.measures).reverse()),
    });
    const builtin = builtinCatalog();
    const third = await env.open({ now: () => NOW, catalog: createCatalog(builtin.streams, [cosmetic]) });
    const none = await third.createScheduler(manual).catchUp();
    expect(none.filter((outcome) => outcome.status === 'published')).toEqual([]);
    list = await registry.list('endpoint_hourly');
    expect([list.active, ...list.generations.map((gen) => `v${gen.n}:${gen.state}`)]).toEqual([
      2,
      'v1:previous',
      'v2:active',
    ]);
  });

  it('waits to switch until batch has sealed the hour in which speed began writing the new version', async () => {
    await deployV1();
    const registry = new GenerationRegistry(env.redis, env.prefix);
    const layer = await env.open({ now: () => NOW, catalog: editedCatalog() });
    await layer.generations.reconcile(['endpoint_hourly']);
    // A speed worker restarted with the new config at 09:30: hour 9 of v2 is partial in speed.
    await registry.markSpeedStart('endpoint_hourly', 2, BASE + 9.5 * H);
    const first = await layer.createScheduler(manual).catchUp();
    expect(first.filter((outcome) => outcome.status === 'published').length).toBe(5);
    expect((await registry.active('endpoint_hourly'))?.n).toBe(1);

    // An hour later hour 9 is complete: batch seals it for v2, and only then serving switches.
    const later = await env.open({ now: () => NOW + H, catalog: editedCatalog() });
    const second = await later.createScheduler(manual).catchUp();
    expect(
      second
        .filter((outcome) => outcome.status === 'published' && outcome.pointer?.viewVersion === 2)
        .map((outcome) => (outcome.hour - BASE) / H),
    ).toEqual([9]);
    expect((await registry.active('endpoint_hourly'))?.n).toBe(2);
  });

  it('retires the previous version after the retention period and then collects its lake tree', async () => {
    await deployV1();
    const registry = new GenerationRegistry(env.redis, env.prefix);
    await (await env.open({ now: () => NOW, catalog: editedCatalog() })).createScheduler(manual).catchUp();
    expect((await registry.active('endpoint_hourly'))?.n).toBe(2);
    const countUnder = async (prefix: string) => {
      let count = 0;
      for await (const _ of env.lake.store.list(prefix)) count++;
      return count;
    };
    const v1Objects = await countUnder('views/endpoint_hourly/v1/');
    const v2Objects = await countUnder('views/endpoint_hourly/v2/');
    expect([v1Objects, v2Objects]).toEqual([18, 10]); // a pointer and a Parquet file per hour
    const DAY = 24 * H;

    // Within the rollback window nothing moves.
    const early = await env.open({ now: () => NOW + 7 * DAY - 1, catalog: editedCatalog() });
    expect(await early.generations.collect(['endpoint_hourly'])).toEqual([
      { view: 'endpoint_hourly', retired: [], collected: [] },
    ]);
    // After it, v1 is retired (no rollback to it any more), its data still kept for the retention.
    const week = await env.open({ now: () => NOW + 7 * DAY, catalog: editedCatalog() });
    expect(await week.generations.collect(['endpoint_hourly'])).toEqual([
      { view: 'endpoint_hourly', retired: [1], collected: [] },
    ]);
    expect(await countUnder('views/endpoint_hourly/v1/')).toBe(18);
    // A retention later its tree is deleted and its entry forgotten; v2 is untouched.
    const fortnight = await env.open({ now: () => NOW + 14 * DAY, catalog: editedCatalog() });
    expect(await fortnight.generations.collect(['endpoint_hourly'])).toEqual([
      { view: 'endpoint_hourly', retired: [], collected: [{ n: 1, objects: 18 }] },
    ]);
    expect(await countUnder('views/endpoint_hourly/v1/')).toBe(0);
    expect(await countUnder('views/endpoint_hourly/v2/')).toBe(v2Objects);
    const list = await registry.list('endpoint_hourly');
    expect([list.active, ...list.generations.map((gen) => `v${gen.n}:${gen.state}`)]).toEqual([
      2,
      'v2:active',
    ]);
  });

  it('revives a retired version without computing an hour when its definition comes back', async () => {
    await deployV1();
    const registry = new GenerationRegistry(env.redis, env.prefix);
    // Short enough that no new hour completes meanwhile (the build then has nothing to compute).
    const retentionMs = 5 * 60_000;
    await (await env.open({ now: () => NOW, catalog: editedCatalog() })).createScheduler(manual).catchUp();
    const later = await env.open({
      now: () => NOW + retentionMs,
      catalog: editedCatalog(),
      versionRetentionMs: retentionMs,
    });
    expect((await later.generations.collect(['endpoint_hourly']))[0]!.retired).toEqual([1]);
    // The old definition deployed again while v1's data is retained: built from what the lake holds.
    const back = await env.open({ now: () => NOW + retentionMs, versionRetentionMs: retentionMs });
    const { outcomes, progress } = await back.generations.build(['endpoint_hourly']);
    expect(outcomes).toEqual([]);
    expect(progress[0]).toMatchObject({ active: 1, building: null, hoursNeeded: 9, hoursDone: 9 });
    const list = await registry.list('endpoint_hourly');
    expect([list.active, ...list.generations.map((gen) => `v${gen.n}:${gen.state}`)]).toEqual([
      1,
      'v1:active',
      'v2:previous',
    ]);
  });

  it('resumes a build after a SIGKILL of the scheduler, newest hour first, and ends exact', async () => {
    await deployV1();
    const registry = new GenerationRegistry(env.redis, env.prefix);
    const start = (): { child: ChildProcess; lines: string[]; exited: Promise<number | null> } => {
      const child = spawn(process.execPath, [CHILD], {
        env: {
          ...process.env,
          TANDEM_BATCH_CHILD: JSON.stringify({
            lake: env.lake.options,
            redisUrl,
            prefix: env.prefix,
            tempDirectory: env.tempDirectory,
            now: NOW,
          }),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const lines: string[] = [];
      let buffer = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const parts = buffer.split('\n');
        buffer = parts.pop()!;
        lines.push(...parts);
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      return { child, lines, exited };
    };
    const until = async (what: string, check: () => boolean) => {
      for (let i = 0; i < 1200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(check(), what).toBe(true);
    };

    const first = start();
    await until(
      'two hours of v2 published',
      () => first.lines.filter((line) => line.startsWith('published')).length >= 2,
    );
    first.child.kill('SIGKILL');
    await first.exited;
    // Newest first: the hours published before the kill are the history's last ones.
    const published = first.lines
      .filter((line) => line.startsWith('published'))
      .map((line) => Number(line.slice(10)));
    expect(published.slice(0, 2)).toEqual([BASE + 8 * H, BASE + 7 * H]);
    expect((await registry.active('endpoint_hourly'))?.n).toBe(1);

    const second = start();
    expect(await second.exited).toBe(0);
    expect(second.lines.at(-1)).toBe('done v2');
    // The second run computed only what was missing (the hour in flight at the kill at most again).
    const rerun = second.lines
      .filter((line) => line.startsWith('published'))
      .map((line) => Number(line.slice(10)));
    expect(rerun.length).toBeLessThanOrEqual(V2_HOURS.length - 2 + 1);
    expect(rerun).toEqual([...rerun].sort((a, b) => b - a));

    const layer = await env.open({ now: () => NOW, catalog: editedCatalog() });
    await layer.generations.reconcile(['endpoint_hourly']);
    const sealed = await layer.reader.sealedHours('endpoint_hourly', { from: BASE, to: NOW });
    expect(sealed.map((hour) => hour.hour)).toEqual(V2_HOURS);
    expectEndpointTruth(
      layer.view('endpoint_hourly'),
      await layer.reader.readPartials('endpoint_hourly', sealed, {}),
      endpointTruth(getOnly(inHours(events, V2_HOURS))),
    );
  });
});

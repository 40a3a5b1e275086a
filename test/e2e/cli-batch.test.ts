// `tandem backfill` and `tandem recompute` through the built command, on a lake the command itself
// filled (`tandem generate --to lake`): each changes exactly the hours it should — checked against
// the reducer's truth for the generated events and against the pointers in the lake — and leaves
// every other hour's published run untouched. Ctrl-C during a recompute stops between hours.
import { type BatchLayer, openBatchLayer, partitionHoursFor } from '@tandem/batch';
import type { TrafficOptions } from '@tandem/cli';
import { getView, HOUR_MS, hourStart } from '@tandem/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, World } from './cli/harness.ts';
import { differences, eventsFor, expectedRows, finalized, regenerate } from './cli/truth.ts';

const views = ['endpoint_hourly', 'sessions_hourly', 'trending_pages'] as const;
const HOURS = 6;

interface GenerateJson {
  options: TrafficOptions;
  truth: { valid: number; late: number; duplicates: number };
  files: Array<{ key: string; hour: string; lines: number }>;
}

const inHours = (hours: number[]) => (p: { hour: string }) => hours.includes(Date.parse(p.hour));

interface BatchJson {
  counts?: Record<string, number>;
  interrupted?: boolean;
  plan: Array<{ view: string; hour: string; why: string }>;
  hours: Array<{ view: string; hour: string; status: string; runId: string | null }>;
}

describe('tandem backfill and recompute', () => {
  // No lateness: every hour before the current one is complete, so the generated hours are the
  // whole catch-up window (unless the clock crosses an hour mid-test: assertions stay on `hours`).
  const world = new World({ BATCH_LATENESS_MS: '0' });
  const first = hourStart(Date.now()) - HOURS * HOUR_MS;
  const hours = Array.from({ length: HOURS }, (_, i) => first + i * HOUR_MS);
  let layer: BatchLayer;
  let generated: GenerateJson;
  const streams: Array<ReturnType<typeof regenerate>> = [];

  /** Every view's pointer run id per hour, as in the lake now. */
  async function runIds(): Promise<Map<string, string | null>> {
    layer.reader.invalidate();
    const ids = new Map<string, string | null>();
    for (const view of views) {
      for (const hour of hours)
        ids.set(`${view} ${hour}`, (await layer.reader.pointer(view, hour))?.runId ?? null);
    }
    return ids;
  }

  async function batchValues(view: string, hour: number): Promise<Record<string, Record<string, unknown>>> {
    layer.reader.invalidate();
    const sealed = await layer.reader.sealedHours(view, { from: hour, to: hour + HOUR_MS });
    expect(sealed).toHaveLength(1);
    return finalized(view, await layer.reader.readPartials(view, sealed, {}));
  }

  async function expectTruth(hour: number): Promise<void> {
    const events = eventsFor(streams, 'batch');
    for (const view of ['endpoint_hourly', 'trending_pages']) {
      const actual = await batchValues(view, hour);
      expect(Object.keys(actual).length, `${view} ${new Date(hour).toISOString()} rows`).toBeGreaterThan(0);
      expect(differences(actual, finalized(view, expectedRows(view, events, hour))), view).toEqual([]);
    }
  }

  beforeAll(async () => {
    generated = await world.json<GenerateJson>([
      'generate',
      '--to',
      'lake',
      '--start',
      String(first),
      '--duration',
      `${HOURS}h`,
      '--rate',
      '2',
      '--late',
      '2%',
      '--duplicates',
      '3%',
      '--late-by',
      '20m',
      '--seed',
      '101',
    ]);
    streams.push(regenerate(generated.options));
    layer = await openBatchLayer({ config: world.config });
  });

  afterAll(async () => {
    await layer?.close();
    await world.cleanup();
  });

  it('generate wrote exactly the generated events into the hours they belong to', () => {
    const truth = generated.truth;
    expect(truth.duplicates).toBeGreaterThan(0);
    expect(truth.late).toBeGreaterThan(0);
    expect(generated.files.reduce((sum, f) => sum + f.lines, 0)).toBe(
      truth.valid + truth.late + truth.duplicates,
    );
    expect(new Set(generated.files.map((f) => Date.parse(f.hour)))).toEqual(new Set(hours));
  });

  it('backfill seals exactly the missing hours, with the truth, and a second backfill changes nothing', async () => {
    const dry = await world.json<BatchJson>(['backfill', '--dry-run']);
    dry.plan = dry.plan.filter(inHours(hours));
    expect(dry.plan.length).toBeGreaterThan(0);
    expect(dry.plan.every((p) => p.why === 'missing')).toBe(true);
    expect(dry.plan.filter((p) => p.view === 'endpoint_hourly').map((p) => Date.parse(p.hour))).toEqual(
      hours,
    );
    expect([...(await runIds()).values()].every((id) => id === null)).toBe(true);

    const run = await world.json<BatchJson>(['backfill'], { timeoutMs: 180_000 });
    expect(run.hours.filter(inHours(hours)).map((h) => h.status)).toEqual(dry.plan.map(() => 'published'));
    const after = await runIds();
    for (const p of dry.plan) expect(after.get(`${p.view} ${Date.parse(p.hour)}`)).not.toBeNull();
    for (const hour of hours) await expectTruth(hour);

    const again = await world.json<BatchJson>(['backfill']);
    expect(again.plan.filter(inHours(hours))).toEqual([]);
    expect(await runIds()).toEqual(after);
  });

  it('a file added to a sealed hour makes exactly the hours that read it stale; backfill recomputes only those', async () => {
    const before = await runIds();
    const target = hours[2]!;
    const extra = await world.json<GenerateJson>([
      'generate',
      '--to',
      'lake',
      '--start',
      String(target),
      '--duration',
      '20m',
      '--rate',
      '1',
      '--seed',
      '202',
    ]);
    streams.push(regenerate(extra.options));
    const dry = await world.json<BatchJson>(['backfill', '--dry-run']);
    dry.plan = dry.plan.filter(inHours(hours));
    const expected = views.flatMap((view) =>
      hours
        .filter((hour) => before.get(`${view} ${hour}`) !== null)
        .filter((hour) => partitionHoursFor(getView(view), hour).includes(target))
        .map((hour) => `${view} ${hour} stale`),
    );
    expect(dry.plan.map((p) => `${p.view} ${Date.parse(p.hour)} ${p.why}`).sort()).toEqual(expected.sort());
    expect(dry.plan.filter((p) => p.view === 'endpoint_hourly').map((p) => Date.parse(p.hour))).toEqual([
      target,
    ]);

    await world.json<BatchJson>(['backfill']);
    const after = await runIds();
    const changed = [...after].filter(([key, id]) => before.get(key) !== id).map(([key]) => key);
    expect(changed.sort()).toEqual(expected.map((e) => e.replace(/ stale$/, '')).sort());
    for (const hour of hours) await expectTruth(hour);
  });

  it('recompute --dry-run lists the hours and their input files and changes nothing', async () => {
    const before = await runIds();
    const from = hours[0]!;
    const to = hours[2]!;
    const dry = await world.json<{
      hours: Array<{ hour: string; complete: boolean; inputs: Array<{ key: string }> }>;
    }>(['recompute', '--view', 'endpoint_hourly', '--from', String(from), '--to', String(to), '--dry-run']);
    expect(dry.hours.map((h) => Date.parse(h.hour))).toEqual([from, from + HOUR_MS]);
    expect(dry.hours.every((h) => h.complete)).toBe(true);
    const store = layer.store;
    for (const entry of dry.hours) {
      const prefix = `logs/dt=${entry.hour.slice(0, 10)}/hour=${entry.hour.slice(11, 13)}/`;
      const listed: string[] = [];
      for await (const info of store.list(prefix)) listed.push(info.key);
      expect(entry.inputs.map((i) => i.key).sort()).toEqual(listed.sort());
    }
    expect(await runIds()).toEqual(before);
  });

  it('recompute republishes exactly its range with the same values, and nothing else', async () => {
    const before = await runIds();
    const valuesBefore = await batchValues('endpoint_hourly', hours[1]!);
    const result = await world.json<BatchJson>([
      'recompute',
      '--view',
      'endpoint_hourly',
      '--from',
      new Date(hours[0]!).toISOString(),
      '--to',
      new Date(hours[1]! + 30 * 60_000).toISOString(), // rounded up to the end of hours[1]
    ]);
    expect(result.counts).toEqual({ published: 2, skipped: 0, failed: 0 });
    const after = await runIds();
    const changed = [...after].filter(([key, id]) => before.get(key) !== id).map(([key]) => key);
    expect(changed.sort()).toEqual([`endpoint_hourly ${hours[0]}`, `endpoint_hourly ${hours[1]}`].sort());
    expect(differences(await batchValues('endpoint_hourly', hours[1]!), valuesBefore)).toEqual([]);
    await expectTruth(hours[0]!);
  });

  it('Ctrl-C during a recompute stops between hours: every hour is either the old run or a new complete one', async () => {
    const before = await runIds();
    const child = world.start([
      'recompute',
      '--view',
      'sessions_hourly',
      '--from',
      String(hours[0]),
      '--to',
      String(hours.at(-1)! + HOUR_MS),
      '--json',
    ]);
    // Interrupt as soon as the first hour has been republished.
    await eventually(
      'the first recomputed hour',
      async () => {
        const now = await runIds();
        return hours.some((h) => now.get(`sessions_hourly ${h}`) !== before.get(`sessions_hourly ${h}`))
          ? true
          : undefined;
      },
      120_000,
      20,
    );
    child.signal('SIGINT');
    const code = await child.stop();
    const after = await runIds();
    const changed = hours.filter(
      (hour) => after.get(`sessions_hourly ${hour}`) !== before.get(`sessions_hourly ${hour}`),
    );
    expect(changed.length).toBeGreaterThan(0);
    expect(code).toBe(130);
    expect(child.output()).toMatch(/"interrupted": true/);
    expect(changed.length).toBeLessThan(
      hours.filter((h) => before.get(`sessions_hourly ${h}`) !== null).length,
    );
    // Republished hours are the oldest ones (stopped between hours, oldest first), and every sealed
    // hour still reads completely.
    const sealedBefore = hours.filter((h) => before.get(`sessions_hourly ${h}`) !== null);
    expect(changed).toEqual(sealedBefore.slice(0, changed.length));
    layer.reader.invalidate();
    const sealed = await layer.reader.sealedHours('sessions_hourly', {
      from: hours[0]!,
      to: hours.at(-1)! + HOUR_MS,
    });
    expect(sealed.map((s) => s.hour)).toEqual(sealedBefore);
    await layer.reader.readPartials('sessions_hourly', sealed, {});
    for (const view of ['endpoint_hourly', 'trending_pages']) {
      for (const hour of hours) expect(after.get(`${view} ${hour}`)).toBe(before.get(`${view} ${hour}`));
    }
  });
});

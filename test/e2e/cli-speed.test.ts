// `tandem verify`, `tandem replay` and `tandem dlq list|show|replay` through the built command on
// the real stack. One generated stream goes to Kafka (for the speed layer) and, identically, to the
// lake (what the archiver would have written, for the batch layer); the truth is the generator's.
//   verify  — reports as drift exactly the late events the speed layer left out, and changes nothing;
//   replay  — with a larger allowed lateness rebuilds a namespace that includes them (drift 0),
//             switches readers and the live worker over, and removes the old namespace;
//   dlq     — lists each poison message once with its code; after a fix, replaying one kind adds
//             exactly those events to the views; replaying the rest dead-letters them again.
import { createHash } from 'node:crypto';
import type { TrafficOptions, TrafficTruth } from '@tandem/cli';
import { poisonExpectedCode } from '@tandem/cli';
import { HOUR_MS, hourStart, parseEvent } from '@tandem/core';
import { speedKeys } from '@tandem/speed';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, World } from './cli/harness.ts';
import { regenerate } from './cli/truth.ts';

interface GenerateJson {
  options: TrafficOptions;
  truth: TrafficTruth;
}
interface StatusJson {
  namespace: string;
  speed: { eventsApplied: number; lateCount: number; dlqCount: number; duplicateCount: number };
}
interface VerifyJson {
  namespace: string;
  speedRows: number;
  maxRelativeDrift: number | null;
  groups: { both: number; batchOnly: number; speedOnly: number };
  measures: Array<{
    measure: string;
    batch: number | null;
    speed: number | null;
    drift: number | null;
    groupsDiffering: number;
  }>;
}
interface DlqJson {
  total: number;
  matching: number;
  byCode: Record<string, number>;
  deadLetters: Array<{
    id: string;
    sourceKey: string;
    replayed: boolean;
    error: { code: string };
    preview: string;
  }>;
}

describe('tandem verify, replay and dlq', () => {
  const world = new World({
    SPEED_OUT_OF_ORDERNESS_MS: '2000',
    SPEED_ALLOWED_LATENESS_MS: '5000',
    BATCH_LATENESS_MS: '0',
  });
  const hour = hourStart(Date.now()) - 2 * HOUR_MS;
  const trafficFlags = [
    '--start',
    String(hour),
    '--duration',
    '1h',
    '--rate',
    '2',
    '--late',
    '3%',
    '--duplicates',
    '2%',
    '--bad',
    '2%',
    '--late-by',
    '60s',
    '--seed',
    '7',
  ];
  let stream: GenerateJson;
  let records: ReturnType<typeof regenerate>;
  let speed: ReturnType<World['start']>;
  const inHour = (ts: number) => ts >= hour && ts < hour + HOUR_MS;

  async function status(): Promise<StatusJson> {
    const result = await world.run(['status', '--json']);
    return JSON.parse(result.stdout) as StatusJson;
  }

  /** A digest of every Redis key of the world and its value, and of the lake listing. */
  async function snapshot(): Promise<string> {
    const redis = await world.redis();
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${world.env.REDIS_PREFIX}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    const hash = createHash('sha256');
    for (const key of keys.sort()) {
      if (key.includes(':batch:runs:') || key.includes(':lease')) continue;
      hash.update(key).update((await redis.dumpBuffer(key)) ?? Buffer.alloc(0));
    }
    const { readdirSync } = await import('node:fs');
    hash.update(JSON.stringify(readdirSync(world.lakeDir, { recursive: true }).sort()));
    return hash.digest('hex');
  }

  async function verify(view: string): Promise<VerifyJson> {
    return world.json<VerifyJson>(['verify', '--view', view, '--hour', String(hour)]);
  }

  beforeAll(async () => {
    stream = await world.json<GenerateJson>(['generate', '--to', 'kafka', '--burst', ...trafficFlags]);
    await world.json(['generate', '--to', 'lake', ...trafficFlags]);
    records = regenerate(stream.options);
    speed = world.start(['speed']);
    await world.json(['batch', 'run', '--view', 'endpoint_hourly', '--hour', String(hour)]);
  }, 180_000);

  afterAll(async () => {
    await speed?.stop();
    await world.cleanup();
  });

  it('the speed layer applies the valid events and counts exactly the late, duplicate and bad ones', async () => {
    const { truth } = stream;
    expect(truth.late).toBeGreaterThan(5);
    expect(truth.bad).toBeGreaterThan(5);
    const final = await eventually(
      'the speed layer to consume the stream',
      async () => {
        const s = await status();
        return s.speed.eventsApplied + s.speed.lateCount + s.speed.dlqCount + s.speed.duplicateCount >=
          truth.messages
          ? s
          : undefined;
      },
      90_000,
    );
    expect(final.speed).toMatchObject({
      eventsApplied: truth.valid,
      lateCount: truth.late,
      dlqCount: truth.bad,
      duplicateCount: truth.duplicates,
    });
  });

  it('verify reports exactly the late events as drift, per measure and endpoint, and changes nothing', async () => {
    const before = await snapshot();
    const report = await verify('endpoint_hourly');
    const valid = records
      .filter((r) => r.label === 'valid' && inHour(r.event!.timestamp))
      .map((r) => r.event!);
    const late = records.filter((r) => r.label === 'late' && inHour(r.event!.timestamp)).map((r) => r.event!);
    const requests = report.measures.find((m) => m.measure === 'requests')!;
    expect(requests).toMatchObject({
      batch: valid.length + late.length,
      speed: valid.length,
      drift: -late.length,
    });
    expect(requests.groupsDiffering).toBe(new Set(late.map((e) => e.endpoint)).size);
    const errors = report.measures.find((m) => m.measure === 'errors_5xx')!;
    expect(errors.drift).toBe(-late.filter((e) => e.status_code >= 500).length);
    expect(await snapshot()).toBe(before);
    const human = await world.run(['verify', '--view', 'endpoint_hourly', '--hour', String(hour)]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/requests\s+\d+\s+\d+\s+-\d+/);
    const strict = await world.run([
      'verify',
      '--view',
      'endpoint_hourly',
      '--hour',
      String(hour),
      '--fail-above',
      '0.1%',
    ]);
    expect(strict.code).toBe(1);
  });

  it('replay rebuilds the views into a new namespace (here with a larger lateness), switches over, and drops the old one', async () => {
    const before = await status();
    const result = await world.json<{
      outcome: string;
      previous: string;
      active: string;
      droppedKeys: number;
    }>(['replay', '--from', String(hour - 60_000)], {
      env: { SPEED_ALLOWED_LATENESS_MS: String(24 * HOUR_MS) },
      timeoutMs: 120_000,
    });
    expect(result.outcome).toBe('switched');
    expect(result.previous).toBe(before.namespace);
    expect(result.active).not.toBe(before.namespace);
    expect(result.droppedKeys).toBeGreaterThan(0);
    const redis = await world.redis();
    expect(await redis.get(speedKeys(world.env.REDIS_PREFIX ?? '').activeNamespace())).toBe(result.active);
    const [, oldKeys] = await redis.scan('0', 'MATCH', `${before.namespace}:{p*`, 'COUNT', 100_000);
    expect(oldKeys).toEqual([]);
    // The rebuilt views counted the late events too: the speed layer now agrees with batch exactly.
    const report = await verify('endpoint_hourly');
    expect(report.namespace).toBe(result.active);
    expect(report.measures.filter((m) => m.drift !== 0 && m.drift !== null)).toEqual([]);
    const after = await status();
    expect(after.speed.eventsApplied).toBe(stream.truth.valid + stream.truth.late);
    expect(after.speed.lateCount).toBe(0);

    // The live worker followed the pointer: new traffic lands in the new namespace.
    const more = await world.json<GenerateJson>([
      'generate',
      '--burst',
      '--start',
      String(hour + HOUR_MS),
      '--duration',
      '3m',
      '--rate',
      '2',
      '--seed',
      '8',
    ]);
    await eventually('the live worker to apply new traffic in the new namespace', async () => {
      const s = await status();
      return s.namespace === result.active &&
        s.speed.eventsApplied === after.speed.eventsApplied + more.truth.valid
        ? true
        : undefined;
    });
  });

  it('dlq list shows every poison message once, with its code; show returns the original bytes', async () => {
    const list = await world.json<DlqJson>(['dlq', 'list', '--limit', '100000']);
    expect(list.total).toBe(stream.truth.bad);
    const expectedByCode: Record<string, number> = {};
    for (const [kind, count] of Object.entries(stream.truth.badByKind)) {
      const code = poisonExpectedCode[kind as keyof typeof poisonExpectedCode];
      expectedByCode[code] = (expectedByCode[code] ?? 0) + count;
    }
    expect(list.byCode).toEqual(Object.fromEntries(Object.entries(expectedByCode).filter(([, n]) => n > 0)));
    const shown = await world.json<{ valueBase64: string; error: { code: string } }>([
      'dlq',
      'show',
      list.deadLetters[0]!.id,
    ]);
    const originals = new Set(
      records.filter((r) => r.label === 'bad').map((r) => Buffer.from(r.value).toString('base64')),
    );
    expect(originals.has(shown.valueBase64)).toBe(true);
    const missing = await world.run(['dlq', 'show', '0:99999999']);
    expect(missing.code).toBe(1);
  });

  it('after a fix, dlq replay re-injects exactly the chosen dead letters; ones that still fail stay dead', async () => {
    // The fix: a larger size limit (and lateness, since the replayed events are old by now). On start
    // the worker warms its event_id window by re-reading the last offsets under the *new* rules, so
    // it learns the originals of these dead letters too; the replayed copies carry their original's
    // position (tandem-replayed-source) and must not count as its duplicates.
    await speed.stop();
    speed = world.start(['speed'], {
      EVENT_MAX_BYTES: '131072',
      SPEED_ALLOWED_LATENESS_MS: String(24 * HOUR_MS),
    });
    const before = await status();
    const tooLarge = records.filter((r) => r.label === 'bad' && r.poison === 'too_large');
    expect(tooLarge.length).toBeGreaterThan(0);
    const dry = await world.json<{ wouldReplay: number }>([
      'dlq',
      'replay',
      '--code',
      'TOO_LARGE',
      '--dry-run',
    ]);
    expect(dry.wouldReplay).toBe(tooLarge.length);
    const replayed = await world.json<{ replayed: number }>(['dlq', 'replay', '--code', 'TOO_LARGE']);
    expect(replayed.replayed).toBe(tooLarge.length);
    const fixedInHour = tooLarge.filter((r) => {
      const parsed = parseEvent(r.value, { maxBytes: 131072 });
      return parsed.ok && inHour(parsed.event.timestamp);
    }).length;
    await eventually('the fixed events to be applied', async () => {
      const s = await status();
      return s.speed.eventsApplied === before.speed.eventsApplied + tooLarge.length ? s : undefined;
    });
    const report = await verify('endpoint_hourly');
    const requests = report.measures.find((m) => m.measure === 'requests')!;
    expect(requests.drift).toBe(fixedInHour);

    const remaining = stream.truth.bad - tooLarge.length;
    const listed = await world.json<DlqJson>(['dlq', 'list', '--limit', '100000']);
    expect(listed.total).toBe(stream.truth.bad);
    expect(listed.matching).toBe(remaining);
    expect(listed.deadLetters.some((l) => l.error.code === 'TANDEM_ERR_EVENT_TOO_LARGE')).toBe(false);

    const again = await world.json<{ replayed: number }>(['dlq', 'replay']);
    expect(again.replayed).toBe(remaining);
    const dead = await eventually('the still-bad letters to be dead-lettered again', async () => {
      const list = await world.json<DlqJson>(['dlq', 'list', '--limit', '100000']);
      return list.matching === remaining && list.total === stream.truth.bad + remaining ? list : undefined;
    });
    const firstIds = new Set(listed.deadLetters.map((l) => l.sourceKey));
    expect(dead.deadLetters.every((l) => !firstIds.has(l.sourceKey) && !l.replayed)).toBe(true);
    const after = await status();
    expect(after.speed.eventsApplied).toBe(before.speed.eventsApplied + tooLarge.length);
    expect(after.speed.dlqCount).toBe(before.speed.dlqCount + remaining);
  });
});

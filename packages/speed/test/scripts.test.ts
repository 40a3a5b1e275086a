// The Lua scripts on a real Redis: the fence, the offset check and every refusal (INVALID) come
// before any write, every merge op lands as its measure needs, and a flushed script cache (a Redis
// restart) is survived.
import { scriptCommand } from '@tandem/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUCKET_MARKER_FIELD, speedKeys } from '../src/key-schema.ts';
import { type ApplyBatchInput, applyBatch, claimPartition, speedScript } from '../src/scripts.ts';
import { startPrivateRedis } from '@tandem/test-support/private-redis.ts';
import { deletePrefix } from '@tandem/test-support/redis.ts';
import { connectRedis, uniqueName } from '@tandem/test-support/stack.ts';

const redis = connectRedis();
const prefix = uniqueName('scripts');
const keys = speedKeys(prefix);

beforeAll(async () => {
  await redis.ping();
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  await redis.quit();
});

function batch(overrides: Partial<ApplyBatchInput>): ApplyBatchInput {
  return {
    metaKey: keys.meta(0),
    sessionsKey: keys.sessions(0),
    epoch: '1',
    owner: 'a',
    prevOffset: null,
    nextOffset: '9',
    maxEventTime: 1000,
    watermark: 900,
    nowMs: 5000,
    counters: { applied: 10, dlq: 1, late: 2, duplicates: 3 },
    indexes: [{ key: keys.bucketIndex(0, 'v', 1), trimBelowMs: 0, ttlMs: 60_000 }],
    sessionUpserts: [],
    sessionDeletions: [],
    buckets: [],
    ...overrides,
  };
}

/** A bucket delta's cells from one object per merge op. */
function cells(ops: Partial<Record<'add' | 'min' | 'max', Record<string, number>>>) {
  const lists = (['add', 'min', 'max'] as const).map((op) => Object.entries(ops[op] ?? {}));
  return {
    fields: lists.flat().map(([field]) => field),
    values: lists.flat().map(([, value]) => value),
    adds: lists[0]!.length,
    mins: lists[1]!.length,
  };
}

describe('claim-partition and apply-batch', () => {
  it('applies once, refuses replays and stale epochs before writing anything', async () => {
    const first = await claimPartition(redis, keys.meta(0), 'a', 1);
    expect(first).toEqual({ epoch: '1', appliedOffset: null, maxEventTime: null, previousOwner: null });
    const bucketKey = keys.bucket(0, 'v', 1, 0);
    const buckets = [
      {
        key: bucketKey,
        index: 0,
        bucketMs: 0,
        expireAtMs: Date.now() + 60_000,
        ...cells({
          add: { '["/a"]\tn\tn': 3, '["/a"]\ts\ts': 1.25 },
          min: { '["/a"]\tlo\tv': 7 },
          max: { '["/a"]\thi\tv': 7 },
        }),
      },
    ];
    expect(await applyBatch(redis, batch({ buckets }))).toEqual({ status: 'OK' });
    // a replay of the same batch: the offset no longer matches
    expect(await applyBatch(redis, batch({ buckets }))).toEqual({ status: 'OFFSET', storedOffset: '9' });
    const next = {
      ...buckets[0]!,
      ...cells({
        add: { '["/a"]\tn\tn': 2, '["/a"]\ts\ts': 0.5 },
        min: { '["/a"]\tlo\tv': 3 },
        max: { '["/a"]\thi\tv': 5 },
      }),
    };
    expect(await applyBatch(redis, batch({ prevOffset: '9', nextOffset: '19', buckets: [next] }))).toEqual({
      status: 'OK',
    });
    expect(await redis.hgetall(bucketKey)).toEqual({
      [BUCKET_MARKER_FIELD]: '1',
      '["/a"]\tn\tn': '5',
      '["/a"]\ts\ts': '1.75',
      '["/a"]\tlo\tv': '3',
      '["/a"]\thi\tv': '7',
    });
    expect(await redis.zrange(keys.bucketIndex(0, 'v', 1), 0, -1)).toEqual(['0']);

    // another worker claims: the old owner's next batch changes nothing
    const second = await claimPartition(redis, keys.meta(0), 'b', 2);
    expect(second).toMatchObject({ epoch: '2', appliedOffset: '19', previousOwner: 'a' });
    const fenced = await applyBatch(redis, batch({ prevOffset: '19', nextOffset: '29', buckets: [next] }));
    expect(fenced).toEqual({ status: 'FENCED', storedEpoch: '2', storedOwner: 'b' });
    expect(await redis.hget(bucketKey, '["/a"]\tn\tn')).toBe('5');
    const meta = await redis.hgetall(keys.meta(0));
    expect(meta).toMatchObject({
      offset: '19',
      applied: '20',
      dlq: '2',
      late: '4',
      duplicates: '6',
      epoch: '2',
    });
  });

  it('adds fractions onto integers and integers onto fractions', async () => {
    const key = keys.bucket(1, 'v', 1, 0);
    await claimPartition(redis, keys.meta(1), 'a', 1);
    const base = batch({
      metaKey: keys.meta(1),
      sessionsKey: keys.sessions(1),
      counters: { applied: 0, dlq: 0, late: 0, duplicates: 0 },
    });
    const bucket = {
      key,
      index: 0,
      bucketMs: 0,
      expireAtMs: Date.now() + 60_000,
      ...cells({}),
    };
    await applyBatch(redis, { ...base, buckets: [{ ...bucket, ...cells({ add: { f: 0.5 } }) }] });
    expect(
      await applyBatch(redis, {
        ...base,
        prevOffset: '9',
        nextOffset: '10',
        buckets: [{ ...bucket, ...cells({ add: { f: 2 } }) }],
      }),
    ).toEqual({ status: 'OK' });
    expect(await redis.hget(key, 'f')).toBe('2.5');
  });

  it('merges thousands of cells per bucket, any field text, and refuses non-finite deltas before writing', async () => {
    const key = keys.bucket(4, 'v', 1, 0);
    await claimPartition(redis, keys.meta(4), 'a', 1);
    const base = batch({ metaKey: keys.meta(4), sessionsKey: keys.sessions(4) });
    const bucket = { key, index: 0, bucketMs: 0, expireAtMs: Date.now() + 60_000 };
    const odd = ['a\u0000b', 'x\ny', '"q"\\', 'emoji 😀', '__proto__', '', '\u2028', 'é\t'];
    const add: Record<string, number> = {};
    for (let i = 0; i < 7000; i++) add[`["/a"]\tn\t${i}`] = i % 3;
    for (const cell of odd) add[`["/a"]\tt\t${cell}`] = 2;
    const first = cells({ add, min: { lo: 5, lo2: 5 }, max: { hi: 5, hi2: 5 } });
    expect(await applyBatch(redis, { ...base, buckets: [{ ...bucket, ...first }] })).toEqual({
      status: 'OK',
    });
    const second = cells({ add, min: { lo: 6, lo2: 4 }, max: { hi: 4, hi2: 0.1 + 5 } });
    const next = { ...base, prevOffset: '9', nextOffset: '10' };
    expect(await applyBatch(redis, { ...next, buckets: [{ ...bucket, ...second }] })).toEqual({
      status: 'OK',
    });
    const stored = await redis.hgetall(key);
    expect(Object.keys(stored)).toHaveLength(1 + 7000 + odd.length + 4);
    expect(await redis.object('ENCODING', key)).toBe('hashtable');
    for (let i = 0; i < 7000; i++) expect(Number(stored[`["/a"]\tn\t${i}`])).toBe(2 * (i % 3));
    for (const cell of odd) expect(stored[`["/a"]\tt\t${cell}`]).toBe('4');
    expect([stored.lo, stored.lo2, stored.hi].map(Number)).toEqual([5, 4, 5]);
    expect(Number(stored.hi2)).toBe(0.1 + 5);

    const poisoned = cells({ add: { '["/a"]\tn\t1': Number.POSITIVE_INFINITY } });
    const third = { ...base, prevOffset: '10', nextOffset: '11' };
    expect(await applyBatch(redis, { ...third, buckets: [{ ...bucket, ...poisoned }] })).toEqual({
      status: 'INVALID',
      key,
      reason: 'non-finite delta Infinity for cell "[\\"/a\\"]\\tn\\t1"',
    });
    expect((await redis.hgetall(keys.meta(4))).offset).toBe('10');
  });

  it('answers INVALID, writing nothing, when a sum would leave the range of a double', async () => {
    await claimPartition(redis, keys.meta(5), 'a', 1);
    const base = batch({
      metaKey: keys.meta(5),
      sessionsKey: keys.sessions(5),
      indexes: [{ key: keys.bucketIndex(5, 'v', 1), trimBelowMs: 0, ttlMs: 60_000 }],
    });
    const early = keys.bucket(5, 'v', 1, 0);
    const late = keys.bucket(5, 'v', 1, 60_000);
    const bucket = (key: string, bucketMs: number, add: Record<string, number>) => ({
      key,
      index: 0,
      bucketMs,
      expireAtMs: Date.now() + 60_000,
      ...cells({ add }),
    });
    expect(
      await applyBatch(redis, { ...base, buckets: [bucket(late, 60_000, { big: 1.5e308, n: 1 })] }),
    ).toEqual({ status: 'OK' });
    const meta = await redis.hgetall(keys.meta(5));
    // the overflowing bucket comes last: the one before it, and the meta hash, must stay untouched
    const refused = await applyBatch(redis, {
      ...base,
      prevOffset: '9',
      nextOffset: '20',
      sessionUpserts: [['u', 's']],
      buckets: [bucket(early, 0, { n: 1 }), bucket(late, 60_000, { n: 1, big: 1.5e308 })],
    });
    expect(refused).toEqual({
      status: 'INVALID',
      key: late,
      reason: 'the sum of cell big (1.5e+308 + 1.5e+308) leaves the range of a double',
    });
    expect(await redis.hgetall(keys.meta(5))).toEqual(meta);
    expect(await redis.exists(early, keys.sessions(5))).toBe(0);
    expect(await redis.hgetall(late)).toEqual({ [BUCKET_MARKER_FIELD]: '1', big: '1.5e+308', n: '1' });
    expect(await redis.zrange(keys.bucketIndex(5, 'v', 1), 0, -1)).toEqual(['60000']);
    // the same offset then applies a batch whose sums stay finite
    expect(
      await applyBatch(redis, {
        ...base,
        prevOffset: '9',
        nextOffset: '20',
        buckets: [bucket(late, 60_000, { big: -1e308 })],
      }),
    ).toEqual({ status: 'OK' });
    expect(Number(await redis.hget(late, 'big'))).toBe(1.5e308 - 1e308);
  });

  it('answers INVALID with the reason when the arguments of a bucket do not decode', async () => {
    await claimPartition(redis, keys.meta(6), 'a', 1);
    const apply = scriptCommand<(...args: Array<string | number>) => Promise<string[]>>(
      redis,
      speedScript('apply-batch-n.lua'),
    );
    const bucketKey = keys.bucket(6, 'v', 1, 0);
    const head = [keys.meta(6), keys.sessions(6), keys.bucketIndex(6, 'v', 1), bucketKey];
    const argv = ['1', 'a', '', '9', '', '', 1, 0, 0, 0, 0, 1, 0, 0, 0, 60_000];
    const cellsOf = (fieldsJson: string, valuesJson: string) => [
      1,
      0,
      Date.now() + 60_000,
      1,
      0,
      fieldsJson,
      valuesJson,
    ];
    expect(await apply(head.length, ...head, ...argv, ...cellsOf('["f"', '["1"]'))).toEqual([
      'INVALID',
      bucketKey,
      'the fields and values do not decode as two JSON arrays of equal length',
    ]);
    expect(await apply(head.length, ...head, ...argv, ...cellsOf('["f"]', '["x"]'))).toEqual([
      'INVALID',
      bucketKey,
      'cell 1 is not a field name with a number',
    ]);
    expect(await redis.exists(bucketKey)).toBe(0);
    expect(await redis.hget(keys.meta(6), 'offset')).toBeNull();
  });

  it('stores and deletes open sessions with the batch', async () => {
    await claimPartition(redis, keys.meta(2), 'a', 1);
    const base = batch({ metaKey: keys.meta(2), sessionsKey: keys.sessions(2) });
    await applyBatch(redis, {
      ...base,
      sessionUpserts: [
        ['u1', 's1'],
        ['u2', 's2'],
      ],
    });
    await applyBatch(redis, { ...base, prevOffset: '9', nextOffset: '10', sessionDeletions: ['u1'] });
    expect(await redis.hgetall(keys.sessions(2))).toEqual({ u2: 's2' });
  });

  it('survives a flushed script cache (NOSCRIPT after a Redis restart)', async () => {
    // on a private server: the shared Redis's script cache is not ours to flush
    const server = await startPrivateRedis();
    const own = connectRedis(server.url);
    try {
      await claimPartition(own, keys.meta(3), 'a', 1);
      await own.script('FLUSH');
      const claim = await claimPartition(own, keys.meta(3), 'a', 2);
      expect(claim.epoch).toBe('2');
      await own.script('FLUSH');
      const input = batch({ metaKey: keys.meta(3), sessionsKey: keys.sessions(3), epoch: '2' });
      expect(await applyBatch(own, input)).toEqual({ status: 'OK' });
    } finally {
      own.disconnect();
      await server.stop();
    }
  });
});

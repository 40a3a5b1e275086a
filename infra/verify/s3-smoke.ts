// Smoke test of the local S3 endpoint with the client the lake uses (@aws-sdk/client-s3), resolved
// from packages/lake so this file needs no dependencies of its own. Run: `scripts/stack verify s3`.
// Exercises put, get, head, list with prefix, delete, and reports whether conditional writes
// (If-None-Match: * and If-Match: <etag>) are honored. Exits non-zero if a basic operation fails;
// conditional-write support is reported, and enforced only with TANDEM_S3_REQUIRE_CONDITIONAL=1.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const lake = fileURLToPath(new URL('../../packages/lake/package.json', import.meta.url));
const s3sdk = createRequire(lake)('@aws-sdk/client-s3');
const { S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } = s3sdk;
const { DeleteObjectCommand } = s3sdk;

const Bucket = process.env.TANDEM_S3_BUCKET ?? 'tandem';
const s3 = new S3Client({
  endpoint: process.env.S3_ENDPOINT ?? 'http://127.0.0.1:9000',
  region: process.env.AWS_REGION ?? 'us-east-1',
  forcePathStyle: true,
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'tandem',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'tandemsecret',
  },
});
const prefix = `smoke/${Date.now()}/`;
const ok = (msg: string) => console.log(`[s3-smoke] ok   ${msg}`);
const check = (cond: boolean, msg: string) => {
  if (!cond) throw new Error(`failed: ${msg}`);
  ok(msg);
};
const status = (e: unknown) => (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
/** Runs a write that should be rejected; returns the HTTP status it got, or 200 if it was accepted. */
const attempt = async (cmd: unknown) => {
  try {
    await s3.send(cmd);
    return 200;
  } catch (e) {
    const code = status(e);
    if (code === undefined) throw e;
    return code;
  }
};

const put1 = await s3.send(new PutObjectCommand({ Bucket, Key: `${prefix}a/1.json`, Body: '{"n":1}' }));
await s3.send(new PutObjectCommand({ Bucket, Key: `${prefix}a/2.json`, Body: '{"n":2}' }));
await s3.send(new PutObjectCommand({ Bucket, Key: `${prefix}b/3.json`, Body: '{"n":3}' }));
check(typeof put1.ETag === 'string' && put1.ETag.length > 2, `put returns an ETag (${put1.ETag})`);

const got = await s3.send(new GetObjectCommand({ Bucket, Key: `${prefix}a/1.json` }));
check((await got.Body.transformToString()) === '{"n":1}', 'get returns the body');

const head = await s3.send(new HeadObjectCommand({ Bucket, Key: `${prefix}a/1.json` }));
check(head.ContentLength === 7 && head.ETag === put1.ETag, 'head returns size and the same ETag');

const listed = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: `${prefix}a/` }));
const keys = (listed.Contents ?? []).map((o: { Key: string }) => o.Key).sort();
check(keys.join(',') === `${prefix}a/1.json,${prefix}a/2.json`, `list with prefix (${keys.length} keys)`);

const delim = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: prefix, Delimiter: '/' }));
const dirs = (delim.CommonPrefixes ?? []).map((p: { Prefix: string }) => p.Prefix).sort();
check(dirs.join(',') === `${prefix}a/,${prefix}b/`, 'list with delimiter returns common prefixes');

const missing = await attempt(new HeadObjectCommand({ Bucket, Key: `${prefix}nope` }));
check(missing === 404, `head of a missing key is 404 (got ${missing})`);

// Conditional writes.
const results: Record<string, string> = {};
const key = `${prefix}pointer.json`;
const created = await attempt(new PutObjectCommand({ Bucket, Key: key, Body: 'v1', IfNoneMatch: '*' }));
results['If-None-Match:* on a new key'] = created === 200 ? 'accepted (200)' : `REJECTED (${created})`;
const again = await attempt(new PutObjectCommand({ Bucket, Key: key, Body: 'v2', IfNoneMatch: '*' }));
results['If-None-Match:* on an existing key'] =
  again === 412 ? 'rejected 412 (honored)' : `got ${again} (NOT honored)`;
const cur = await s3.send(new HeadObjectCommand({ Bucket, Key: key }));
const body = await (await s3.send(new GetObjectCommand({ Bucket, Key: key }))).Body.transformToString();
results['body after the If-None-Match race'] = body;
const stale = await attempt(new PutObjectCommand({ Bucket, Key: key, Body: 'v3', IfMatch: '"0000"' }));
results['If-Match with a stale ETag'] =
  stale === 412 ? 'rejected 412 (honored)' : `got ${stale} (NOT honored)`;
const fresh = await attempt(new PutObjectCommand({ Bucket, Key: key, Body: 'v4', IfMatch: cur.ETag }));
results['If-Match with the current ETag'] = fresh === 200 ? 'accepted (200)' : `REJECTED (${fresh})`;
const ghost = await attempt(
  new PutObjectCommand({ Bucket, Key: `${prefix}ghost`, Body: 'x', IfMatch: '"0000"' }),
);
results['If-Match on a missing key'] = ghost === 200 ? 'accepted (200) (NOT honored)' : `rejected ${ghost}`;
// Atomicity: many concurrent writers with the same precondition; at most one may win.
const racers = 16;
const raceNew = await Promise.all(
  Array.from({ length: racers }, (_, i) =>
    attempt(new PutObjectCommand({ Bucket, Key: `${prefix}race-new`, Body: `w${i}`, IfNoneMatch: '*' })),
  ),
);
const newWins = raceNew.filter((c) => c === 200).length;
results[`${racers} concurrent If-None-Match:* on one new key`] =
  `${newWins} won (${newWins === 1 ? 'atomic' : 'NOT atomic'})`;
const base = await s3.send(new PutObjectCommand({ Bucket, Key: `${prefix}race-match`, Body: 'base' }));
const raceMatch = await Promise.all(
  Array.from({ length: racers }, (_, i) =>
    attempt(new PutObjectCommand({ Bucket, Key: `${prefix}race-match`, Body: `w${i}`, IfMatch: base.ETag })),
  ),
);
const matchWins = raceMatch.filter((c) => c === 200).length;
results[`${racers} concurrent If-Match:<etag> on one key`] =
  `${matchWins} won (${matchWins === 1 ? 'atomic' : 'NOT atomic'})`;
for (const [k, v] of Object.entries(results)) console.log(`[s3-smoke] cond ${k}: ${v}`);
const honored = again === 412 && stale === 412 && fresh === 200 && created === 200;
console.log(`[s3-smoke] conditional PUT honored: ${honored ? 'yes' : 'NO'}`);
console.log(
  `[s3-smoke] conditional PUT atomic under concurrency: ${newWins === 1 && matchWins === 1 ? 'yes' : 'NO'}`,
);

const all = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }));
for (const o of all.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket, Key: o.Key }));
const after = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }));
check((after.KeyCount ?? 0) === 0, 'delete removes the objects');
const gone = await attempt(new HeadObjectCommand({ Bucket, Key: `${prefix}a/1.json` }));
check(gone === 404, 'head after delete is 404');

if (!honored && process.env.TANDEM_S3_REQUIRE_CONDITIONAL === '1') {
  throw new Error('conditional PUT is not honored by this endpoint');
}
console.log('[s3-smoke] OK: put, get, head, list (prefix, delimiter), delete');

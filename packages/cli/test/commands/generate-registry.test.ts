// `tandem generate --stream S` for a registry-backed stream (a JSON Schema subject on the stack's
// registry): every message on stdout is Confluent-framed with the subject's schema id, valid ones
// decode to events of the stream and bad ones are framing faults or field poison, each with the
// verdict the layers give it; --to lake writes NDJSON lines, not frames.
import { randomUUID } from 'node:crypto';
import {
  compileFramedStreamParser,
  confluentSchemaId,
  createSchemaRegistryClient,
} from '@tandem/connections';
import { loadConfig, resolveCatalog } from '@tandem/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTandem, tempDir } from '../support/run-cli.ts';

const REGISTRY_URL = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const registryConfig = loadConfig({ SCHEMA_REGISTRY_URL: REGISTRY_URL }).schemaRegistry;
const registry = createSchemaRegistryClient(registryConfig);
const temp = tempDir();
const subject = `test-${randomUUID()}-visits-value`;
const schema = {
  type: 'object',
  required: ['visit_id', 'ts', 'page'],
  properties: {
    visit_id: { type: 'string', minLength: 1 },
    ts: { type: 'string', format: 'date-time' },
    page: { type: 'string', minLength: 1, maxLength: 40 },
    ms: { type: ['integer', 'null'], minimum: 0 },
  },
};
const config = {
  streams: [
    { name: 'visits', registry: { subject, format: 'json' }, time: { field: 'ts' }, idField: 'visit_id' },
  ],
  views: [{ name: 'pages', bucket: '1m', dimensions: ['page'], measures: { n: { kind: 'count' } } }],
};
let id = 0;
let env: Record<string, string>;

beforeAll(async () => {
  id = await registry.register(subject, 'JSON', JSON.stringify(schema));
  env = { SCHEMA_REGISTRY_URL: REGISTRY_URL, TANDEM_CONFIG: temp.write('config.json', config) };
});
afterAll(async () => {
  temp.cleanup();
  await fetch(`${REGISTRY_URL}/subjects/${encodeURIComponent(subject)}`, { method: 'DELETE' });
});

/** Framed messages written one per line: 5 header bytes (which may hold a newline), the body, "\n". */
function framedLines(out: Buffer): Buffer[] {
  const messages: Buffer[] = [];
  let at = 0;
  while (at < out.length) {
    const end = out[at] === 0 ? out.indexOf(0x0a, at + 5) : out.indexOf(0x0a, at);
    messages.push(out.subarray(at, end));
    at = end + 1;
  }
  return messages;
}

describe('tandem generate --stream for a registry-backed stream', () => {
  it('frames every message with the schema id; each decodes to its truth', async () => {
    const now = Date.now();
    const run = await runTandem(
      ['generate', '--stream', 'visits', '--count', '60', '--bad', '10%', '--to', 'stdout', '--seed', '4'],
      env,
      () => now,
    );
    expect(run.code, run.err).toBe(0);
    const stream = resolveCatalog(
      config,
      'cfg',
      new Map([[subject, (await registry.subjectVersions(subject))!]]),
    ).stream('visits');
    const parser = compileFramedStreamParser(stream);
    const verdicts: Record<string, number> = {};
    for (const message of framedLines(run.outBytes)) {
      const verdict = parser.parse(message, { maxBytes: 65_536, futureToleranceMs: 300_000, now: () => now });
      const key = verdict.ok ? 'ok' : verdict.error.code;
      verdicts[key] = (verdicts[key] ?? 0) + 1;
      if (verdict.ok) expect(confluentSchemaId(message)).toBe(id);
    }
    expect(verdicts.ok).toBe(60);
    const bad = Object.entries(verdicts).filter(([key]) => key !== 'ok');
    expect(bad.reduce((sum, [, n]) => sum + n, 0)).toBe(6);
    expect(verdicts.TANDEM_ERR_EVENT_FRAMING).toBeGreaterThan(0);
    expect(verdicts.TANDEM_ERR_EVENT_SCHEMA_UNKNOWN).toBeGreaterThan(0);
    expect(verdicts.TANDEM_ERR_EVENT_UNDECODABLE).toBeGreaterThan(0);
    // the truth on stderr counts them the same way
    expect(run.err).toContain('wrote to stdout: 66 messages of stream visits');
    expect(run.err).toMatch(/by rule: .*framing \d+.*schema_id \d+/);
  });
});

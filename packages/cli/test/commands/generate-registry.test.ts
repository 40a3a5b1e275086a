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
import { schemaRegistryUrl } from '@tandem/test-support/stack.ts';

const registryConfig = loadConfig({ SCHEMA_REGISTRY_URL: schemaRegistryUrl }).schemaRegistry;
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
  env = { SCHEMA_REGISTRY_URL: schemaRegistryUrl, TANDEM_CONFIG: temp.write('config.json', config) };
});
afterAll(async () => {
  temp.cleanup();
  await fetch(`${schemaRegistryUrl}/subjects/${encodeURIComponent(subject)}`, { method: 'DELETE' });
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
  it('frames every message with the schema id, each decoding to its event', async () => {
    const now = Date.now();
    const run = await runTandem(
      ['generate', '--stream', 'visits', '--count', '60', '--to', 'stdout', '--seed', '4'],
      env,
      () => now,
    );
    expect(run.code, run.err).toBe(0);
    const versions = (await registry.subjectVersions(subject))!;
    const stream = resolveCatalog(config, 'cfg', new Map([[subject, versions]])).stream('visits');
    const parser = compileFramedStreamParser(stream);
    const ids = new Set<string>();
    const messages = framedLines(run.outBytes);
    expect(messages).toHaveLength(60);
    for (const message of messages) {
      expect(confluentSchemaId(message)).toBe(id);
      const verdict = parser.parse(message, { maxBytes: 65_536, futureToleranceMs: 300_000, now: () => now });
      expect(verdict.ok).toBe(true);
      if (verdict.ok) ids.add(verdict.event.visit_id as string);
    }
    expect(ids.size).toBe(60);
  });

  it('mixes in framing faults as its poison, counted by rule', async () => {
    // Poison bodies may hold any byte (a newline too), so this run is judged by its truth on stderr.
    const run = await runTandem(
      ['generate', '--stream', 'visits', '--bad', '--count', '12', '--to', 'stdout'],
      env,
    );
    expect(run.code, run.err).toBe(0);
    expect(run.err).toContain('wrote to stdout: 12 messages of stream visits');
    const rules: Record<string, number> = Object.fromEntries(
      [...(/by rule: (.*)/.exec(run.err)?.[1] ?? '').matchAll(/(\w+) (\d+)/g)].map((m) => [
        m[1],
        Number(m[2]),
      ]),
    );
    expect(rules.framing).toBe(3);
    expect(rules.schema_id).toBe(3);
    expect(Object.values(rules).reduce((a, b) => a + b, 0)).toBe(12);
  });
});

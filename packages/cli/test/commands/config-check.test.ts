// `tandem config check`: every kind of bad config core refuses is reported with its code and JSON
// path and exits 1 (so CI can gate on it); several problems are all reported; and what a config
// changes against another config, or against the lake, is reported per stream and per view.
import { openObjectStore } from '@tandem/lake';
import { defineStream, webStream, webStreamSpec, webViewSpecs } from '@tandem/core';
import { afterAll, describe, expect, it } from 'vitest';
import type { ConfigCheckReport } from '../../src/commands/config-check.ts';
import { iotStreamSpec, iotViewSpec, runTandem, tempDir } from '../support/run-cli.ts';

// biome-ignore lint/suspicious/noExplicitAny: the cases poke arbitrary paths of a cloned config
type Editable = Record<string, any>;

const temp = tempDir();
afterAll(() => temp.cleanup());

function config(): Editable {
  return structuredClone({ streams: [webStreamSpec, iotStreamSpec], views: [...webViewSpecs, iotViewSpec] });
}

let files = 0;
async function check(content: unknown, ...args: string[]) {
  const file = temp.write(`config-${files++}.json`, content);
  const run = await runTandem(['config', 'check', file, ...args]);
  const json = await runTandem(['config', 'check', file, '--json', ...args]);
  return { file, run, report: JSON.parse(json.out) as ConfigCheckReport, jsonCode: json.code };
}

describe('tandem config check', () => {
  it('accepts a valid config: exit 0, its streams and views', async () => {
    const { file, run, report } = await check(config());
    expect(run.code).toBe(0);
    expect(run.out).toContain(`${file}: valid — 2 streams (events, iot), 4 views`);
    expect(report).toMatchObject({
      file,
      valid: true,
      problems: [],
      streams: ['events', 'iot'],
      views: ['endpoint_hourly', 'sessions_hourly', 'trending_pages', 'site_minutely'],
    });
  });

  // The kinds of bad config of core's catalog tests: each must come out with its code and path.
  const cases: Array<[string, (c: Editable) => void, string, string]> = [
    [
      'an unknown schema keyword',
      (c) => {
        c.streams[1].schema.properties.site.pattern = '^[a-z]+$';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.streams[1].schema.properties.site.pattern',
    ],
    [
      'a nested object type',
      (c) => {
        c.streams[1].schema.properties.site = { type: 'object' };
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.streams[1].schema.properties.site.type',
    ],
    [
      'a keyword of the wrong type for its field',
      (c) => {
        c.streams[1].schema.properties.site.minimum = 3;
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.streams[1].schema.properties.site.minimum',
    ],
    [
      'a required name that is not a property',
      (c) => {
        c.streams[1].schema.required.push('sensor');
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.streams[1].schema.required[5]',
    ],
    [
      'a missing time field',
      (c) => {
        c.streams[1].time.field = 'time';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.streams[1].time.field',
    ],
    [
      'an unknown time encoding',
      (c) => {
        c.streams[1].time.encoding = 'epoch_ns';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.streams[1].time.encoding',
    ],
    [
      'an optional time field',
      (c) => {
        c.streams[1].schema.required = ['reading_id', 'site', 'device', 'temperature_c'];
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.streams[1].schema.properties.ts',
    ],
    [
      'a default that breaks its own rules',
      (c) => {
        c.streams[1].schema.properties.temperature_c = { type: 'number', maximum: 150, default: 200 };
        c.streams[1].schema.required = ['reading_id', 'ts', 'site', 'device'];
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.streams[1].schema.properties.temperature_c.default',
    ],
    [
      'a duplicate stream name',
      (c) => {
        c.streams[1].name = 'events';
        c.streams[1].topic = 'other';
        c.streams[1].lakePrefix = 'other/logs';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.streams[1].name',
    ],
    [
      'a topic used by two streams',
      (c) => {
        c.streams[1].topic = 'events';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.streams[1]',
    ],
    [
      'a duplicate view name',
      (c) => {
        c.views[3].name = 'endpoint_hourly';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.views[3].name',
    ],
    [
      'a view of an undeclared stream',
      (c) => {
        c.views[3].stream = 'payments';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.views[3].stream',
    ],
    [
      'an unknown dimension field',
      (c) => {
        c.views[3].dimensions = ['building'];
      },
      'TANDEM_ERR_VIEW_FIELD_UNKNOWN',
      '$.views[3]',
    ],
    [
      'avg over a string',
      (c) => {
        c.views[3].measures.avg_temperature_c.field = 'site';
      },
      'TANDEM_ERR_MEASURE_INVALID',
      '$.views[3]',
    ],
    [
      'distinct over a boolean',
      (c) => {
        c.streams[1].schema.properties.battery_low = { type: 'boolean' };
        c.views[3].measures.devices.field = 'battery_low';
      },
      'TANDEM_ERR_MEASURE_INVALID',
      '$.views[3]',
    ],
    [
      'a bad bucket',
      (c) => {
        c.views[3].bucket = '7m';
      },
      'TANDEM_ERR_VIEW_INVALID',
      '$.views[3]',
    ],
    [
      'a filter on a field of another stream',
      (c) => {
        c.views[3].filter = { op: 'eq', field: 'endpoint', value: '/x' };
      },
      'TANDEM_ERR_VIEW_FIELD_UNKNOWN',
      '$.views[3]',
    ],
    [
      'an unknown top-level setting',
      (c) => {
        c.sinks = [];
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.sinks',
    ],
    [
      'an unknown stream setting',
      (c) => {
        c.streams[1].partitions = 12;
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.streams[1].partitions',
    ],
    [
      'nested lake prefixes',
      (c) => {
        c.streams[1].lakePrefix = 'logs/iot';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.streams[1].lakePrefix',
    ],
    [
      'an id field that is optional',
      (c) => {
        c.streams[1].idField = 'battery_low';
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.streams[1].idField',
    ],
    [
      'no streams at all',
      (c) => {
        c.streams = [];
      },
      'TANDEM_ERR_CONFIG_INVALID',
      '$.streams',
    ],
  ];

  it.each(cases)('reports %s with its code and JSON path, and exits 1', async (_kind, edit, code, path) => {
    const c = config();
    edit(c);
    const { run, report, jsonCode } = await check(c);
    expect(run.code).toBe(1);
    expect(jsonCode).toBe(1);
    expect(report.valid).toBe(false);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatchObject({ code, path });
    expect(report.problems[0]!.message.startsWith('$')).toBe(false);
    expect(run.out).toContain(`  ${path}: ${report.problems[0]!.message} (${code})`);
  });

  it('reports every problem at once, at the original positions; views of a bad stream are unchecked', async () => {
    const c = config();
    c.streams.push({
      ...structuredClone(iotStreamSpec),
      name: 'iot2',
      topic: 'iot2',
      lakePrefix: 'streams/iot2/logs',
    });
    c.streams[1].schema.properties.site.pattern = '^x';
    c.views[1].bucket = '7m';
    c.views.push({
      ...structuredClone(iotViewSpec),
      name: 'site_minutely_2',
      stream: 'iot2',
      dimensions: ['nope'],
    });
    c.views.push({ ...structuredClone(iotViewSpec), name: 'endpoint_hourly', stream: 'iot2' });
    c.sinks = [];
    const { run, report } = await check(c);
    expect(run.code).toBe(1);
    expect(report.problems.map((p) => [p.code, p.path])).toEqual([
      ['TANDEM_ERR_CONFIG_INVALID', '$.sinks'],
      ['TANDEM_ERR_CONFIG_INVALID', '$.streams[1].schema.properties.site.pattern'],
      ['TANDEM_ERR_VIEW_INVALID', '$.views[1]'],
      ['TANDEM_ERR_VIEW_FIELD_UNKNOWN', '$.views[4]'],
      ['TANDEM_ERR_CONFIG_INVALID', '$.views[5].name'],
    ]);
    // The duplicate's message names the first view at its original position.
    expect(report.problems[4]!.message).toContain('$.views[0].name');
    expect(report.unchecked).toEqual([{ path: '$.views[3]', reason: 'its stream "iot" has a problem' }]);
    expect(run.out).toContain('$.views[3]: not checked; its stream "iot" has a problem');
  });

  it('reports a file it can not read, and checks TANDEM_CONFIG (or the built-in config) by default', async () => {
    const broken = temp.write('broken.json', '{ "streams": [');
    const run = await runTandem(['config', 'check', broken]);
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/broken\.json: is not valid JSON: .* \(TANDEM_ERR_CONFIG_INVALID\)/);
    const missing = await runTandem(['config', 'check', `${temp.dir}/nope.json`]);
    expect(missing.code).toBe(1);
    expect(missing.out).toContain('nope.json: the file does not exist (TANDEM_ERR_CONFIG_INVALID)');
    const byEnv = await runTandem(['config', 'check', '--json'], { TANDEM_CONFIG: broken });
    expect(byEnv.code).toBe(1);
    expect((JSON.parse(byEnv.out) as ConfigCheckReport).file).toBe(broken);
    const builtin = await runTandem(['config', 'check', '--json']);
    expect(builtin.code).toBe(0);
    expect(JSON.parse(builtin.out)).toMatchObject({ file: null, valid: true, streams: ['events'] });
  });

  it('--against: per stream and per view, new / removed / changed (and what) / unchanged', async () => {
    const deployed = config();
    deployed.streams.push({
      ...structuredClone(iotStreamSpec),
      name: 'legacy',
      topic: 'legacy',
      lakePrefix: 'streams/legacy/logs',
    });
    deployed.views.push({ ...structuredClone(iotViewSpec), name: 'legacy_minutely', stream: 'legacy' });
    const deployedFile = temp.write('deployed.json', deployed);
    const next = config();
    next.streams[0].topic = 'web-events';
    next.streams[0].dlqTopic = 'web-events.dlq';
    next.streams[0].lateTopic = 'web-events.late';
    next.streams[1].schema.properties.site.maxLength = 32;
    next.streams.push({
      ...structuredClone(iotStreamSpec),
      name: 'orders',
      topic: 'orders',
      lakePrefix: 'streams/orders/logs',
    });
    next.views[2].bucket = '5m'; // trending_pages: changed, version not bumped
    next.views[3].version = 2; // site_minutely: a new version, dimensions too
    next.views[3].dimensions = ['site', 'device'];
    next.views.push({ ...structuredClone(iotViewSpec), name: 'order_minutely', stream: 'orders' });
    const { run, report } = await check(next, '--against', deployedFile);
    expect(run.code).toBe(0);
    const iotBefore = defineStream(iotStreamSpec as never).fingerprint;
    expect(report.against!.streams).toEqual([
      {
        name: 'events',
        status: 'changed',
        changes: ['topic', 'dlqTopic', 'lateTopic'],
        fingerprint: webStream.fingerprint,
        deployedFingerprint: webStream.fingerprint,
      },
      {
        name: 'iot',
        status: 'changed',
        changes: ['schema'],
        fingerprint: expect.not.stringMatching(iotBefore),
        deployedFingerprint: iotBefore,
      },
      {
        name: 'orders',
        status: 'new',
        changes: [],
        fingerprint: expect.stringMatching(/^orders\//),
        deployedFingerprint: null,
      },
      {
        name: 'legacy',
        status: 'removed',
        changes: [],
        fingerprint: null,
        deployedFingerprint: expect.stringMatching(/^legacy\//),
      },
    ]);
    expect(report.against!.views.map((view) => [view.name, view.status, view.changes])).toEqual([
      ['endpoint_hourly', 'unchanged', []],
      ['sessions_hourly', 'unchanged', []],
      ['trending_pages', 'changed', ['bucket']],
      ['site_minutely', 'changed', ['version', 'dimensions']],
      ['order_minutely', 'new', []],
      ['legacy_minutely', 'removed', []],
    ]);
    expect(report.against!.warnings).toEqual([
      expect.stringContaining('view trending_pages: its bucket changed but its version is still 1'),
    ]);
    expect(run.out).toMatch(/stream iot +changed +schema \(fingerprint iot\/\w+ → iot\/\w+\)/);
    expect(run.out).toMatch(/view +site_minutely +changed +version \(v1 → v2\), dimensions/);
    expect(run.err).toContain('bump the version');
  });

  it('--against: a cosmetic rewrite changes no view; a rule of a field a view reads changes it', async () => {
    const deployedFile = temp.write('deployed-cosmetic.json', config());
    // Measures declared in another order, a description on a field: the same numbers.
    const cosmetic = config();
    const site = cosmetic.views[3];
    site.measures = Object.fromEntries(Object.entries(site.measures).reverse());
    cosmetic.streams[1].schema.properties.device.description = 'the reading device';
    const same = await check(cosmetic, '--against', deployedFile);
    expect(same.run.code).toBe(0);
    expect(same.report.against!.views.map((view) => [view.name, view.status, view.changes])).toEqual([
      ['endpoint_hourly', 'unchanged', []],
      ['sessions_hourly', 'unchanged', []],
      ['trending_pages', 'unchanged', []],
      ['site_minutely', 'unchanged', []],
    ]);
    expect(same.report.against!.warnings).toEqual([]);
    const siteView = same.report.against!.views[3]!;
    expect(siteView.fingerprint).toBe(siteView.deployedFingerprint);

    // A tighter maximum dead-letters readings the deployed version counted.
    const tighter = config();
    tighter.streams[1].schema.properties.temperature_c.maximum = 60;
    const changed = await check(tighter, '--against', deployedFile);
    expect(changed.report.against!.views.map((view) => [view.name, view.status, view.changes])).toEqual([
      ['endpoint_hourly', 'unchanged', []],
      ['sessions_hourly', 'unchanged', []],
      ['trending_pages', 'unchanged', []],
      ['site_minutely', 'changed', ['fields']],
    ]);
    const site2 = changed.report.against!.views[3]!;
    expect(site2.fingerprint).not.toBe(site2.deployedFingerprint);
    expect(changed.report.against!.warnings).toEqual([
      expect.stringContaining('view site_minutely: its fields changed but its version is still 1'),
    ]);
  });

  it('--deployed: stream fingerprints from the newest manifests, views from the versions in the lake', async () => {
    const lakeDir = `${temp.dir}/lake`;
    const store = openObjectStore({ url: `file://${lakeDir}` });
    const iot = defineStream(iotStreamSpec as never);
    const manifest = (key: string, validator: string) =>
      JSON.stringify({
        version: 1,
        key,
        lines: 1,
        bytes: 1,
        sha256: '0'.repeat(64),
        validator,
        maxEventBytes: 10,
      });
    try {
      // iot: an old manifest with another fingerprint, the newest with today's: unchanged.
      await store.put(
        'streams/iot/logs/_manifests/dt=2025-01-30/hour=10/iot-readings+0+0.json.gz.json',
        manifest('k', 'iot/0000000000000000'),
      );
      await store.put(
        'streams/iot/logs/_manifests/dt=2025-01-31/hour=13/iot-readings+0+9.json.gz.json',
        manifest('k', iot.fingerprint),
      );
      // events: written before streams had fingerprints.
      await store.put(
        'logs/_manifests/dt=2025-01-31/hour=13/events+0+0.json.gz.json',
        manifest('k', 'tandem-events/1'),
      );
      await store.put('views/endpoint_hourly/v1/dt=2025-01-31/hour=13/_pointer.json', '{}');
      await store.put('views/sessions_hourly/v2/dt=2025-01-31/hour=13/_pointer.json', '{}');
      await store.put('views/old_view/v3/dt=2025-01-31/hour=13/_pointer.json', '{}');
    } finally {
      await store.close();
    }
    const file = temp.write('deployed-check.json', config());
    const env = { LAKE_URL: `file://${lakeDir}` };
    const now = () => Date.UTC(2025, 0, 31, 14);
    const json = await runTandem(['config', 'check', file, '--deployed', '--json'], env, now);
    expect(json.code).toBe(0);
    const deployed = (JSON.parse(json.out) as ConfigCheckReport).deployed!;
    expect(deployed.streams.map((s) => [s.name, s.status, s.deployedFingerprint])).toEqual([
      ['events', 'changed', 'tandem-events/1'],
      ['iot', 'unchanged', iot.fingerprint],
    ]);
    expect(deployed.warnings).toEqual([expect.stringContaining('written before streams had fingerprints')]);
    expect(deployed.views.map((v) => [v.name, v.status, v.deployedVersions])).toEqual([
      ['endpoint_hourly', 'unchanged', [1]],
      ['sessions_hourly', 'changed', [2]],
      ['trending_pages', 'new', []],
      ['site_minutely', 'new', []],
      ['old_view', 'removed', [3]],
    ]);
    const text = await runTandem(['config', 'check', file, '--deployed'], env, now);
    expect(text.out).toMatch(/view +sessions_hourly +changed +version \(v2 → v1\)/);
    expect(text.out).toMatch(/stream iot +unchanged +iot\//);
  });
});

// `tandem views`: the streams and views of the config (or the built-in one), as text and as data.
import { defineStream, webStream, webStreamSpec, webViewSpecs } from '@tandem/core';
import { afterAll, describe, expect, it } from 'vitest';
import type { ViewsReport } from '../../src/commands/views.ts';
import { iotStreamSpec, iotViewSpec, runTandem, tempDir } from '../support/run-cli.ts';

const temp = tempDir();
afterAll(() => temp.cleanup());
const file = temp.write('tandem.config.json', {
  streams: [webStreamSpec, iotStreamSpec],
  views: [...webViewSpecs, iotViewSpec],
});
const env = { TANDEM_CONFIG: file };

describe('tandem views', () => {
  it('lists the built-in web stream and its three views without a config file', async () => {
    const run = await runTandem(['views']);
    expect(run.code).toBe(0);
    expect(run.out).toContain('config: built-in');
    expect(run.out).toContain('stream events');
    expect(run.out).toContain('topic events   dead letters events.dlq   late events.late');
    expect(run.out).toContain('lake prefix   logs/');
    expect(run.out).toContain('event time    timestamp (auto)   event id event_id');
    expect(run.out).toContain(`fingerprint   ${webStream.fingerprint}`);
    expect(run.out).toMatch(/endpoint_hourly +1h +endpoint +v1 +[0-9a-f]{12} +requests=count, /);
    expect(run.out).toMatch(/sessions_hourly +1h, sessions by user_id +— +v1 /);
    expect(run.out).toMatch(
      /trending_pages +1m +— +v1 +[0-9a-f]{12} +views=count, page_views=top10\(page_id\)/,
    );
  });

  it('--json gives every stream with its views, as the config declares them', async () => {
    const run = await runTandem(['views', '--json'], env);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.out) as ViewsReport;
    expect(report.config).toBe(file);
    expect(report.streams.map((s) => [s.name, s.views.map((v) => v.name)])).toEqual([
      ['events', ['endpoint_hourly', 'sessions_hourly', 'trending_pages']],
      ['iot', ['site_minutely']],
    ]);
    const iot = report.streams[1]!;
    expect({ ...iot, fields: iot.fields.length, views: iot.views.length }).toEqual({
      name: 'iot',
      topic: 'iot-readings',
      dlqTopic: 'iot-readings.dlq',
      lateTopic: 'iot-readings.late',
      lakePrefix: 'streams/iot/logs',
      timeField: 'ts',
      timeEncoding: 'epoch_ms',
      idField: 'reading_id',
      fingerprint: defineStream(iotStreamSpec as never).fingerprint,
      fields: 8,
      views: 1,
    });
    expect(iot.fields[6]).toEqual({ name: 'humidity', type: 'number', required: false, nullable: true });
    expect(iot.views[0]).toEqual({
      name: 'site_minutely',
      stream: 'iot',
      version: 1,
      fingerprint: expect.stringMatching(/^[0-9a-f]{12}$/),
      bucket: '1m',
      dimensions: ['site'],
      filter: null,
      sessionize: null,
      measures: [
        { name: 'readings', kind: 'count', field: null, where: null, outputs: ['readings'] },
        {
          name: 'avg_temperature_c',
          kind: 'avg',
          field: 'temperature_c',
          where: null,
          outputs: ['avg_temperature_c'],
        },
        {
          name: 'max_temperature_c',
          kind: 'max',
          field: 'temperature_c',
          where: null,
          outputs: ['max_temperature_c'],
        },
        {
          name: 'temperature_c',
          kind: 'quantiles',
          field: 'temperature_c',
          where: null,
          qs: [0.95],
          outputs: ['p95_temperature_c'],
        },
        { name: 'devices', kind: 'distinct', field: 'device', where: null, outputs: ['devices'] },
      ],
    });
  });

  it('--stream shows one stream; an unknown one is a usage error; a bad config exits 1', async () => {
    const one = await runTandem(['views', '--stream', 'iot'], env);
    expect(one.code).toBe(0);
    expect(one.out).toContain('stream iot');
    expect(one.out).not.toContain('stream events');
    expect(one.out).toMatch(
      /site_minutely +1m +site +v1 +[0-9a-f]{12} +readings=count, avg_temperature_c=avg\(temperature_c\), .*temperature_c=p95\(temperature_c\)/,
    );
    const unknown = await runTandem(['views', '--stream', 'orders'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain(
      '--stream "orders" is not a stream of the config; expected one of events, iot',
    );
    const bad = temp.write('bad.json', {
      streams: [webStreamSpec],
      views: [{ ...iotViewSpec, stream: 'events' }],
    });
    const broken = await runTandem(['views'], { TANDEM_CONFIG: bad });
    expect(broken.code).toBe(1);
    expect(broken.err).toContain('TANDEM_ERR_VIEW_FIELD_UNKNOWN');
  });
});

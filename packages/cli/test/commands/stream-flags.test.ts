// --view and --stream name the config's views and streams: checked when the command runs, against
// the config file the components would load, before any service is contacted; a wrong name is a
// usage error (exit 2) that names the flag and every known name.
import { webStreamSpec, webViewSpecs } from '@tandem/core';
import { afterAll, describe, expect, it } from 'vitest';
import { iotStreamSpec, iotViewSpec, runTandem, tempDir } from '../support/run-cli.ts';

const temp = tempDir();
afterAll(() => temp.cleanup());
const both = {
  TANDEM_CONFIG: temp.write('tandem.config.json', {
    streams: [webStreamSpec, iotStreamSpec],
    views: [...webViewSpecs, iotViewSpec],
  }),
};
const twoOthers = {
  TANDEM_CONFIG: temp.write('two.config.json', {
    streams: [iotStreamSpec, { ...iotStreamSpec, name: 'iot2', topic: 'iot2-readings' }],
    views: [iotViewSpec, { ...iotViewSpec, name: 'site_minutely2', stream: 'iot2' }],
  }),
};
// Nothing listens here: a command that got past its flags would fail with exit 1, not 2.
const offline = { KAFKA_BROKERS: '127.0.0.1:1', REDIS_URL: 'redis://127.0.0.1:1' };

describe('--view and --stream follow the config', () => {
  it('--view accepts any view of the config and names them all when wrong', async () => {
    const views = 'endpoint_hourly, sessions_hourly, trending_pages, site_minutely';
    for (const argv of [
      ['verify', '--view', 'nope', '--hour', '-2h'],
      ['batch', 'run', '--view', 'nope', '--hour', '-2h'],
      ['recompute', '--view', 'nope', '--from', '-3h', '--to', '-1h'],
      ['backfill', '--view', 'nope'],
    ]) {
      const run = await runTandem(argv, { ...both, ...offline });
      expect(run.code, argv.join(' ')).toBe(2);
      expect(run.err).toContain(`--view "nope" is not a view; expected one of ${views}`);
    }
    // a view of the IoT stream gets past the flag check (and then finds no Redis)
    const iot = await runTandem(['backfill', '--view', 'site_minutely', '--dry-run'], {
      ...both,
      ...offline,
    });
    expect(iot.code).toBe(1);
    expect(iot.err).not.toContain('is not a view');
  });

  it('--stream names streams of the config: repeated, comma-separated, or wrong', async () => {
    for (const argv of [
      ['speed', '--stream', 'nope'],
      ['speed', '--stream', 'events', '--stream', 'nope'],
      ['archiver', '--stream', 'iot,nope'],
      ['dlq', 'list', '--stream', 'nope'],
      ['dlq', 'replay', '--stream', 'nope', '--dry-run'],
      ['replay', '--stream', 'nope'],
    ]) {
      const run = await runTandem(argv, { ...both, ...offline });
      expect(run.code, argv.join(' ')).toBe(2);
      expect(run.err).toContain('--stream "nope" is not a stream of the config; expected one of events, iot');
    }
  });

  it('without --stream, ops commands take the web stream or the only stream, and refuse to guess', async () => {
    const run = await runTandem(['dlq', 'list'], { ...twoOthers, ...offline });
    expect(run.code).toBe(2);
    expect(run.err).toContain('the config declares several streams; name one with --stream: iot, iot2');
    const named = await runTandem(['dlq', 'list', '--stream', 'iot2'], { ...twoOthers, ...offline });
    expect(named.code).toBe(1); // past the flags: Redis is not there
  });
});

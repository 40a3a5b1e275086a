// Every long-running component answers the orchestrator's probes, not only `tandem serve`: with
// --metrics-port, `tandem speed`, `tandem archiver` and `tandem batch schedule` serve /healthz (their
// own components, from memory) and /readyz (the dependencies they need) beside /metrics, which is
// what the Helm chart's probes call.
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.ts';
import { eventually, World } from './cli/harness.ts';

interface Health {
  status: string;
  checks: Record<string, { ok: boolean; detail: string }>;
}
interface Ready {
  status: string;
  checks: Record<string, { ok: boolean }>;
}

describe('probes of the components that run without the serving layer', () => {
  const world = new World();
  const stops: Array<() => Promise<number | null>> = [];

  afterAll(async () => {
    const codes = await Promise.all(stops.map((stop) => stop()));
    await world.cleanup();
    expect(codes).toEqual(codes.map(() => 0));
  });

  it.each([
    { args: ['speed'], component: 'speed layer (events)', dependencies: ['kafka', 'lake', 'redis'] },
    { args: ['archiver'], component: 'archiver (events)', dependencies: ['kafka', 'lake', 'redis'] },
    { args: ['batch', 'schedule'], component: 'batch scheduler', dependencies: ['lake', 'redis'] },
  ])(
    'tandem $args.0 --metrics-port answers /healthz and /readyz',
    async ({ args, component, dependencies }) => {
      const port = await freePort();
      const child = world.start([...args, '--metrics-port', String(port)]);
      stops.push(() => child.stop());
      const base = `http://127.0.0.1:${port}`;
      const health = await eventually(
        `${component} in /healthz`,
        async () => {
          const response = await fetch(`${base}/healthz`);
          const body = (await response.json()) as Health;
          return response.status === 200 && body.checks[component]?.ok === true ? body : undefined;
        },
        60_000,
      );
      expect(health.status).toBe('ok');
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      const readiness = (await ready.json()) as Ready;
      expect(readiness.status).toBe('ready');
      expect(Object.keys(readiness.checks).sort()).toEqual(dependencies);
      expect((await fetch(`${base}/metrics`)).status).toBe(200);
    },
  );
});

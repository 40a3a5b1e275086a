// The whole Lambda path on the real stack, each layer in its own `tandem` process: a producer puts
// events on Kafka; the speed layer folds them into Redis; the archiver writes them into the lake;
// the batch layer seals one hour from the archived partitions; the serving layer answers over real
// HTTP, hour by hour, from batch where sealed and from speed otherwise, and says which. Every count
// is checked against a truth computed here with plain loops over the generator's own records.
import { HOUR_MS, hourStart } from '@tandem/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.ts';
import { World } from './cli/harness.ts';
import { endpointTruth, runLambdaPath } from './cli/lambda-path.ts';
import type { regenerate } from './cli/truth.ts';

interface SeriesBody {
  sealedThrough: string | null;
  complete: boolean;
  coverage: Array<{ bucket: string; source: string; runId: string | null }>;
  series: Array<{
    dims: Record<string, string>;
    points: Array<{ bucket: string; source: string; values: Record<string, number | null> }>;
  }>;
}

describe('one event stream through speed, archiver, batch and serving', () => {
  let world: World;
  let baseUrl: string;
  // the local stack's broker creates topics with this many partitions (infra/kafka/server.properties)
  const kafkaPartitions = 6;
  const now = Date.now();
  const currentHour = hourStart(now);
  const sealedHour = currentHour - 2 * HOUR_MS;
  const speedHour = currentHour - HOUR_MS;
  // requests per hour and endpoint, and per hour, of every distinct valid event
  const truth = new Map<number, Map<string, number>>();
  const truthTotal = (hour: number) => [...(truth.get(hour)?.values() ?? [])].reduce((a, b) => a + b, 0);
  let runId: string;
  const stops: Array<() => Promise<number | null>> = [];

  beforeAll(async () => {
    const port = await freePort();
    world = new World({ PORT: String(port), SPEED_ALLOWED_LATENESS_MS: String(3 * HOUR_MS) });
    baseUrl = `http://127.0.0.1:${port}`;
    const start = sealedHour;
    const duration = `${Math.floor((now - 60_000 - start) / 1000)}s`;
    const generated = await world.json<{ options: Parameters<typeof regenerate>[0] }>([
      'generate',
      '--to',
      'kafka',
      '--burst',
      '--start',
      String(start),
      '--duration',
      duration,
      '--rate',
      '1',
      '--duplicates',
      '2%',
      '--bad',
      '2%',
      '--seed',
      '11',
    ]);
    const computed = endpointTruth(generated.options);
    for (const [hour, perEndpoint] of computed.perHour) truth.set(hour, perEndpoint);
    runId = await runLambdaPath(world, {
      sealedHour,
      expectedEvents: computed.distinct,
      kafkaPartitions,
      servedFromBatch: async () =>
        (await series(sealedHour, sealedHour + HOUR_MS, '1h')).coverage[0]?.source === 'batch',
      stops,
      timeoutMs: 120_000,
    });
  }, 300_000);

  afterAll(async () => {
    const codes = await Promise.all(stops.map((stop) => stop()));
    await world?.cleanup();
    expect(codes.every((code) => code === 0)).toBe(true);
  });

  async function series(
    from: number,
    to: number,
    granularity: string,
    endpoint?: string,
  ): Promise<SeriesBody> {
    const params = new URLSearchParams({
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      granularity,
      ...(endpoint === undefined ? {} : { endpoint }),
    });
    const response = await fetch(`${baseUrl}/v1/views/endpoint_hourly/series?${params}`);
    expect(response.status).toBe(200);
    return (await response.json()) as SeriesBody;
  }

  it('serves the sealed hour from batch and the next hour from speed, each exact per endpoint', async () => {
    const body = await series(sealedHour, currentHour, '1h');
    expect(body.coverage).toEqual([
      { bucket: new Date(sealedHour).toISOString(), source: 'batch', runId },
      { bucket: new Date(speedHour).toISOString(), source: 'speed', runId: null },
    ]);
    expect(body.sealedThrough).toBe(new Date(sealedHour + HOUR_MS).toISOString());
    for (const hour of [sealedHour, speedHour]) {
      const served = new Map<string, number>();
      for (const group of body.series) {
        const point = group.points.find((p) => p.bucket === new Date(hour).toISOString());
        if (
          point &&
          point.values.requests !== null &&
          point.values.requests !== undefined &&
          point.values.requests > 0
        ) {
          served.set(group.dims.endpoint!, point.values.requests);
        }
        if (point) expect(point.source).toBe(hour === sealedHour ? 'batch' : 'speed');
      }
      expect(served).toEqual(truth.get(hour));
    }
  });

  it('merges a range that spans both sources into one exact total', async () => {
    const body = await series(sealedHour, currentHour + HOUR_MS, 'all');
    const total = body.series.reduce((sum, group) => sum + (group.points[0]?.values.requests ?? 0), 0);
    expect(total).toBe(truthTotal(sealedHour) + truthTotal(speedHour) + truthTotal(currentHour));
    expect(
      body.series.every(
        (group) => group.points[0]?.source === 'mixed' || group.points[0]?.source === 'speed',
      ),
    ).toBe(true);
    expect(body.complete).toBe(false);
  });

  it('answers one endpoint exactly for every hour of the range', async () => {
    const endpoint = [...(truth.get(speedHour) ?? new Map()).entries()].sort(
      (a, b) => b[1] - a[1],
    )[0]![0] as string;
    const body = await series(sealedHour, currentHour, '1h', endpoint);
    expect(body.series).toHaveLength(1);
    expect(body.series[0]!.points.map((p) => p.values.requests ?? 0)).toEqual([
      truth.get(sealedHour)?.get(endpoint) ?? 0,
      truth.get(speedHour)?.get(endpoint) ?? 0,
    ]);
  });
});

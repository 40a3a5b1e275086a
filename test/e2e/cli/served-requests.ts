// What a serving process answers for endpoint_hourly, as the end-to-end tests compare it with a
// truth: requests per hour and endpoint (zero cells left out), and the source of each hour.
import { HOUR_MS } from '@tandem/core';

interface SeriesBody {
  coverage: Array<{ bucket: string; source: string }>;
  series: Array<{
    dims: Record<string, string>;
    points: Array<{ bucket: string; values: Record<string, number | null> }>;
  }>;
}

export interface ServedRequests {
  /** hour start → endpoint → requests */
  byHour: Map<number, Map<string, number>>;
  /** hour start → the source that served it (batch, speed, none) */
  sources: Map<number, string>;
}

/** GET `/v1/views/endpoint_hourly/series` at 1h from `firstHour` through `lastHour`'s end. */
export async function servedRequests(
  baseUrl: string,
  firstHour: number,
  lastHour: number,
): Promise<ServedRequests> {
  const params = new URLSearchParams({
    from: new Date(firstHour).toISOString(),
    to: new Date(lastHour + HOUR_MS).toISOString(),
    granularity: '1h',
  });
  const response = await fetch(`${baseUrl}/v1/views/endpoint_hourly/series?${params}`);
  if (response.status !== 200)
    throw new Error(`series answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as SeriesBody;
  const byHour = new Map<number, Map<string, number>>();
  for (const group of body.series) {
    for (const point of group.points) {
      const requests = point.values.requests ?? 0;
      if (requests === 0) continue;
      const hour = Date.parse(point.bucket);
      const perEndpoint = byHour.get(hour) ?? new Map<string, number>();
      perEndpoint.set(group.dims.endpoint!, requests);
      byHour.set(hour, perEndpoint);
    }
  }
  return { byHour, sources: new Map(body.coverage.map((c) => [Date.parse(c.bucket), c.source])) };
}

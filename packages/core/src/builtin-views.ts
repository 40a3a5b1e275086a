// The built-in views, ported from the seed's hand-written jobs. Each is a plain defineView call;
// nothing here is special-cased by either engine.
import { TandemError } from './errors.ts';
import { where } from './filter.ts';
import { MINUTE_MS } from './time.ts';
import { defineView, isSessionized, type SessionizedView, type View } from './view.ts';

const is2xx = where.between('status_code', 200, 299);

/** Per hour × endpoint: traffic, errors, latency of successful requests, size, users. */
export const endpointHourly: View = defineView({
  name: 'endpoint_hourly',
  bucket: '1h',
  dimensions: ['endpoint'],
  measures: {
    requests: { kind: 'count' },
    requests_2xx: { kind: 'count', where: is2xx },
    errors_5xx: { kind: 'count', where: where.between('status_code', 500, 599) },
    avg_latency_ms: { kind: 'avg', field: 'response_time_ms', where: is2xx },
    // finalizeStates names these p50_latency_ms, p95_latency_ms, p99_latency_ms.
    latency_ms: { kind: 'quantiles', field: 'response_time_ms', qs: [0.5, 0.95, 0.99], where: is2xx },
    avg_response_bytes: { kind: 'avg', field: 'bytes_sent' },
    unique_users: { kind: 'distinct', field: 'user_id' },
  },
});

/**
 * Sessions per user_id (30-minute inactivity gap, broken at UTC midnight), rolled up by the hour
 * of each session's last event. Page views count events with a page_id; bounce = a one-event session.
 */
export const sessionsHourly: SessionizedView = sessionized({
  name: 'sessions_hourly',
  bucket: '1h',
  sessionize: { by: 'user_id', gapMs: 30 * MINUTE_MS, page: 'page_id' },
  measures: {
    sessions: { kind: 'count' },
    avg_duration_ms: { kind: 'avg', field: 'duration_ms' },
    avg_page_views: { kind: 'avg', field: 'page_views' },
    avg_unique_pages: { kind: 'avg', field: 'unique_pages' },
    bounce_rate: { kind: 'avg', field: 'bounce' },
  },
});

function sessionized(spec: Parameters<typeof defineView>[0]): SessionizedView {
  const view = defineView(spec);
  if (!isSessionized(view)) throw new Error(`${view.name} must be sessionized`);
  return view;
}

/** Page views per minute with the top pages; served as a 5-minute window sliding every minute. */
export const trendingPages: View = defineView({
  name: 'trending_pages',
  bucket: '1m',
  filter: where.exists('page_id'),
  measures: {
    views: { kind: 'count' },
    page_views: { kind: 'topK', field: 'page_id', k: 10 },
  },
});

/** The built-in views by name. */
export const builtinViews = {
  endpoint_hourly: endpointHourly,
  sessions_hourly: sessionsHourly,
  trending_pages: trendingPages,
} as const satisfies Record<string, View>;

export type BuiltinViewName = keyof typeof builtinViews;

/** The view of that name; throws `TANDEM_ERR_VIEW_UNKNOWN` listing the known ones. */
export function getView(name: string): View {
  if (!Object.hasOwn(builtinViews, name)) {
    throw new TandemError(
      'TANDEM_ERR_VIEW_UNKNOWN',
      `view "${name}" does not exist; known views: ${Object.keys(builtinViews).join(', ')}`,
      { details: { view: name } },
    );
  }
  return builtinViews[name as BuiltinViewName];
}

/** Every built-in view, in a stable order. */
export function listViews(): View[] {
  return Object.values(builtinViews);
}

// The built-in web-analytics views, declared as data exactly as a config file would declare them,
// and the built-in catalog (the web stream and these views) used when a deployment has no config
// file. Nothing here is special-cased by either engine.
import { type Catalog, type ConfigViewSpec, createCatalog } from './catalog.ts';
import { TandemError } from './errors.ts';
import { where } from './filter.ts';
import { MINUTE_MS } from './time.ts';
import { defineView, isSessionized, type SessionizedView, type View } from './view.ts';
import { webStream, webStreamOn } from './web-stream.ts';

const is2xx = where.between('status_code', 200, 299);

/** The web stream's three views as a config file declares them. */
export const webViewSpecs = [
  // Per hour × endpoint: traffic, errors, latency of successful requests, size, users.
  {
    name: 'endpoint_hourly',
    stream: 'events',
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
  },
  // Sessions per user_id (30-minute inactivity gap, broken at UTC midnight), rolled up by the hour
  // of each session's last event. Page views count events with a page_id; bounce = a one-event session.
  {
    name: 'sessions_hourly',
    stream: 'events',
    bucket: '1h',
    sessionize: { by: 'user_id', gapMs: 30 * MINUTE_MS, page: 'page_id' },
    measures: {
      sessions: { kind: 'count' },
      avg_duration_ms: { kind: 'avg', field: 'duration_ms' },
      avg_page_views: { kind: 'avg', field: 'page_views' },
      avg_unique_pages: { kind: 'avg', field: 'unique_pages' },
      bounce_rate: { kind: 'avg', field: 'bounce' },
    },
  },
  // Page views per minute with the top pages; served as a 5-minute window sliding every minute.
  {
    name: 'trending_pages',
    stream: 'events',
    bucket: '1m',
    filter: where.exists('page_id'),
    measures: {
      views: { kind: 'count' },
      page_views: { kind: 'topK', field: 'page_id', k: 10 },
    },
  },
] as const satisfies readonly ConfigViewSpec[];

function viewSpec(name: string): ConfigViewSpec {
  return webViewSpecs.find((spec) => spec.name === name) as unknown as ConfigViewSpec;
}

function sessionized(spec: ConfigViewSpec): SessionizedView {
  const view = defineView(spec, webStream);
  if (!isSessionized(view)) {
    throw new TandemError('TANDEM_ERR_VIEW_INVALID', `${view.name} must be sessionized`);
  }
  return view;
}

/** Per hour × endpoint: traffic, errors, latency of successful requests, size, users. */
export const endpointHourly: View = defineView(viewSpec('endpoint_hourly'), webStream);

/** Sessions per user_id, rolled up by the hour of each session's last event. */
export const sessionsHourly: SessionizedView = sessionized(viewSpec('sessions_hourly'));

/** Page views per minute with the top pages. */
export const trendingPages: View = defineView(viewSpec('trending_pages'), webStream);

/** The built-in views by name. */
export const builtinViews = {
  endpoint_hourly: endpointHourly,
  sessions_hourly: sessionsHourly,
  trending_pages: trendingPages,
} as const satisfies Record<string, View>;

export type BuiltinViewName = keyof typeof builtinViews;

/**
 * The built-in catalog: the web stream (on the given topics, `TANDEM_TOPIC` and friends) and its
 * three views. Used when a deployment has no config file.
 */
export function builtinCatalog(topics?: { topic: string; dlqTopic: string; lateTopic: string }): Catalog {
  return createCatalog([topics === undefined ? webStream : webStreamOn(topics)], Object.values(builtinViews));
}

const defaultCatalog = builtinCatalog();

/** The built-in view of that name; throws `TANDEM_ERR_VIEW_UNKNOWN` listing the known ones. */
export function getView(name: string): View {
  return defaultCatalog.view(name);
}

/** Every built-in view, in a stable order. */
export function listViews(): View[] {
  return [...defaultCatalog.views];
}

// Prometheus metrics on a registry per server (so several servers in one process never collide):
// request count and duration per route and status, plus whatever gauges the server adds.
import type { FastifyPluginAsync } from 'fastify';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { globalPlugin } from './global-plugin.ts';

declare module 'fastify' {
  interface FastifyInstance {
    metricsRegistry: Registry;
  }
}

export interface MetricsPluginOptions {
  /** Process metrics (CPU, memory, event loop lag). @defaultValue true */
  defaultMetrics: boolean;
}

const metricsPluginImpl: FastifyPluginAsync<MetricsPluginOptions> = async (app, options) => {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'tandem_serving_' });
  const duration = new Histogram({
    name: 'tandem_serving_http_request_duration_seconds',
    help: 'HTTP request duration by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  app.decorate('metricsRegistry', registry);

  app.addHook('onResponse', async (request, reply) => {
    duration.observe(
      {
        route: request.routeOptions.url ?? 'unmatched',
        method: request.method,
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  app.get(
    '/metrics',
    {
      config: { scope: 'public' },
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics',
        security: [],
        produces: ['text/plain'],
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: { description: 'Prometheus text exposition format', type: 'string' } },
      },
    },
    async (_request, reply) => {
      reply.header('content-type', registry.contentType);
      return registry.metrics();
    },
  );
};

export const metricsPlugin = globalPlugin('tandem-metrics', metricsPluginImpl);

// GET /v1/trending: the top pages of a sliding window of one-minute buckets of `trending_pages`.
// The window is the last N complete minutes before the speed watermark (before now while the speed
// layer has no watermark yet), so it slides once a minute as event time advances and never shows
// a half-filled minute. The view's topK states are merged over the window, then ranked.
import { MINUTE_MS, TandemError, topKEntries } from '@tandem/core';
import type { FastifyPluginAsync } from 'fastify';
import type { MergeEngine } from '../query/merge-engine.ts';
import type { ViewModel } from '../query/view-model.ts';
import { integerParameter } from './query-params.ts';
import { freshnessProperties, iso, keyedErrors } from './schemas.ts';

export interface TrendingRoutesOptions {
  model: ViewModel | null;
  engine: MergeEngine;
  now: () => number;
}

export const trendingRoutes: FastifyPluginAsync<TrendingRoutesOptions> = async (app, options) => {
  const { model, engine, now } = options;
  const topK = model?.measureNames.find((name) => model.view.measures[name]!.kind === 'topK');
  const total = model?.measureNames.find((name) => model.view.measures[name]!.kind === 'count');

  app.get<{ Querystring: { window?: string; k?: number } }>(
    '/v1/trending',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['views'],
        summary: 'Trending pages: the top pages of a sliding window of one-minute buckets',
        description:
          'The window is the last N complete minutes before the speed watermark (before now when ' +
          'the speed layer has no watermark yet), so it slides once a minute with event time.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            window: {
              type: 'string',
              pattern: '^(?:[1-9]|[1-5][0-9]|60)m$',
              default: '5m',
              description: 'Window length in minutes, 1m to 60m',
            },
            k: { type: 'integer', minimum: 1, maximum: 100, default: 10, description: 'How many pages' },
          },
        },
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['view', 'window', 'from', 'to', 'total', 'sealedThrough', 'speedWatermark', 'items'],
            properties: {
              view: { type: 'string' },
              window: { type: 'string' },
              from: { type: 'string', format: 'date-time' },
              to: { type: 'string', format: 'date-time' },
              total: { type: 'number', nullable: true, description: 'All page views in the window' },
              sealedThrough: freshnessProperties.sealedThrough,
              speedWatermark: freshnessProperties.speedWatermark,
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['rank', 'page', 'score', 'source'],
                  properties: {
                    rank: { type: 'integer' },
                    page: { type: 'string' },
                    score: { type: 'number', description: 'Page views in the window' },
                    source: { type: 'string', enum: ['batch', 'speed', 'mixed', 'none'] },
                  },
                },
              },
            },
          },
          ...keyedErrors,
        },
      },
    },
    async (request) => {
      if (model === null || topK === undefined) {
        throw new TandemError('TANDEM_ERR_NOT_FOUND', 'no trending view with a topK measure is configured');
      }
      const window = request.query.window ?? '5m';
      const k = integerParameter('k', request.query.k ?? 10, 1, 100);
      const minutes = Number(window.slice(0, -1));
      const freshness = await engine.freshness(model.name, model.stream);
      const anchor = freshness.speedWatermark ?? now();
      const to = Math.floor(anchor / MINUTE_MS) * MINUTE_MS;
      const range = { from: to - minutes * MINUTE_MS, to };
      const snapshot = await engine.snapshot(model.name, range);
      const merged = await engine.mergeAll(
        {
          model,
          range,
          granularity: 'all',
          filter: {},
          groupBy: [],
          outputs: [],
          measures: total === undefined ? [topK] : [topK, total],
        },
        snapshot,
        freshness,
      );
      const states = merged.groups[0]?.states ?? {};
      const entries = topKEntries(states[topK] ?? {}, k);
      const totalValue =
        total === undefined ? null : (model.finalize(states, [total])[total] as number | null);
      return {
        view: model.name,
        window,
        from: iso(range.from),
        to: iso(range.to),
        total: totalValue,
        sealedThrough: iso(freshness.sealedThrough),
        speedWatermark: iso(freshness.speedWatermark),
        items: entries.map((entry, index) => ({
          rank: index + 1,
          page: entry.key,
          score: entry.count,
          source: merged.source,
        })),
      };
    },
  );
};

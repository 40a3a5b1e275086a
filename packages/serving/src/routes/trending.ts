// GET /v1/trending: the top pages of a sliding window of one-minute buckets of `trending_pages`.
// The window is the last N complete minutes before the speed watermark (before now while the speed
// layer has no watermark yet), so it slides once a minute as event time advances and never shows
// a half-filled minute.
import { TandemError } from '@tandem/core';
import type { FastifyPluginAsync } from 'fastify';
import type { MergeEngine, SeriesQuery } from '../query/merge-engine.ts';
import { MINUTE } from '../query/time-grid.ts';
import type { ViewModel } from '../query/view-model.ts';
import { rankGroups } from './series.ts';
import { freshnessProperties, iso, keyedErrors } from './schemas.ts';

export interface TrendingRoutesOptions {
  model: ViewModel | null;
  engine: MergeEngine;
  now: () => number;
}

export const trendingRoutes: FastifyPluginAsync<TrendingRoutesOptions> = async (app, options) => {
  const { model, engine, now } = options;
  const dimension = model?.dimensions[0];
  const rankable = model?.outputs.filter((output) => typeof model.finalize({}, [output])[output] === 'number');
  const by = rankable?.[0];

  app.get<{ Querystring: { window?: string; k?: number } }>(
    '/v1/trending',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['views'],
        summary: 'Trending pages: the top pages of a sliding window of one-minute buckets',
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
            required: ['view', 'window', 'from', 'to', 'by', 'speedWatermark', 'sealedThrough', 'items'],
            properties: {
              view: { type: 'string' },
              window: { type: 'string' },
              from: { type: 'string', format: 'date-time' },
              to: { type: 'string', format: 'date-time' },
              by: { type: 'string' },
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
                    page: { type: 'string', nullable: true },
                    score: { type: 'number', nullable: true },
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
      if (model === null || dimension === undefined || by === undefined) {
        throw new TandemError('TANDEM_ERR_NOT_FOUND', 'no trending view (trending_pages) is configured');
      }
      const window = request.query.window ?? '5m';
      const k = request.query.k ?? 10;
      const minutes = Number(window.slice(0, -1));
      const freshness = await engine.freshness(model.name);
      const anchor = freshness.speedWatermark ?? now();
      const to = Math.floor(anchor / MINUTE) * MINUTE;
      const range = { from: to - minutes * MINUTE, to };
      const query: SeriesQuery = {
        model,
        range,
        granularity: 'all',
        filter: {},
        groupBy: [dimension],
        outputs: [by],
        measures: model.measureNames.filter((name) => model.outputsByMeasure[name]!.includes(by)),
      };
      const snapshot = await engine.snapshot(model.name, range);
      const result = await engine.series(query, snapshot, freshness);
      const items = rankGroups(result, dimension, by, k).map((item) => ({
        rank: item.rank,
        page: item.value === null ? null : String(item.value),
        score: item.score,
        source: item.source,
      }));
      return {
        view: model.name,
        window,
        from: iso(range.from),
        to: iso(range.to),
        by,
        sealedThrough: iso(freshness.sealedThrough),
        speedWatermark: iso(freshness.speedWatermark),
        items,
      };
    },
  );
};

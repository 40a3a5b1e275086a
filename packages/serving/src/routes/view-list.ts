// `GET /v1/views`: every view of the catalog with its stream, dimensions, measures (and the values
// each yields), granularities, sealed-through and its stream's speed watermark.
import type { FastifyPluginAsync } from 'fastify';
import type { MergeEngine } from '../query/merge-engine.ts';
import type { ViewModel } from '../query/view-model.ts';
import { iso, keyedErrors, viewFingerprintSchema } from './schemas.ts';

export interface ViewListRouteOptions {
  models: ViewModel[];
  engine: MergeEngine;
}

export const viewListRoute: FastifyPluginAsync<ViewListRouteOptions> = async (app, options) => {
  const { models, engine } = options;

  app.get(
    '/v1/views',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['views'],
        summary: 'Views with dimensions, measures, granularities, sealed-through and speed watermark',
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['views'],
            properties: {
              views: {
                type: 'array',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: [
                    'name',
                    'stream',
                    'version',
                    'fingerprint',
                    'bucket',
                    'dimensions',
                    'measures',
                    'granularities',
                    'sealedThrough',
                    'speedWatermark',
                  ],
                  properties: {
                    name: { type: 'string' },
                    stream: { type: 'string', description: 'The stream the view reads' },
                    version: { type: 'integer' },
                    fingerprint: viewFingerprintSchema,
                    bucket: { type: 'string' },
                    dimensions: { type: 'array', items: { type: 'string' } },
                    measures: {
                      type: 'array',
                      items: {
                        type: 'object',
                        additionalProperties: false,
                        required: ['name', 'kind', 'values'],
                        properties: {
                          name: { type: 'string' },
                          kind: { type: 'string' },
                          values: { type: 'array', items: { type: 'string' } },
                        },
                      },
                    },
                    granularities: { type: 'array', items: { type: 'string' } },
                    sealedThrough: { type: 'string', format: 'date-time', nullable: true },
                    speedWatermark: { type: 'string', format: 'date-time', nullable: true },
                  },
                },
              },
            },
          },
          ...keyedErrors,
        },
      },
    },
    async () => {
      const views = await Promise.all(
        models.map(async (model) => {
          const freshness = await engine.freshness(model.name, model.stream);
          return {
            name: model.name,
            stream: model.stream,
            version: Number(model.view.version),
            fingerprint: model.view.fingerprint,
            bucket: model.view.bucket,
            dimensions: model.dimensions,
            measures: model.measureNames.map((name) => ({
              name,
              kind: String(model.view.measures[name]!.kind),
              values: model.outputsByMeasure[name]!,
            })),
            granularities: model.granularities,
            sealedThrough: iso(freshness.sealedThrough),
            speedWatermark: iso(freshness.speedWatermark),
          };
        }),
      );
      return { views };
    },
  );
};

// GET /v1/streams: the deployment's catalog as data — each stream's topics, fields and their types,
// time and id fields, and the views over it with what each can be asked — so the dashboard and
// people can find their way without reading the config file.
import type { Catalog } from '@tandem/core';
import type { FastifyPluginAsync } from 'fastify';
import { hasTopRoute, type ViewModel } from '../query/view-model.ts';
import { keyedErrors, viewFingerprintSchema } from './schemas.ts';

export interface StreamRoutesOptions {
  catalog: Catalog;
  /** The catalog's views, as the other routes serve them. */
  models: ViewModel[];
}

const stringList = { type: 'array', items: { type: 'string' } } as const;

/** `GET /v1/streams`: the catalog, streams with their fields and the views over each. */
const streamsResponse = {
  type: 'object',
  additionalProperties: false,
  required: ['streams'],
  properties: {
    streams: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: [
          'name',
          'topic',
          'dlqTopic',
          'lateTopic',
          'timeField',
          'timeEncoding',
          'idField',
          'fingerprint',
          'fields',
          'views',
        ],
        properties: {
          name: { type: 'string' },
          topic: { type: 'string', description: 'Kafka topic events are produced to' },
          dlqTopic: { type: 'string', description: 'Where rejected events go, with the reason' },
          lateTopic: { type: 'string', description: 'Where events too late for the speed layer go' },
          timeField: { type: 'string', description: 'The event-time field (epoch ms once validated)' },
          timeEncoding: { type: 'string', description: 'How producers write the time field' },
          idField: {
            type: 'string',
            nullable: true,
            description:
              'Field naming each event uniquely (duplicates count once); null: whole-event identity',
          },
          fingerprint: { type: 'string', description: "Names the stream's validation rules" },
          fields: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'type', 'required', 'nullable'],
              properties: {
                name: { type: 'string' },
                type: {
                  type: 'string',
                  enum: ['string', 'integer', 'number', 'boolean'],
                  description: 'Type of the validated value (the time field: integer epoch ms)',
                },
                required: { type: 'boolean' },
                nullable: { type: 'boolean' },
              },
            },
          },
          views: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: [
                'name',
                'version',
                'fingerprint',
                'bucket',
                'granularities',
                'sessionized',
                'dimensions',
                'measures',
                'numericValues',
                'routes',
              ],
              properties: {
                name: { type: 'string' },
                version: { type: 'integer' },
                fingerprint: viewFingerprintSchema,
                bucket: { type: 'string' },
                granularities: stringList,
                sessionized: { type: 'boolean' },
                dimensions: {
                  type: 'array',
                  items: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['name', 'type', 'parameter'],
                    properties: {
                      name: { type: 'string' },
                      type: { type: 'string', enum: ['string', 'integer', 'number'] },
                      parameter: {
                        type: 'string',
                        description: 'Query parameter that filters on it (its name, or filter.<name>)',
                      },
                    },
                  },
                },
                measures: {
                  type: 'array',
                  items: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['name', 'kind', 'field', 'values'],
                    properties: {
                      name: { type: 'string' },
                      kind: { type: 'string' },
                      field: { type: 'string', nullable: true },
                      values: { ...stringList, description: 'Names of the finished values it yields' },
                    },
                  },
                },
                numericValues: {
                  ...stringList,
                  description: 'Values that are single numbers (chartable, rankable by top)',
                },
                routes: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['series', 'top'],
                  properties: {
                    series: { type: 'string' },
                    top: { type: 'string', nullable: true },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

export const streamRoutes: FastifyPluginAsync<StreamRoutesOptions> = async (app, options) => {
  // The catalog as data, for the dashboard's pickers and for people finding their way: nothing
  // here reads a layer, so it answers even when both are down.
  const { catalog, models } = options;
  const streamsBody = {
    streams: catalog.streams.map((stream) => ({
      name: stream.name,
      topic: stream.topic,
      dlqTopic: stream.dlqTopic,
      lateTopic: stream.lateTopic,
      timeField: stream.timeField,
      timeEncoding: stream.timeEncoding,
      idField: stream.idField,
      fingerprint: stream.fingerprint,
      fields: stream.fields.map((field) => ({
        name: field.name,
        type: stream.fieldTypes[field.name] ?? field.type,
        required: field.required,
        nullable: field.nullable,
      })),
      views: models
        .filter((model) => model.stream === stream.name)
        .map((model) => ({
          name: model.name,
          version: Number(model.view.version),
          fingerprint: model.view.fingerprint,
          bucket: model.view.bucket,
          granularities: model.granularities,
          sessionized: model.view.sessionize !== null,
          dimensions: model.dimensionModels,
          measures: model.measureModels.map((measure) => ({
            name: measure.name,
            kind: measure.kind,
            field: measure.field,
            values: measure.values,
          })),
          numericValues: model.numericOutputs,
          routes: {
            series: `/v1/views/${model.name}/series`,
            top: hasTopRoute(model) ? `/v1/views/${model.name}/top` : null,
          },
        })),
    })),
  };
  app.get(
    '/v1/streams',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['views'],
        summary: 'Streams (topics, fields and their types, time and id fields) and the views over each',
        description:
          "The deployment's catalog: what to produce to each topic, and per view its bucket, " +
          'granularities, dimensions (with the query parameter that filters each), measures and the ' +
          'value names each yields, and its routes. Reads no layer, so it answers when they are down.',
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: streamsResponse, ...keyedErrors },
      },
    },
    async () => streamsBody,
  );
};

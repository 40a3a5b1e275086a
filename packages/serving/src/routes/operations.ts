// Views with freshness, layer status per view and per stream, the admin recompute request, and
// health / readiness probes.
import { type Catalog, TandemError, type TimeRange } from '@tandem/core';
import type { FastifyPluginAsync } from 'fastify';
import { queryInvalid, queryTooLarge } from '../http-errors.ts';
import type { MergeEngine } from '../query/merge-engine.ts';
import type { ViewModel } from '../query/view-model.ts';
import type { BatchReader, SpeedReader } from '../readers.ts';
import type { QueryLimits } from './query-params.ts';
import { errorRef, iso, keyedErrors, parseTimeParameter, timeParameter } from './schemas.ts';

/** What `POST /v1/ops/recompute` hands the batch layer; wired by the cli to batch's `recompute`. */
export type RequestRecompute = (
  view: string,
  range: TimeRange,
) => Promise<Record<string, unknown> | undefined>;

/** A readiness probe: resolves when the dependency answers, rejects (or times out) otherwise. */
export type ReadinessProbe = () => Promise<unknown>;

export interface OperationRoutesOptions {
  /** The deployment's streams and views; `models` are its views. */
  catalog: Catalog;
  models: ViewModel[];
  engine: MergeEngine;
  batch: BatchReader;
  speed: SpeedReader;
  limits: QueryLimits;
  now: () => number;
  requestRecompute: RequestRecompute | null;
  readinessProbes: Record<string, ReadinessProbe>;
  /** Longest a readiness probe may take before it counts as down. @defaultValue 2000 */
  probeTimeoutMs: number;
  /** How many recent batch runs /v1/status lists per view. @defaultValue 5 */
  statusRunLimit: number;
}

const publicSecurity = { security: [] as Array<Record<string, string[]>> };

const layerError = {
  type: 'string',
  nullable: true,
  description: 'Why this layer could not be read, or null',
} as const;

/** One stream's speed layer, as `/v1/status` reports it. */
const speedStatusSchema = {
  type: 'object',
  additionalProperties: false,
  required: [
    'watermark',
    'maxEventTime',
    'lagMs',
    'partitions',
    'dlqCount',
    'lateCount',
    'eventsApplied',
    'error',
  ],
  properties: {
    watermark: { type: 'string', format: 'date-time', nullable: true },
    maxEventTime: { type: 'string', format: 'date-time', nullable: true },
    lagMs: {
      type: 'number',
      nullable: true,
      description: 'now minus the watermark: how far real-time views trail the clock',
    },
    partitions: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['partition', 'appliedOffset', 'lag'],
        properties: {
          partition: { type: 'integer' },
          appliedOffset: { type: 'string', nullable: true },
          lag: { type: 'number', nullable: true },
        },
      },
    },
    dlqCount: { type: 'number', nullable: true },
    lateCount: { type: 'number', nullable: true },
    eventsApplied: { type: 'number', nullable: true },
    error: layerError,
  },
} as const;

const unavailableSpeed = {
  watermark: null,
  maxEventTime: null,
  lagMs: null,
  partitions: [],
  dlqCount: null,
  lateCount: null,
  eventsApplied: null,
  error: 'the speed layer could not be read',
};

export const operationRoutes: FastifyPluginAsync<OperationRoutesOptions> = async (app, options) => {
  const { catalog, models, engine, batch, speed, now } = options;

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

  /** One stream's speed status; a layer that cannot be read answers with `error` and nulls. */
  async function speedStatusOf(
    stream: string,
    at: number,
    log: { warn(object: object, message: string): void },
  ): Promise<Record<string, unknown>> {
    try {
      const status = await speed.status(stream);
      return {
        watermark: iso(status.watermark),
        maxEventTime: iso(status.maxEventTime),
        lagMs: status.watermark === null ? null : Math.max(0, at - status.watermark),
        partitions: status.partitions,
        dlqCount: status.dlqCount,
        lateCount: status.lateCount,
        eventsApplied: status.eventsApplied,
        error: null,
      };
    } catch (error) {
      log.warn({ err: error, stream }, 'speed status unavailable');
      return unavailableSpeed;
    }
  }

  app.get(
    '/v1/status',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['operations'],
        summary:
          'Per view sealed-through, stale hours and last runs; per stream speed watermark, lag, DLQ and late counts',
        description:
          'Answers even when a layer is down: that layer then carries `error` and null figures, ' +
          'so a dashboard can show which layer is down or behind.',
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['now', 'views', 'streams', 'speed'],
            properties: {
              now: { type: 'string', format: 'date-time' },
              views: {
                type: 'array',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['view', 'stream', 'sealedThrough', 'staleHours', 'lastRuns', 'error'],
                  properties: {
                    view: { type: 'string' },
                    stream: { type: 'string', description: 'The stream the view reads' },
                    sealedThrough: { type: 'string', format: 'date-time', nullable: true },
                    staleHours: { type: 'array', items: { type: 'string', format: 'date-time' } },
                    lastRuns: { type: 'array', items: { type: 'object', additionalProperties: true } },
                    error: layerError,
                  },
                },
              },
              streams: {
                type: 'array',
                description: "Per stream, its speed layer's status (each stream has its own topic)",
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['stream', 'topic', 'speed'],
                  properties: {
                    stream: { type: 'string' },
                    topic: { type: 'string' },
                    speed: speedStatusSchema,
                  },
                },
              },
              speed: {
                ...speedStatusSchema,
                description: "The first stream's speed status (as in `streams`), kept for existing clients",
              },
            },
          },
          ...keyedErrors,
        },
      },
    },
    async (request) => {
      const at = now();
      const views = await Promise.all(
        models.map(async (model) => {
          try {
            const [sealedThrough, staleHours, lastRuns] = await Promise.all([
              batch.sealedThrough(model.name),
              batch.staleHours(model.name),
              batch.runHistory(model.name, options.statusRunLimit),
            ]);
            return {
              view: model.name,
              stream: model.stream,
              sealedThrough: iso(sealedThrough),
              staleHours: staleHours.map((hour) => new Date(hour).toISOString()),
              lastRuns: lastRuns.map(jsonSafe),
              error: null,
            };
          } catch (error) {
            request.log.warn({ err: error, view: model.name }, 'batch status unavailable');
            return {
              view: model.name,
              stream: model.stream,
              sealedThrough: null,
              staleHours: [],
              lastRuns: [],
              error: 'the batch layer could not be read',
            };
          }
        }),
      );
      const streams = await Promise.all(
        catalog.streams.map(async (stream) => ({
          stream: stream.name,
          topic: stream.topic,
          speed: await speedStatusOf(stream.name, at, request.log),
        })),
      );
      return {
        now: new Date(at).toISOString(),
        views,
        streams,
        speed: streams[0]?.speed ?? unavailableSpeed,
      };
    },
  );

  const viewNames = models.map((model) => model.name);
  app.post<{ Body: { view: string; from: string; to: string } }>(
    '/v1/ops/recompute',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['operations'],
        summary: 'Queue a batch recompute of a view over a range of hours (admin scope)',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['view', 'from', 'to'],
          properties: {
            view: { type: 'string', enum: viewNames },
            from: timeParameter('First hour to recompute, floored to the hour'),
            to: timeParameter('End of the range (exclusive), ceiled to the hour'),
          },
        },
        response: {
          202: {
            type: 'object',
            additionalProperties: false,
            required: ['accepted', 'view', 'from', 'to', 'hours'],
            properties: {
              accepted: { type: 'boolean' },
              view: { type: 'string' },
              from: { type: 'string', format: 'date-time' },
              to: { type: 'string', format: 'date-time' },
              hours: { type: 'integer' },
              detail: { type: 'object', additionalProperties: true },
            },
          },
          ...keyedErrors,
          503: { description: 'Recompute is not wired in this server', ...errorRef },
        },
      },
    },
    async (request, reply) => {
      const { view } = request.body;
      const from = parseTimeParameter(request.body.from);
      const to = parseTimeParameter(request.body.to);
      if (from === null) throw queryInvalid('from', 'body/from must be ISO-8601 or epoch ms');
      if (to === null) throw queryInvalid('to', 'body/to must be ISO-8601 or epoch ms');
      const hour = 3_600_000;
      const range = { from: Math.floor(from / hour) * hour, to: Math.ceil(to / hour) * hour };
      if (range.from >= range.to) throw queryInvalid('to', 'body/to must be later than from');
      if (range.to - range.from > options.limits.maxRecomputeRangeMs) {
        throw queryTooLarge(
          'from',
          `a recompute may cover at most ${options.limits.maxRecomputeRangeMs / hour} hours; split the range`,
        );
      }
      if (options.requestRecompute === null) {
        throw new TandemError(
          'TANDEM_ERR_SERVICE_UNAVAILABLE',
          'recompute is not wired in this server; run `tandem recompute` from the cli instead',
        );
      }
      const detail = await options.requestRecompute(view, range);
      request.log.info(
        { view, from: range.from, to: range.to, key: request.apiKey?.name },
        'recompute queued',
      );
      reply.code(202);
      return {
        accepted: true,
        view,
        from: new Date(range.from).toISOString(),
        to: new Date(range.to).toISOString(),
        hours: (range.to - range.from) / hour,
        ...(detail === undefined ? {} : { detail: jsonSafe(detail) }),
      };
    },
  );

  app.get(
    '/healthz',
    {
      config: { scope: 'public' },
      schema: {
        tags: ['operations'],
        summary: 'Liveness: the process answers',
        ...publicSecurity,
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['status'],
            properties: { status: { type: 'string', enum: ['ok'] } },
          },
          400: errorRef,
        },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  const readyBody = {
    type: 'object',
    additionalProperties: false,
    required: ['status', 'checks'],
    properties: {
      status: { type: 'string', enum: ['ready', 'unavailable'] },
      checks: {
        type: 'object',
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          required: ['ok', 'ms'],
          properties: {
            ok: { type: 'boolean' },
            ms: { type: 'number' },
            error: { type: 'string' },
          },
        },
      },
    },
  };
  app.get(
    '/readyz',
    {
      config: { scope: 'public' },
      schema: {
        tags: ['operations'],
        summary: 'Readiness: Redis, Kafka and the lake are reachable',
        ...publicSecurity,
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: readyBody, 503: readyBody, 400: errorRef },
      },
    },
    async (request, reply) => {
      const entries = await Promise.all(
        Object.entries(options.readinessProbes).map(async ([name, probe]) => {
          const started = performance.now();
          try {
            await withTimeout(probe(), options.probeTimeoutMs, name);
            return [name, { ok: true, ms: Math.round(performance.now() - started) }] as const;
          } catch (error) {
            request.log.warn({ err: error, dependency: name }, 'readiness probe failed');
            return [
              name,
              {
                ok: false,
                ms: Math.round(performance.now() - started),
                error: `${name} is not reachable`,
              },
            ] as const;
          }
        }),
      );
      const checks = Object.fromEntries(entries);
      const ready = entries.every(([, check]) => check.ok);
      reply.code(ready ? 200 : 503);
      return { status: ready ? 'ready' : 'unavailable', checks };
    },
  );
};

function withTimeout(promise: Promise<unknown>, ms: number, name: string): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Drops values JSON cannot carry (bigint becomes a string) from records of other layers. */
function jsonSafe(value: object): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(value, (_key, inner) => (typeof inner === 'bigint' ? inner.toString() : inner)),
  ) as Record<string, unknown>;
}

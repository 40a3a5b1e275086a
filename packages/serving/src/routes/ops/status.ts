// `GET /v1/status`: per view its batch figures (sealed-through and stale hours as the batch layer
// last computed them, with when, and its last runs), per stream its speed layer's. The dashboard
// polls it every few seconds, so nothing here lists the lake: the batch figures come from the
// batch layer's status record. A layer that cannot be read answers with `error` and nulls.
import type { BatchViewReader, Catalog, SpeedViewReader } from '@tandem/core';
import type { FastifyPluginAsync } from 'fastify';
import type { ViewModel } from '../../query/view-model.ts';
import { iso, keyedErrors } from '../schemas.ts';
import type { BatchStatusSource, VersionStatusSource } from '@tandem/core';

export interface StatusRouteOptions {
  catalog: Catalog;
  models: ViewModel[];
  batch: BatchViewReader;
  speed: SpeedViewReader;
  /**
   * Each view's sealed-through and stale hours with their computation time (the batch layer's
   * status record). Null: asked of `batch` (`sealedThrough`, `staleHours`), with no time.
   */
  batchStatus: BatchStatusSource | null;
  /** Each view's versions: active, building and its progress (the batch layer's registry). Null: not reported. */
  versionStatus: VersionStatusSource | null;
  now: () => number;
  /** How many recent batch runs are listed per view. @defaultValue 5 */
  runLimit: number;
}

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
    'schemaWarnings',
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
    schemaWarnings: {
      type: 'array',
      items: { type: 'string' },
      description:
        'Schema registry versions met that break a view over the stream: their messages are dead-lettered, not counted',
    },
    error: layerError,
  },
} as const;

/** A view's versions as `/v1/status` reports them (null: no registry, or not wired). */
const versionSchema = {
  type: 'object',
  nullable: true,
  additionalProperties: false,
  required: ['active', 'building', 'hoursDone', 'hoursNeeded', 'speedSince', 'speedCaughtUp', 'etaMs'],
  description:
    'The version serving reads, the one being built beside it (if any) with its history hours published ' +
    'of needed, when speed began writing it, whether batch has sealed past that, and the time left at the rate so far',
  properties: {
    active: {
      type: 'object',
      additionalProperties: false,
      required: ['version', 'fingerprint'],
      properties: { version: { type: 'string' }, fingerprint: { type: 'string' } },
    },
    building: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: ['version', 'fingerprint', 'since'],
      properties: {
        version: { type: 'string' },
        fingerprint: { type: 'string' },
        since: { type: 'string', format: 'date-time' },
      },
    },
    hoursDone: { type: 'integer' },
    hoursNeeded: { type: 'integer' },
    speedSince: { type: 'string', format: 'date-time', nullable: true },
    speedCaughtUp: { type: 'boolean', nullable: true },
    etaMs: { type: 'number', nullable: true },
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
  schemaWarnings: [],
  error: 'the speed layer could not be read',
};

export const statusRoute: FastifyPluginAsync<StatusRouteOptions> = async (app, options) => {
  const { catalog, models, batch, speed, now } = options;

  /** One view's batch figures: from the status record when wired, else from the reader. */
  async function batchFigures(
    view: string,
  ): Promise<{ sealedThrough: number | null; staleHours: number[]; computedAt: number | null }> {
    if (options.batchStatus !== null) return options.batchStatus(view);
    const [sealedThrough, staleHours] = await Promise.all([
      batch.sealedThrough(view),
      batch.staleHours(view),
    ]);
    return { sealedThrough, staleHours, computedAt: null };
  }

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
        schemaWarnings: status.schemaWarnings,
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
          'so a dashboard can show which layer is down or behind. Sealed-through and stale hours are ' +
          'the batch layer\u2019s last computation (its scheduler refreshes them every minute and after ' +
          'every publish); `statusComputedAt` says when.',
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
                  required: [
                    'view',
                    'stream',
                    'sealedThrough',
                    'staleHours',
                    'statusComputedAt',
                    'lastRuns',
                    'version',
                    'error',
                  ],
                  properties: {
                    view: { type: 'string' },
                    stream: { type: 'string', description: 'The stream the view reads' },
                    sealedThrough: { type: 'string', format: 'date-time', nullable: true },
                    staleHours: { type: 'array', items: { type: 'string', format: 'date-time' } },
                    statusComputedAt: {
                      type: 'string',
                      format: 'date-time',
                      nullable: true,
                      description: 'When sealed-through and stale hours were computed (null: just now)',
                    },
                    lastRuns: { type: 'array', items: { type: 'object', additionalProperties: true } },
                    version: versionSchema,
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
            const [figures, lastRuns, version] = await Promise.all([
              batchFigures(model.name),
              batch.runHistory(model.name, options.runLimit),
              options.versionStatus === null ? null : options.versionStatus(model.name),
            ]);
            return {
              view: model.name,
              stream: model.stream,
              sealedThrough: iso(figures.sealedThrough),
              staleHours: figures.staleHours.map((hour) => new Date(hour).toISOString()),
              statusComputedAt: iso(figures.computedAt),
              lastRuns: lastRuns.map(jsonSafe),
              version:
                version === null
                  ? null
                  : {
                      active: { version: `v${version.active.n}`, fingerprint: version.active.fingerprint },
                      building:
                        version.building === null
                          ? null
                          : {
                              version: `v${version.building.n}`,
                              fingerprint: version.building.fingerprint,
                              since: iso(version.building.since),
                            },
                      hoursDone: version.hoursDone,
                      hoursNeeded: version.hoursNeeded,
                      speedSince: iso(version.speedSince),
                      speedCaughtUp: version.speedCaughtUp,
                      etaMs: version.etaMs,
                    },
              error: null,
            };
          } catch (error) {
            request.log.warn({ err: error, view: model.name }, 'batch status unavailable');
            return {
              view: model.name,
              stream: model.stream,
              sealedThrough: null,
              staleHours: [],
              statusComputedAt: null,
              lastRuns: [],
              version: null,
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
};

/** Drops values JSON cannot carry (bigint becomes a string) from records of other layers. */
function jsonSafe(value: object): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(value, (_key, inner) => (typeof inner === 'bigint' ? inner.toString() : inner)),
  ) as Record<string, unknown>;
}

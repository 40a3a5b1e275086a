// The admin recompute as jobs: `POST /v1/ops/recompute` queues a job and answers 202 with its id at
// once; `GET /v1/ops/jobs/:id` shows its state and progress (hours done of total, the hour being
// computed, failed hours); `POST /v1/ops/jobs/:id/cancel` cancels it, and it stops between hours
// (an action, not a DELETE: the job and its record stay); `GET /v1/ops/jobs` lists the newest. The
// queue (injected) bounds how many run at once and how many are kept, where every replica sees them.
import { HOUR_MS, TandemError } from '@tandem/core';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { queryInvalid, queryTooLarge } from '../../http-errors.ts';
import type { QueryLimits } from '../query-params.ts';
import { errorRef, iso, keyedErrors, parseTimeParameter, timeInputRule, timeParameter } from '../schemas.ts';
import type { RecomputeJob, RecomputeQueue } from '@tandem/core';

export interface RecomputeJobRoutesOptions {
  /** Views that may be recomputed (the catalog's). */
  viewNames: string[];
  limits: QueryLimits;
  /** The request's now, which relative times (`-6h`, `now`) count from. */
  now: () => number;
  /** Null: the routes answer 503 (recompute with `tandem recompute` instead). */
  jobs: RecomputeQueue | null;
}

/** Job ids are UUIDs; anything else is a 400 before any lookup. */
const jobIdPattern = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

const isoTime = { type: 'string', format: 'date-time' } as const;
const isoOrNull = { type: 'string', format: 'date-time', nullable: true } as const;

const jobSchema = {
  type: 'object',
  additionalProperties: false,
  required: [
    'id',
    'view',
    'from',
    'to',
    'state',
    'hours',
    'currentHour',
    'errors',
    'cancelRequested',
    'reason',
    'createdAt',
    'startedAt',
    'finishedAt',
    'updatedAt',
    'owner',
  ],
  properties: {
    id: { type: 'string', pattern: jobIdPattern },
    view: { type: 'string' },
    from: isoTime,
    to: { ...isoTime, description: 'End of the range, exclusive' },
    state: { type: 'string', enum: ['queued', 'running', 'done', 'failed', 'cancelled'] },
    hours: {
      type: 'object',
      additionalProperties: false,
      required: ['total', 'done', 'published', 'failed', 'skipped'],
      description: 'Progress: `done` of `total` hours have an outcome (published, failed or skipped)',
      properties: {
        total: { type: 'integer' },
        done: { type: 'integer' },
        published: { type: 'integer' },
        failed: { type: 'integer' },
        skipped: {
          type: 'integer',
          description: 'Incomplete hours (logs may still grow) or leased elsewhere',
        },
      },
    },
    currentHour: { ...isoOrNull, description: 'The oldest hour not done yet while running' },
    errors: {
      type: 'array',
      description: 'Failed hours (the first 20)',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['hour', 'code', 'message'],
        properties: { hour: isoTime, code: { type: 'string' }, message: { type: 'string' } },
      },
    },
    cancelRequested: {
      type: 'boolean',
      description: 'A cancel was asked for; the job stops after its current hour',
    },
    reason: { type: 'string', nullable: true, description: 'Why the job failed or was cancelled' },
    createdAt: isoTime,
    startedAt: isoOrNull,
    finishedAt: isoOrNull,
    updatedAt: { ...isoTime, description: 'Last heartbeat or progress of the process running it' },
    owner: { type: 'string', description: 'The process that runs the job' },
  },
} as const;

const jobParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', pattern: jobIdPattern, description: 'The job id from the 202' } },
} as const;

const jobErrors = {
  ...keyedErrors,
  404: { description: 'No such job (or it expired)', ...errorRef },
  503: { description: 'Jobs are not wired in this server, or their store is unreachable', ...errorRef },
} as const;

/** A job as HTTP shows it: times as ISO-8601, progress grouped. */
export function jobBody(job: RecomputeJob) {
  return {
    id: job.id,
    view: job.view,
    from: new Date(job.from).toISOString(),
    to: new Date(job.to).toISOString(),
    state: job.state,
    hours: {
      total: job.hoursTotal,
      done: job.hoursDone,
      published: job.hoursPublished,
      failed: job.hoursFailed,
      skipped: job.hoursSkipped,
    },
    currentHour: iso(job.currentHour),
    errors: job.errors.map((error) => ({ ...error, hour: new Date(error.hour).toISOString() })),
    cancelRequested: job.cancelRequested,
    reason: job.reason,
    createdAt: new Date(job.createdAt).toISOString(),
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    updatedAt: new Date(job.updatedAt).toISOString(),
    owner: job.owner,
  };
}

/**
 * Answers 405 with `Allow` for the other methods on the job paths. The 405 of the static paths
 * (plugins/error-handler.ts) cannot see parametric ones, which answered 404 — and 400 for QUERY,
 * whose missing Content-Type fails before routing. Hidden from the spec; their own error handler
 * turns that early failure into the 405 too.
 */
const methodNotAllowedRoutes: FastifyPluginAsync<{ paths: Array<[url: string, allowed: string[]]> }> = async (
  app,
  options,
) => {
  const answer = (request: FastifyRequest, reply: FastifyReply) => {
    const allowed = options.paths.find(([url]) => url === request.routeOptions.url)?.[1] ?? [];
    reply.code(405).header('allow', allowed.join(', '));
    return {
      error: {
        code: 'TANDEM_ERR_QUERY_INVALID',
        message: `method ${request.method.slice(0, 16)} is not allowed on ${(request.url.split('?')[0] ?? '').slice(0, 200)}; use ${allowed.join(', ')}`,
        requestId: request.id,
      },
    };
  };
  app.setErrorHandler(async (_error, request, reply) => answer(request, reply));
  for (const [url, allowed] of options.paths) {
    const others = app.supportedMethods.filter((method) => !allowed.includes(method) && method !== 'OPTIONS');
    app.route({
      method: others,
      url,
      config: { scope: 'public' },
      schema: { hide: true },
      handler: async (request, reply) => answer(request, reply),
    });
  }
};

export const recomputeJobRoutes: FastifyPluginAsync<RecomputeJobRoutesOptions> = async (app, options) => {
  await app.register(methodNotAllowedRoutes, {
    paths: [
      ['/v1/ops/jobs/:id', ['GET', 'HEAD']],
      ['/v1/ops/jobs/:id/cancel', ['POST']],
    ],
  });
  const queue = (): RecomputeQueue => {
    if (options.jobs === null) {
      throw new TandemError(
        'TANDEM_ERR_SERVICE_UNAVAILABLE',
        'recompute jobs are not wired in this server; run `tandem recompute` from the cli instead',
      );
    }
    return options.jobs;
  };
  const notFound = (id: string) =>
    new TandemError(
      'TANDEM_ERR_NOT_FOUND',
      `no recompute job ${id}; jobs are kept for 7 days (the newest 1,000); list them with GET /v1/ops/jobs`,
    );

  app.post<{ Body: { view: string; from: string; to: string } }>(
    '/v1/ops/recompute',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['operations'],
        summary:
          'Queue a batch recompute of a view over a range of hours (admin scope); answers with a job id',
        description:
          'Answers 202 at once with the queued job; follow it at `GET /v1/ops/jobs/{id}` (the ' +
          '`Location` header) and cancel it with `POST /v1/ops/jobs/{id}/cancel`. Jobs run a few at a time per server, ' +
          'oldest hour first, each hour published atomically.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['view', 'from', 'to'],
          properties: {
            view: { type: 'string', enum: options.viewNames },
            from: timeParameter('First hour to recompute, floored to the hour'),
            to: timeParameter('End of the range (exclusive), ceiled to the hour'),
          },
        },
        response: {
          202: {
            type: 'object',
            additionalProperties: false,
            required: ['accepted', 'jobId', 'view', 'from', 'to', 'hours', 'job'],
            properties: {
              accepted: { type: 'boolean' },
              jobId: { type: 'string', pattern: jobIdPattern },
              view: { type: 'string' },
              from: isoTime,
              to: isoTime,
              hours: { type: 'integer' },
              job: jobSchema,
            },
          },
          ...keyedErrors,
          503: {
            description:
              'Recompute is not wired, the queue is full, the server is stopping, or Redis is away',
            ...errorRef,
          },
        },
      },
    },
    async (request, reply) => {
      const { view } = request.body;
      const at = options.now();
      const from = parseTimeParameter(request.body.from, at);
      const to = parseTimeParameter(request.body.to, at);
      if (from === null) throw queryInvalid('from', `body/from ${timeInputRule}`);
      if (to === null) throw queryInvalid('to', `body/to ${timeInputRule}`);
      const range = { from: Math.floor(from / HOUR_MS) * HOUR_MS, to: Math.ceil(to / HOUR_MS) * HOUR_MS };
      if (range.from >= range.to) throw queryInvalid('to', 'body/to must be later than from');
      if (range.to - range.from > options.limits.maxRecomputeRangeMs) {
        throw queryTooLarge(
          'from',
          `a recompute may cover at most ${options.limits.maxRecomputeRangeMs / HOUR_MS} hours; split the range`,
        );
      }
      const job = await queue().submit(view, range);
      request.log.info(
        { job: job.id, view, from: range.from, to: range.to, key: request.apiKey?.name },
        'recompute queued',
      );
      reply.code(202).header('location', `/v1/ops/jobs/${job.id}`);
      return {
        accepted: true,
        jobId: job.id,
        view,
        from: new Date(range.from).toISOString(),
        to: new Date(range.to).toISOString(),
        hours: (range.to - range.from) / HOUR_MS,
        job: jobBody(job),
      };
    },
  );

  app.get<{ Querystring: { limit: number } }>(
    '/v1/ops/jobs',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['operations'],
        summary: 'The newest recompute jobs of every server, newest first (admin scope)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
        },
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['jobs'],
            properties: { jobs: { type: 'array', items: jobSchema } },
          },
          ...jobErrors,
        },
      },
    },
    async (request) => ({ jobs: (await queue().list(request.query.limit)).map(jobBody) }),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/ops/jobs/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['operations'],
        summary: 'A recompute job: its state and progress (admin scope)',
        params: jobParams,
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: jobSchema, ...jobErrors },
      },
    },
    async (request) => {
      const job = await queue().get(request.params.id);
      if (job === null) throw notFound(request.params.id);
      return jobBody(job);
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/ops/jobs/:id/cancel',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['operations'],
        summary:
          'Cancel a recompute job (admin scope): a queued one never runs, a running one stops between hours',
        description:
          'Answers with the job: `cancelled` at once when it was queued, else `cancelRequested` until ' +
          'it stops after the hour it is publishing (hours published stay, the rest keep their previous ' +
          'run). A finished job is returned unchanged.',
        params: jobParams,
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: jobSchema, ...jobErrors },
      },
    },
    async (request) => {
      const job = await queue().cancel(request.params.id);
      if (job === null) throw notFound(request.params.id);
      request.log.info(
        { job: job.id, state: job.state, key: request.apiKey?.name },
        'recompute job cancel requested',
      );
      return jobBody(job);
    },
  );
};

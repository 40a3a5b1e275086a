// The two probes an orchestrator polls. `/healthz` (liveness): can this process still do its job —
// its components (scheduler loop, consumers, job queue) report from memory whether they are alive
// and making progress; a failing answer means "restart me". `/readyz` (readiness): can it serve
// right now — each dependency it needs (Redis, the lake, Kafka where it consumes) answers a cheap
// probe; a failing answer means "send no traffic", and it flips back by itself once the dependency
// returns. A dependency outage never fails /healthz: a restart would not bring Redis back.
import type { FastifyPluginAsync } from 'fastify';
import { errorRef } from '../schemas.ts';
import { type ComponentHealth, type HealthCheck, type ReadinessProbe, withDeadline } from '@tandem/core';

export interface ProbeRoutesOptions {
  /** Checked at every request, so components may register after the server starts. */
  healthChecks: Record<string, HealthCheck>;
  /** Probed at every request, so dependencies may be added after the server starts. */
  readinessProbes: Record<string, ReadinessProbe>;
  /** Longest a readiness probe may take before it counts as down. @defaultValue 2000 */
  probeTimeoutMs: number;
}

const publicSecurity = { security: [] as Array<Record<string, string[]>> };

const healthBody = {
  type: 'object',
  additionalProperties: false,
  required: ['status', 'checks'],
  properties: {
    status: { type: 'string', enum: ['ok', 'failing'] },
    checks: {
      type: 'object',
      description: 'Per component of the process: whether it can still do its job',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['ok', 'detail'],
        properties: { ok: { type: 'boolean' }, detail: { type: 'string' } },
      },
    },
  },
} as const;

const readyBody = {
  type: 'object',
  additionalProperties: false,
  required: ['status', 'checks'],
  properties: {
    status: { type: 'string', enum: ['ready', 'unavailable'] },
    checks: {
      type: 'object',
      description: 'Per dependency the process needs: whether it answered, and how fast',
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
} as const;

const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;

export const probeRoutes: FastifyPluginAsync<ProbeRoutesOptions> = async (app, options) => {
  app.get(
    '/healthz',
    {
      config: { scope: 'public' },
      schema: {
        tags: ['operations'],
        summary: 'Liveness: every component of the process is alive and making progress',
        description:
          '200 while every component can still do its job; 503 naming the one that cannot (a dead ' +
          'consumer, a wedged scheduler loop), which a supervisor should answer with a restart. ' +
          'Dependencies being down do not fail it; /readyz reports those.',
        ...publicSecurity,
        querystring: noQuery,
        response: { 200: healthBody, 503: healthBody, 400: errorRef },
      },
    },
    async (request, reply) => {
      const answer = evaluateHealth(options.healthChecks, request.log);
      reply.code(answer.statusCode);
      return answer.body;
    },
  );

  app.get(
    '/readyz',
    {
      config: { scope: 'public' },
      schema: {
        tags: ['operations'],
        summary: 'Readiness: every dependency the process needs answers (Redis, the lake, Kafka)',
        description:
          'Runs one cheap probe per dependency (a Redis PING, a HEAD of one lake object, a Kafka ' +
          'metadata request) with a timeout each; 503 names what is down, and the answer turns 200 ' +
          'again by itself once it is back.',
        ...publicSecurity,
        querystring: noQuery,
        response: { 200: readyBody, 503: readyBody, 400: errorRef },
      },
    },
    async (request, reply) => {
      const answer = await evaluateReadiness(options.readinessProbes, options.probeTimeoutMs, request.log);
      reply.code(answer.statusCode);
      return answer.body;
    },
  );
};

/** Where a probe's failures are logged (pino's or Fastify's logger). */
export interface ProbeLog {
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** `/healthz`'s answer: every component's own report, 503 when any is not ok. */
export function evaluateHealth(
  healthChecks: Record<string, HealthCheck>,
  log: ProbeLog,
): { statusCode: 200 | 503; body: { status: 'ok' | 'failing'; checks: Record<string, ComponentHealth> } } {
  const checks: Record<string, ComponentHealth> = {};
  for (const [name, check] of Object.entries(healthChecks)) {
    try {
      const { ok, detail } = check();
      checks[name] = { ok, detail };
    } catch (error) {
      log.error({ err: error, component: name }, 'health check threw');
      checks[name] = { ok: false, detail: 'its health check failed; see the log' };
    }
  }
  const healthy = Object.values(checks).every((check) => check.ok);
  if (!healthy) log.warn({ checks }, 'health check failing');
  return { statusCode: healthy ? 200 : 503, body: { status: healthy ? 'ok' : 'failing', checks } };
}

/** `/readyz`'s answer: one probe per dependency, each within `timeoutMs`; 503 naming what is down. */
export async function evaluateReadiness(
  readinessProbes: Record<string, ReadinessProbe>,
  timeoutMs: number,
  log: ProbeLog,
): Promise<{
  statusCode: 200 | 503;
  body: {
    status: 'ready' | 'unavailable';
    checks: Record<string, { ok: boolean; ms: number; error?: string }>;
  };
}> {
  const entries = await Promise.all(
    Object.entries(readinessProbes).map(async ([name, probe]) => {
      const started = performance.now();
      try {
        await withDeadline(probe(), timeoutMs, name);
        return [name, { ok: true, ms: Math.round(performance.now() - started) }] as const;
      } catch (error) {
        log.warn({ err: error, dependency: name }, 'readiness probe failed');
        return [
          name,
          { ok: false, ms: Math.round(performance.now() - started), error: `${name} is not reachable` },
        ] as const;
      }
    }),
  );
  const ready = entries.every(([, check]) => check.ok);
  return {
    statusCode: ready ? 200 : 503,
    body: { status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(entries) },
  };
}

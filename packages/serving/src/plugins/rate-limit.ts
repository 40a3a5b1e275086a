// Per-key request limits with @fastify/rate-limit. Counters live in Redis when a client is given
// (shared by every serving replica), else in process memory. Only keyed routes (`read`, `admin`)
// are limited; health, metrics, docs and the dashboard are not. Requests without an authenticated
// key (open API, or refused by auth: no key, a wrong key) are limited per client IP, so a burst of
// bad keys throttles its sender and no one else. If Redis fails, requests pass (availability over
// strict limiting).
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync } from 'fastify';
import type { Cluster, Redis } from 'ioredis';
import { RATE_LIMITED_CODE } from '../http-errors.ts';
import { globalPlugin } from './global-plugin.ts';

export interface RateLimitPluginOptions {
  max: number;
  windowMs: number;
  /** One node or a cluster (see BuildServerOptions.redis). */
  redis: Redis | Cluster | null;
  /** Key prefix in Redis, so tenants and tests never share counters. */
  redisPrefix: string;
}

const rateLimitPluginImpl: FastifyPluginAsync<RateLimitPluginOptions> = async (app, options) => {
  await app.register(rateLimit, {
    global: true,
    max: options.max,
    timeWindow: options.windowMs,
    ...(options.redis === null ? {} : { redis: options.redis }),
    nameSpace: `${options.redisPrefix}:ratelimit:`,
    skipOnError: true,
    // Runs after the auth hook (registered first) and before it answers a refusal, so the key is
    // known, and a refused request counts against its IP.
    keyGenerator: (request) => (request.apiKey === null ? `ip:${request.ip}` : `key:${request.apiKey.name}`),
    allowList: (request) => (request.routeOptions.config?.scope ?? 'public') === 'public',
    errorResponseBuilder: (_request, context) =>
      Object.assign(new Error(`rate limit of ${context.max} requests exceeded; retry in ${context.after}`), {
        statusCode: context.statusCode,
        code: RATE_LIMITED_CODE,
      }),
  });
};

export const rateLimitPlugin = globalPlugin('tandem-rate-limit', rateLimitPluginImpl);

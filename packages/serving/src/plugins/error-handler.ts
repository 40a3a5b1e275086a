// Installs the one error handler and the not-found handler, and logs one line per request with
// its id, route, status and duration.
import { TandemError } from '@tandem/core';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { toHttpError } from '../http-errors.ts';
import { globalPlugin } from './global-plugin.ts';

const errorHandlerPluginImpl: FastifyPluginAsync = async (app) => {
  app.setErrorHandler(async (error, request, reply) => {
    const allowed = request.is404 ? allowedMethods(request.url) : undefined;
    if (allowed !== undefined) {
      // A body-bearing method (QUERY, PUT) on a known path fails body parsing before routing.
      return methodNotAllowed(request, reply, allowed);
    }
    const { status, body } = toHttpError(error);
    // A 5xx body holds no detail: the log line, under the same requestId, holds all of it.
    if (status >= 500) request.log.error({ err: error, status, code: body.error.code }, 'request failed');
    else request.log.debug({ err: error }, 'request rejected');
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="tandem", ApiKey header="x-api-key"');
    body.error.requestId = request.id;
    reply.code(status);
    return body;
  });

  // Methods per static path, so a known path asked with another method answers 405, not 404.
  const methodsByPath = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    if (route.url.includes(':') || route.url.includes('*')) return;
    const methods = methodsByPath.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    methodsByPath.set(route.url, methods);
  });

  function allowedMethods(url: string): string | undefined {
    const methods = methodsByPath.get(url.split('?')[0] ?? '');
    return methods === undefined ? undefined : [...methods].sort().join(', ');
  }

  function methodNotAllowed(request: FastifyRequest, reply: FastifyReply, allow: string) {
    const path = (request.url.split('?')[0] ?? '').slice(0, 200);
    reply.header('allow', allow);
    reply.code(405);
    return {
      error: {
        code: 'TANDEM_ERR_QUERY_INVALID',
        message: `method ${request.method.slice(0, 16)} is not allowed on ${path}; use ${allow}`,
        requestId: request.id,
      },
    };
  }

  app.setNotFoundHandler(async (request, reply) => {
    const allowed = allowedMethods(request.url);
    if (allowed !== undefined) return methodNotAllowed(request, reply, allowed);
    const path = (request.url.split('?')[0] ?? '').slice(0, 200);
    throw new TandemError('TANDEM_ERR_NOT_FOUND', `no route ${request.method.slice(0, 16)} ${path}`);
  });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        route: request.routeOptions.url ?? null,
        method: request.method,
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
        key: request.apiKey?.name ?? null,
      },
      'request completed',
    );
  });
};

export const errorHandlerPlugin = globalPlugin('tandem-errors', errorHandlerPluginImpl);

// Installs the one error handler and the not-found handler, and logs one line per request with
// its id, route, status and duration.
import { TandemError } from '@tandem/core';
import type { FastifyPluginAsync } from 'fastify';
import { toHttpError } from '../http-errors.ts';
import { globalPlugin } from './global-plugin.ts';

const errorHandlerPluginImpl: FastifyPluginAsync = async (app) => {
  app.setErrorHandler(async (error, request, reply) => {
    const { status, body } = toHttpError(error);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.debug({ err: error }, 'request rejected');
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="tandem", ApiKey header="x-api-key"');
    body.error.requestId = request.id;
    reply.code(status);
    return body;
  });

  app.setNotFoundHandler(async (request) => {
    throw new TandemError(
      'TANDEM_ERR_NOT_FOUND',
      `no route ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)}`,
    );
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

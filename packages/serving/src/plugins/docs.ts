// OpenAPI 3 generated from the route schemas (@fastify/swagger) with a Swagger UI at /docs and the
// spec at /docs/json. Registered before the routes, which it collects as they are added.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import { globalPlugin } from './global-plugin.ts';

export interface DocsPluginOptions {
  /** Whether keys are configured: the spec then declares the API-key security scheme. */
  secured: boolean;
}

const docsPluginImpl: FastifyPluginAsync<DocsPluginOptions> = async (app, options) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Tandem serving API',
        version: '1.0.0',
        description:
          'Merged batch + real-time views. Every answer says, per base hour, whether sealed batch ' +
          'data or the speed layer served it. Errors are `{ error: { code, message, parameter?, requestId } }`; ' +
          'a 5xx says only which service failed, and the server log holds the details under its requestId. ' +
          'Times (`from`, `to`) are ISO-8601, epoch ms, `now`, or relative to now like `-2h`, as in the cli.',
      },
      tags: [
        { name: 'views', description: 'Merged view queries' },
        { name: 'operations', description: 'Status, health, metrics and admin operations' },
      ],
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      ...(options.secured ? { security: [{ apiKey: [] }, { bearer: [] }] } : {}),
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: false },
    // Swagger UI's own policy for its pages, less `upgrade-insecure-requests` (see security-headers.ts).
    staticCSP: true,
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/, ''),
  });
};

export const docsPlugin = globalPlugin('tandem-docs', docsPluginImpl);

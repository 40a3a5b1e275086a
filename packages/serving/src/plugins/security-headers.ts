// Security headers on every answer (@fastify/helmet): a Content-Security-Policy that lets the
// dashboard load only its own files (it has no inline script or style, and its chart sizes bars
// through the CSSOM, which CSP allows), plus helmet's usual headers (nosniff, no framing, no
// referrer, HSTS, cross-origin isolation). /docs keeps the policy Swagger UI sets for itself.
import helmet from '@fastify/helmet';
import type { FastifyPluginAsync } from 'fastify';
import { globalPlugin } from './global-plugin.ts';

/**
 * The dashboard's policy. No `upgrade-insecure-requests` (in helmet's defaults): Tandem speaks plain
 * HTTP unless a proxy terminates TLS in front of it, and upgrading the page's own requests would
 * break a dashboard reached over http on a LAN address.
 */
export const contentSecurityPolicy = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'connect-src': ["'self'"],
  'font-src': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  // `data:` for the page's empty icon (`<link rel="icon" href="data:,">`).
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
} as const;

const securityHeadersPluginImpl: FastifyPluginAsync = async (app) => {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: contentSecurityPolicy },
    // frame-ancestors 'none' says the same to browsers that read CSP; this is for older ones.
    xFrameOptions: { action: 'deny' },
  });
};

export const securityHeadersPlugin = globalPlugin('tandem-security-headers', securityHeadersPluginImpl);

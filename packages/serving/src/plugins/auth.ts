// API keys with `read` and `admin` scopes. Only SHA-256 digests are held; a presented key is hashed
// and compared to every stored digest with `timingSafeEqual`, so neither the key nor its position
// leaks through timing. With no keys configured the read API is open and admin routes are refused
// (unless `allowAdminWithoutKeys`), so an unconfigured server can never be told to recompute.
// A refused request is answered only after every onRequest hook, so the rate limiter (per client
// IP while no key authenticated it) counts it: a client guessing keys is throttled with 429.
import { createHash, timingSafeEqual } from 'node:crypto';
import { type ApiKeyConfig, TandemError } from '@tandem/core';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { globalPlugin } from './global-plugin.ts';

/** What a route requires: `public` routes (health, metrics, docs, dashboard) need no key. */
export type RouteScope = 'public' | 'read' | 'admin';

export interface AuthenticatedKey {
  name: string;
  scopes: ReadonlyArray<'read' | 'admin'>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Scope the route requires. @defaultValue 'public' */
    scope?: RouteScope;
  }
  interface FastifyRequest {
    /** The key that authenticated this request, or null (open API, or a public route). */
    apiKey: AuthenticatedKey | null;
    /** Why authentication refused this request; thrown once the rate limiter has counted it. */
    authFailure: TandemError | null;
  }
}

export interface AuthPluginOptions {
  apiKeys: ApiKeyConfig[];
  /** With no keys configured, whether admin routes are open too. @defaultValue false */
  allowAdminWithoutKeys: boolean;
}

/** Reads the key from `x-api-key` or `Authorization: Bearer <key>`. */
export function presentedKey(request: FastifyRequest): string | null {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header !== '') return header;
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match !== null) return match[1]!;
  }
  return null;
}

const authPluginImpl: FastifyPluginAsync<AuthPluginOptions> = async (app, options) => {
  const stored = options.apiKeys.map((key) => ({
    name: key.name,
    scopes: key.scopes,
    digest: Buffer.from(key.sha256, 'hex'),
  }));
  for (const key of stored) {
    if (key.digest.length !== 32) {
      throw new TandemError('TANDEM_ERR_CONFIG_INVALID', `API key "${key.name}" has no valid SHA-256 digest`);
    }
  }
  const open = stored.length === 0;

  function authenticate(secret: string): AuthenticatedKey | null {
    const digest = createHash('sha256').update(secret, 'utf8').digest();
    let found: AuthenticatedKey | null = null;
    // Compare against every key, never stopping early.
    for (const key of stored) {
      if (timingSafeEqual(digest, key.digest) && found === null)
        found = { name: key.name, scopes: key.scopes };
    }
    return found;
  }

  /** The key a request authenticates with, or why it is refused. */
  function check(request: FastifyRequest, scope: 'read' | 'admin'): AuthenticatedKey | TandemError | null {
    if (open) {
      if (scope === 'admin' && !options.allowAdminWithoutKeys) {
        return new TandemError(
          'TANDEM_ERR_AUTH_FORBIDDEN',
          'admin routes are disabled while no API keys are configured; set TANDEM_API_KEYS with an admin key',
        );
      }
      return null;
    }
    const secret = presentedKey(request);
    if (secret === null) {
      return new TandemError(
        'TANDEM_ERR_AUTH_MISSING',
        'this route needs an API key; send it as `x-api-key: <key>` or `Authorization: Bearer <key>`',
      );
    }
    const key = authenticate(secret);
    if (key === null) {
      return new TandemError('TANDEM_ERR_AUTH_MISSING', 'the API key is not valid; check the key you sent');
    }
    if (scope === 'admin' && !key.scopes.includes('admin')) {
      return new TandemError('TANDEM_ERR_AUTH_FORBIDDEN', `API key "${key.name}" lacks the admin scope`);
    }
    if (scope === 'read' && !key.scopes.includes('read') && !key.scopes.includes('admin')) {
      return new TandemError('TANDEM_ERR_AUTH_FORBIDDEN', `API key "${key.name}" lacks the read scope`);
    }
    return key;
  }

  app.decorateRequest('apiKey', null);
  app.decorateRequest('authFailure', null);
  app.addHook('onRequest', async (request) => {
    const scope = request.routeOptions.config?.scope ?? 'public';
    if (scope === 'public') return;
    const outcome = check(request, scope);
    // A refusal leaves `apiKey` null, so the limiter counts it against the client's IP.
    if (outcome instanceof TandemError) request.authFailure = outcome;
    else request.apiKey = outcome;
  });
  // preParsing runs after every onRequest hook, the rate limiter's (route-level) ones included.
  app.addHook('preParsing', async (request) => {
    if (request.authFailure !== null) throw request.authFailure;
  });
};

export const authPlugin = globalPlugin('tandem-auth', authPluginImpl);

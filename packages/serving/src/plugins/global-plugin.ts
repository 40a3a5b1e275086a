// Marks a plugin as not encapsulated (what `fastify-plugin` does), so its hooks, decorations and
// error handler apply to every route of the server rather than only to its own children.
import type { FastifyPluginAsync, FastifyPluginOptions } from 'fastify';

export function globalPlugin<Options extends FastifyPluginOptions>(
  name: string,
  plugin: FastifyPluginAsync<Options>,
): FastifyPluginAsync<Options> {
  Object.defineProperty(plugin, Symbol.for('skip-override'), { value: true });
  Object.defineProperty(plugin, Symbol.for('fastify.display-name'), { value: name });
  return plugin;
}

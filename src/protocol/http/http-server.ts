import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Slipway } from '../../slipway.js';
import { sendError } from './error-reply.js';
import { DEFAULT_BODY_LIMIT_BYTES, oipRoutes, setOipNotFound } from './oip-routes.js';

export interface HttpServerOptions {
  bodyLimitBytes?: number;
}

/**
 * A Fastify server speaking OIP REST for a loaded Slipway. Not listening yet: call `listen`.
 *
 * @example
 * const app = createHttpServer(slipway);
 * await app.listen({ port: 8000, host: '127.0.0.1' });
 */
export function createHttpServer(slipway: Slipway, options: HttpServerOptions = {}): FastifyInstance {
  const bodyLimit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const app = Fastify({
    loggerInstance: slipway.logger as FastifyBaseLogger,
    // One line per request from our onResponse hook instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    // Sockets that sit idle are closed at shutdown; in-flight requests still finish.
    forceCloseConnections: 'idle',
    requestIdHeader: 'x-request-id',
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, url: request.url, status: reply.statusCode, latencyMs: Math.round(reply.elapsedTime * 100) / 100 },
      'request',
    );
  });
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  setOipNotFound(app);
  void app.register(oipRoutes, { slipway, bodyLimitBytes: bodyLimit });
  return app;
}

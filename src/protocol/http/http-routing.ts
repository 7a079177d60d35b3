import type { FastifyRequest } from 'fastify';
import { routingFields } from '../routing-headers.js';

/**
 * The routing fields of an HTTP request: the version its path names, else `x-slipway-version`,
 * the sticky key from `x-slipway-key`, and the request id (the caller's `x-request-id`, else the
 * server's), which graphs pass on to their steps and handlers see as `ctx.requestId`.
 *
 * @example
 * const response = await slipway.router.infer({ model, inputs, ...httpRouting(request) });
 */
export function httpRouting(request: FastifyRequest, pathVersion?: string): { version?: string; routingKey?: string; requestId: string } {
  const routing = routingFields((name) => {
    const value = request.headers[name];
    return typeof value === 'string' ? value : undefined;
  }, pathVersion);
  return { ...routing, requestId: String(request.id) };
}

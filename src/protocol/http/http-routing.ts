import type { FastifyRequest } from 'fastify';
import { routingFields } from '../routing-headers.js';

/**
 * The routing fields of an HTTP request: the version its path names, else `x-slipway-version`,
 * and the sticky key from `x-slipway-key`.
 *
 * @example
 * const response = await slipway.router.infer({ model, inputs, ...httpRouting(request) });
 */
export function httpRouting(request: FastifyRequest, pathVersion?: string): { version?: string; routingKey?: string } {
  return routingFields((name) => {
    const value = request.headers[name];
    return typeof value === 'string' ? value : undefined;
  }, pathVersion);
}

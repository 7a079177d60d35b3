import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Slipway } from '../../slipway.js';
import { errorCodeOf, inferenceOf, type InferenceNote, keyOf } from './request-context.js';

// Routes that run a model, whatever the dialect; their requests are counted and timed per model.
const INFERENCE_ROUTE = /(\/infer|:predict|\/invocations|\/score|\/predict)$/;
// Probes and scrapes arrive every few seconds; at info level they would drown the log.
const QUIET_ROUTE = /^\/(v2\/health\/|metrics$|ping$)/;

/** A request id for every request: the caller's `x-request-id` when it sends one, else a fresh UUID. */
export function requestId(request: { headers: Record<string, string | string[] | undefined> }): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && given.length > 0 && given.length <= 200 ? given : randomUUID();
}

/**
 * One structured log line per request (request id, model, version, status, error code, latency,
 * batch size) and the request metrics, both written when the answer has gone out. The request id
 * is echoed in `x-request-id` so clients can quote it.
 */
export function observeRequests(app: FastifyInstance, slipway: Slipway): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? '';
    const status = reply.statusCode;
    const code = errorCodeOf(request);
    const latencyMs = Math.round(reply.elapsedTime * 1000) / 1000;
    const inference = INFERENCE_ROUTE.test(route) ? (inferenceOf(request) ?? labelsFor(slipway, request)) : undefined;
    if (inference !== undefined) {
      slipway.metrics?.recordRequest({
        model: inference.model,
        version: inference.version,
        protocol: 'http',
        outcome: status < 400 ? 'success' : (code ?? `HTTP_${status}`),
        seconds: reply.elapsedTime / 1000,
      });
    }
    const line = {
      method: request.method,
      url: request.url,
      status,
      latencyMs,
      ...(code !== undefined && { code }),
      // Who asked, as the key's id: an export or a load can be traced to the key that made it.
      ...(keyOf(request) !== undefined && { key: keyOf(request) }),
      ...(inference !== undefined && { model: inference.model, version: inference.version, protocol: 'http' }),
      ...(inference?.batchSize !== undefined && { batchSize: inference.batchSize }),
      // A graph's request line says where its time went, step by step (ms).
      ...(inference?.steps !== undefined && { steps: Object.fromEntries(inference.steps.map((s) => [s.label, Math.round(s.ns / 1e3) / 1e3])) }),
    };
    if (QUIET_ROUTE.test(request.url.slice(0, 20)) && status < 400) request.log.debug(line, 'request');
    else request.log.info(line, 'request');
  });
}

/** Bounded labels for a request that failed before a model answered: unknown names become `unknown`. */
function labelsFor(slipway: Slipway, request: FastifyRequest): InferenceNote {
  const { model, version } = (request.params ?? {}) as { model?: string; version?: string };
  if (model === undefined || slipway.repository.get(model) === undefined) return { model: 'unknown', version: 'unknown' };
  try {
    return { model, version: String(slipway.router.find(model, version).version) };
  } catch {
    return { model, version: 'unknown' };
  }
}

/** `GET /metrics` in Prometheus text format. */
export function registerMetricsRoute(app: FastifyInstance, slipway: Slipway): void {
  app.get('/metrics', async (_request, reply) => {
    const metrics = slipway.metrics;
    if (metrics === undefined) return reply.code(404).send({ error: 'metrics are disabled' });
    return reply.type(metrics.registry.contentType).send(await metrics.exposition());
  });
}

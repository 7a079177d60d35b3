import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { categoryOf } from '../../errors/codes.js';
import type { Slipway } from '../../slipway.js';
import { isClientCaused } from './error-reply.js';
import { errorCodeOf, errorMessageOf, inferenceOf, type InferenceNote, keyOf } from './request-context.js';

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
 *
 * Every request is counted and timed in the metrics. Log lines are bounded by the request log
 * limiter (`request_log_per_second` lines per second; the others are counted in
 * `slipway_log_lines_suppressed_total`, and the next line written says how many were dropped):
 * a dropped line is never built, so a request beyond the budget (a cache hit under load) pays for
 * a counter and a histogram observation only. 5xx lines are written apart (one per code per
 * interval) and INTERNAL errors by `sendError` with their stack, whatever the request budget.
 */
export function observeRequests(app: FastifyInstance, slipway: Slipway): void {
  // Callback-style hooks: an async hook costs a promise and a microtask per request, and these
  // never wait for anything (measured on the cache-hit path, bench/RESULTS.md).
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    logRequest(slipway, request, reply);
    done();
  });
}

function logRequest(slipway: Slipway, request: FastifyRequest, reply: FastifyReply): void {
  const route = request.routeOptions.url ?? '';
  const status = reply.statusCode;
  const code = errorCodeOf(request);
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
  // 5xx a client can cause (sendError logs INTERNAL itself, with its stack): one warn line per
  // code per interval, never one per request, which any client could turn into a flood.
  if (status >= 500 && code !== undefined && isClientCaused(categoryOf(code)) && enabled(request, 'warn')) {
    const { log, suppressed } = slipway.errorLogLimiter.admit(code);
    if (log) request.log.warn({ code, status, url: request.url.slice(0, 200), suppressed }, errorMessageOf(request) ?? code);
  }
  if (QUIET_ROUTE.test(request.url.slice(0, 20)) && status < 400) {
    if (enabled(request, 'debug')) request.log.debug(requestLine(request, reply, code, inference), 'request');
  } else if (enabled(request, 'info')) {
    const { log, suppressed } = slipway.requestLogLimiter.admit('http');
    if (log) {
      const line = requestLine(request, reply, code, inference);
      request.log.info(suppressed > 0 ? { ...line, suppressed } : line, 'request');
    }
  }
}

/** The request's log line, built only when it is written. */
function requestLine(request: FastifyRequest, reply: FastifyReply, code: string | undefined, inference: InferenceNote | undefined): Record<string, unknown> {
  return {
    method: request.method,
    // The client's URL, bounded: a log line per request must not grow with what a client sends.
    url: request.url.length > 500 ? `${request.url.slice(0, 500)}…` : request.url,
    status: reply.statusCode,
    latencyMs: Math.round(reply.elapsedTime * 1000) / 1000,
    ...(code !== undefined && { code }),
    // Who asked, as the key's id: an export or a load can be traced to the key that made it.
    ...(keyOf(request) !== undefined && { key: keyOf(request) }),
    ...(inference !== undefined && { model: inference.model, version: inference.version, protocol: 'http' }),
    ...(inference?.batchSize !== undefined && { batchSize: inference.batchSize }),
    // A graph's request line says where its time went, step by step (ms).
    ...(inference?.steps !== undefined && { steps: Object.fromEntries(inference.steps.map((s) => [s.label, Math.round(s.ns / 1e3) / 1e3])) }),
  };
}

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** Whether the request's logger writes `level`: a line it drops must not count against the rate limit. */
function enabled(request: FastifyRequest, level: 'debug' | 'info' | 'warn'): boolean {
  return (LEVELS[request.log.level] ?? Infinity) <= LEVELS[level]!;
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

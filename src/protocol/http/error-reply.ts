import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorCategory } from '../../errors/codes.js';
import { capMessage } from '../../errors/quote-value.js';
import { LogLimiter } from '../../observability/log-limiter.js';
import { ServingError, toServingError } from '../../errors/serving-error.js';
import { httpStatusOf } from '../../errors/to-http.js';
import { routedVersionOf } from '../../router/model-router.js';
import { inferenceOf, noteError, noteInference } from './request-context.js';

/** Fastify's own 4xx errors (body limit, bad content) translated into registry codes. */
function fromFastify(error: FastifyError): ServingError | undefined {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new ServingError('PAYLOAD_TOO_LARGE', `request body is larger than the server's limit (${error.message})`);
  }
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return new ServingError('MALFORMED_REQUEST', error.message);
  }
  return undefined;
}

/**
 * Unexpected errors (INTERNAL: a bug, or onnxruntime refusing an input) log with their stack, but
 * a client that finds one can repeat it: at most 20 lines per code per 10 s in this process, the
 * next line saying how many were left out.
 */
export const internalErrorLogLimiter = new LogLimiter({ linesPerInterval: 20, intervalMs: 10_000 });

/** Seconds a 503 or 429 tells the client to wait when the error names no time of its own. */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

/**
 * 5xx a client can cause at will (an unload, a crash it provoked, `timeout: 1`, an rpc we lack):
 * logged by the request observer, rate-limited, without a stack. Only INTERNAL logs every time.
 */
export function isClientCaused(category: ErrorCategory): boolean {
  return category !== 'INTERNAL';
}

/**
 * Every HTTP error leaves through here: the OIP body `{"error": message}` plus the registry `code`,
 * with the status from the one category table. Unknown throwables become INTERNAL, cause logged.
 */
export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const serving =
    error instanceof ServingError ? error : (fromFastify(error as FastifyError) ?? toServingError(error));
  const status = httpStatusOf(serving.category);
  // Messages quote the client's values; whatever the client sent, the answer stays small.
  const message = capMessage(serving.message);
  noteError(request, serving.code, message);
  // Counted and logged under the version that failed (a canary's), not the one metadata names.
  const routed = routedVersionOf(error);
  if (routed !== undefined && inferenceOf(request) === undefined) noteInference(request, { model: routed.model, version: String(routed.version) });
  if (status >= 500 && !isClientCaused(serving.category)) {
    const { log, suppressed } = internalErrorLogLimiter.admit(serving.code);
    if (log) request.log.error({ err: error, code: serving.code, ...(suppressed > 0 && { suppressed }) }, message);
  }
  const retryAfter = serving.retryAfterSeconds ?? (status === 503 || status === 429 ? DEFAULT_RETRY_AFTER_SECONDS : undefined);
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  return reply
    .code(status)
    .type('application/json')
    .send(JSON.stringify({ error: message, code: serving.code }));
}

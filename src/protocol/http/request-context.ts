import type { FastifyRequest } from 'fastify';
import type { ErrorCode } from '../../errors/codes.js';

/** What a route learned about a request, for the one log line and the metrics written when it ends. */
export interface InferenceNote {
  model: string;
  version: string;
  batchSize?: number;
  /** A graph's steps and their times, for the request's log line. */
  steps?: Array<{ label: string; ns: number; outcome: 'success' | 'error' }>;
}

const inferences = new WeakMap<FastifyRequest, InferenceNote>();
const errors = new WeakMap<FastifyRequest, { code: ErrorCode; message: string }>();

export function noteInference(request: FastifyRequest, note: InferenceNote): void {
  inferences.set(request, note);
}

export function inferenceOf(request: FastifyRequest): InferenceNote | undefined {
  return inferences.get(request);
}

export function noteError(request: FastifyRequest, code: ErrorCode, message = ''): void {
  errors.set(request, { code, message });
}

export function errorCodeOf(request: FastifyRequest): ErrorCode | undefined {
  return errors.get(request)?.code;
}

/** The message the request's error answer carried (already bounded by `sendError`). */
export function errorMessageOf(request: FastifyRequest): string | undefined {
  return errors.get(request)?.message;
}

const keys = new WeakMap<FastifyRequest, string>();

/** The id of the API key a request presented (never the key), for its log line. */
export function noteKey(request: FastifyRequest, id: string): void {
  keys.set(request, id);
}

export function keyOf(request: FastifyRequest): string | undefined {
  return keys.get(request);
}

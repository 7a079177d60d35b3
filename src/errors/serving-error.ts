import { categoryOf, type ErrorCategory, type ErrorCode } from './codes.js';

/**
 * An error that is safe to show to a client: its message names what is wrong (which tensor, which
 * field, what was expected) and its code decides the status on every protocol.
 *
 * @example
 * throw new ServingError('INVALID_INPUT', "input 'x': expected datatype FP32, got INT64");
 */
export class ServingError extends Error {
  readonly code: ErrorCode;
  readonly category: ErrorCategory;
  /** For RESOURCE_EXHAUSTED: when the client may try again (HTTP Retry-After). */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServingError';
    this.code = code;
    this.category = categoryOf(code);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }

  /**
   * The same error without a stack trace: for refusals a server answers by the thousand under
   * overload (429s), where capturing the stack costs more than the decision itself (measured: ~23 µs
   * against ~8 µs for a queue refusal) and no one reads it.
   *
   * @example
   * throw ServingError.withoutStack('QUEUE_FULL', "model 'digits' has 64 requests queued", { retryAfterSeconds: 1 });
   */
  static withoutStack(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterSeconds?: number }): ServingError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new ServingError(code, message, options);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}

export function isServingError(value: unknown): value is ServingError {
  return value instanceof ServingError;
}

/** Keeps client-facing errors as they are and hides everything else behind INTERNAL (cause kept). */
export function toServingError(value: unknown): ServingError {
  if (value instanceof ServingError) return value;
  return new ServingError('INTERNAL', 'internal server error', { cause: value });
}

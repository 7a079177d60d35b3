// One request through a handler, the same in a Node worker and in a browser bundle: validate the
// input, run predict (or preprocess → the graph → postprocess), validate the output; and the one
// mapping from whatever was thrown to the code and message a client sees.
import { ERROR_CODES, type ErrorCode } from '../../errors/codes.js';
import { ServingError } from '../../errors/serving-error.js';
import type { HandlerContext, HandlerDefinition, PredictContext } from './define-handler.js';
import { inputError } from './handler-input.js';

/** A model call that the router refused or that failed: the handler may catch it, or let it answer. */
export class ModelCallError extends ServingError {}

/**
 * Runs one request: `input` is the raw value the input schema validates. Returns the output as its
 * schema parsed it. Input the schema refuses is INVALID_INPUT (413 for size limits); output it
 * refuses is HANDLER_FAILED.
 */
export async function runHandler(handler: HandlerDefinition, input: unknown, ctx: PredictContext<unknown>): Promise<unknown> {
  const parsed = await handler.input.safeParseAsync(input);
  if (!parsed.success) throw inputError(parsed.error);
  let result: unknown;
  if ('predict' in handler) {
    result = await handler.predict(parsed.data, ctx);
  } else {
    const outputs = await ctx.infer(ctx.model, await handler.preprocess(parsed.data, ctx));
    result = await handler.postprocess(outputs, ctx, parsed.data);
  }
  const checked = await handler.output.safeParseAsync(result);
  if (!checked.success) {
    throw new ServingError(
      'HANDLER_FAILED',
      `handler '${ctx.model}' returned output that does not match its output schema: ${inputError(checked.error).message.replace(/^invalid input: /, '')}`,
    );
  }
  return checked.data;
}

/** Runs a handler's setup() with the failure said as such. */
export async function runSetup(handler: { setup?: (ctx: HandlerContext) => unknown }, ctx: HandlerContext): Promise<unknown> {
  try {
    return await handler.setup?.(ctx);
  } catch (error) {
    throw new Error(`setup() failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
}

// Statuses a model call may pass on to the client; anything else a model says about the handler's
// tensors (bad shape, unknown model) is the handler's bug, not the client's, and answers 500.
const PASSED_ON = new Set(['UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED']);

function isServingErrorLike(error: unknown): error is { code: ErrorCode; message: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && error.name === 'ServingError' && typeof code === 'string' && code in ERROR_CODES;
}

/** What a client is told when a handler request fails (the stack is for the log, never the client). */
export function handlerError(error: unknown, model: string): { code: ErrorCode; message: string; stack?: string } {
  if (error instanceof ModelCallError) {
    if (PASSED_ON.has(error.category)) return { code: error.code, message: error.message };
    return { code: 'HANDLER_FAILED', message: `handler '${model}' failed: a model call was refused: ${error.message}` };
  }
  if (isServingErrorLike(error)) return { code: error.code, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: 'HANDLER_FAILED',
    message: `handler '${model}' failed: ${message}`,
    ...(error instanceof Error && error.stack !== undefined && { stack: error.stack }),
  };
}

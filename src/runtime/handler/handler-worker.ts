// Entry point of one handler worker thread: imports the model's handler.ts (transpiled on load),
// runs its setup once, then validates, predicts and encodes requests here, so neither user code nor
// JSON work ever runs on the main thread. Model calls (ctx.infer) go to the main thread's router.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { ERROR_CODES, type ErrorCode } from '../../errors/codes.js';
import { ServingError } from '../../errors/serving-error.js';
import type { Tensor } from '../../tensor/tensor.js';
import { forTransfer } from '../../tensor/transfer.js';
import type { HandlerContext, HandlerDefinition, InferOptions, ModelInputs, ModelOutputs, PredictContext } from './define-handler.js';
import { checkDefinition, describeDefinition, inputError, rawInput, toTensors } from './handler-input.js';
import type { FromHandlerWorker, HandlerDescription, HandlerWorkerData, PredictPayload, PredictRouting, ToHandlerWorker } from './handler-messages.js';

const port = parentPort;
if (port === null) throw new Error('handler-worker must run as a worker thread');
const data = workerData as HandlerWorkerData;

function send(message: FromHandlerWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

/** A model call that the router refused or that failed: the handler may catch it, or let it answer. */
class ModelCallError extends ServingError {}

let nextCallId = 1;
const calls = new Map<number, { model: string; resolve: (outputs: ModelOutputs) => void; reject: (error: Error) => void }>();
const running = new Map<number, AbortController>();

function infer(model: string, inputs: ModelInputs, options: InferOptions = {}, signal?: AbortSignal, routing?: PredictRouting): Promise<ModelOutputs> {
  if (signal?.aborted === true) return Promise.reject(new ServingError('DEADLINE_EXCEEDED', 'the request timed out before this model call'));
  let prepared;
  try {
    prepared = forTransfer(toTensors(inputs), true);
  } catch (error) {
    return Promise.reject(error as Error);
  }
  const callId = nextCallId++;
  // A version the tester forced applies to the handler's own graph only; other models have their own.
  const version = options.version ?? (model === data.model ? routing?.version : undefined);
  const request = {
    model,
    inputs: prepared.tensors,
    ...(version !== undefined && { version }),
    ...(routing !== undefined && { routingKey: routing.key }),
    ...(options.outputs !== undefined && { outputs: options.outputs }),
    ...(options.parameters !== undefined && { parameters: options.parameters }),
  };
  return new Promise((resolve, reject) => {
    calls.set(callId, { model, resolve, reject });
    send({ type: 'infer', callId, request }, prepared.transfer);
  });
}

const baseContext: HandlerContext = Object.freeze({
  model: data.model,
  dir: data.dir,
  hasGraph: data.hasGraph,
  parameters: Object.freeze({ ...data.parameters }),
  infer: (model: string, inputs: ModelInputs, options?: InferOptions) => infer(model, inputs, options),
});

let definition: HandlerDefinition | undefined;
let description: HandlerDescription | undefined;
let state: unknown;

port.on('message', (message: ToHandlerWorker) => {
  switch (message.type) {
    case 'predict':
      void predict(message.id, message.payload, message.requestId, message.routing);
      return;
    case 'cancel':
      running.get(message.id)?.abort(new ServingError('DEADLINE_EXCEEDED', 'the request timed out'));
      return;
    case 'infer-result': {
      const call = calls.get(message.callId);
      calls.delete(message.callId);
      call?.resolve(Object.fromEntries(message.outputs.map((t) => [t.name, t])));
      return;
    }
    case 'infer-error': {
      const call = calls.get(message.callId);
      calls.delete(message.callId);
      if (call !== undefined) call.reject(new ModelCallError(message.code, `model '${call.model}': ${message.message}`));
      return;
    }
    case 'ping':
      send({ type: 'pong', seq: message.seq });
      return;
    case 'compare':
      void compare(message.id, message.primary, message.shadow);
      return;
    case 'close':
      // The pool only sends this once nothing is running here.
      process.exit(0);
  }
});

async function predict(id: number, payload: PredictPayload, requestId: string | undefined, routing: PredictRouting | undefined): Promise<void> {
  const controller = new AbortController();
  running.set(id, controller);
  try {
    const handler = definition!;
    const parsed = await handler.input.safeParseAsync(rawInput(payload, description!));
    if (!parsed.success) throw inputError(parsed.error);
    const ctx: PredictContext<unknown> = Object.freeze({
      ...baseContext,
      state,
      signal: controller.signal,
      requestId,
      infer: (model: string, inputs: ModelInputs, options?: InferOptions) => infer(model, inputs, options, controller.signal, routing),
    });
    let result: unknown;
    if ('predict' in handler) {
      result = await handler.predict(parsed.data, ctx);
    } else {
      const outputs = await ctx.infer(data.model, await handler.preprocess(parsed.data, ctx));
      result = await handler.postprocess(outputs, ctx, parsed.data);
    }
    const checked = await handler.output.safeParseAsync(result);
    if (!checked.success) {
      throw new ServingError(
        'HANDLER_FAILED',
        `handler '${data.model}' returned output that does not match its output schema: ${inputError(checked.error).message.replace(/^invalid input: /, '')}`,
      );
    }
    const body = new TextEncoder().encode(JSON.stringify(checked.data));
    send({ type: 'result', id, body }, [body.buffer as ArrayBuffer]);
  } catch (error) {
    send({ type: 'error', id, ...wireError(error) });
  } finally {
    running.delete(id);
  }
}

async function compare(id: number, primary: Tensor[], shadow: Tensor[]): Promise<void> {
  try {
    const byName = (tensors: Tensor[]) => Object.fromEntries(tensors.map((t) => [t.name, t]));
    const verdict = await definition!.compare!(byName(primary), byName(shadow), baseContext);
    const result = typeof verdict === 'boolean' ? { agree: verdict } : verdict;
    if (typeof result !== 'object' || result === null || typeof result.agree !== 'boolean') {
      throw new Error(`compare() must return a boolean or { agree, difference }, not ${JSON.stringify(verdict)}`);
    }
    send({ type: 'compared', id, agree: result.agree, ...(typeof result.difference === 'number' && { difference: result.difference }) });
  } catch (error) {
    send({ type: 'compare-error', id, message: `handler '${data.model}' compare() failed: ${(error as Error).message ?? String(error)}` });
  }
}

// Statuses a model call may pass on to the client; anything else a model says about the handler's
// tensors (bad shape, unknown model) is the handler's bug, not the client's, and answers 500.
const PASSED_ON = new Set(['UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED']);

function isServingErrorLike(error: unknown): error is { code: ErrorCode; message: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && error.name === 'ServingError' && typeof code === 'string' && code in ERROR_CODES;
}

function wireError(error: unknown): { code: ErrorCode; message: string; stack?: string } {
  if (error instanceof ModelCallError) {
    if (PASSED_ON.has(error.category)) return { code: error.code, message: error.message };
    return { code: 'HANDLER_FAILED', message: `handler '${data.model}' failed: a model call was refused: ${error.message}` };
  }
  if (isServingErrorLike(error)) return { code: error.code, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: 'HANDLER_FAILED',
    message: `handler '${data.model}' failed: ${message}`,
    ...(error instanceof Error && error.stack !== undefined && { stack: error.stack }),
  };
}

try {
  process.setSourceMapsEnabled(true);
  if (/\.m?ts$/.test(data.file)) register(new URL('./ts-loader-hooks.js', import.meta.url));
  const module = (await import(pathToFileURL(data.file).href)) as { default?: unknown };
  definition = checkDefinition(module.default, data.file, data.hasGraph);
  description = describeDefinition(definition);
  try {
    state = await definition.setup?.(baseContext);
  } catch (error) {
    throw new Error(`setup() failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
  send({ type: 'ready', description });
} catch (error) {
  send({ type: 'load-error', message: (error as Error).message ?? String(error) });
  port.close();
}

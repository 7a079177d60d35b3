// Entry point of one handler worker thread: imports the model's handler.ts (transpiled on load),
// runs its setup once, then validates, predicts and encodes requests here, so neither user code nor
// JSON work ever runs on the main thread. Model calls (ctx.infer) go to the main thread's router.
import { readFile } from 'node:fs/promises';
import { register } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { ServingError } from '../../errors/serving-error.js';
import type { Tensor } from '../../tensor/tensor.js';
import { forTransfer } from '../../tensor/transfer.js';
import type {
  HandlerContext,
  HandlerDefinition,
  InferOptions,
  ModelInputs,
  ModelOutputs,
  PredictContext,
  TensorHandler,
  TensorPredictContext,
} from './define-handler.js';
import { checkDefinition, describeDefinition, rawInput, toTensors } from './handler-input.js';
import type {
  FromHandlerWorker,
  HandlerDescription,
  HandlerWorkerData,
  PredictPayload,
  PredictRouting,
  TensorHandlerSignature,
  TensorRequest,
  ToHandlerWorker,
} from './handler-messages.js';
import { handlerError, ModelCallError, runHandler, runSetup } from './run-handler.js';
import { checkTensorHandler, describeTensorHandler, isTensorHandler, resolveSignature, tensorOutputs } from './tensor-handler.js';

const port = parentPort;
if (port === null) throw new Error('handler-worker must run as a worker thread');
const data = workerData as HandlerWorkerData;

function send(message: FromHandlerWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

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
  readFile: async (path: string) => new Uint8Array(await readFile(resolve(data.dir, path))),
});

let definition: HandlerDefinition | undefined;
/** Set instead of `definition` when handler.ts is a tensor handler. */
let tensorHandler: TensorHandler | undefined;
let signature: TensorHandlerSignature | undefined;
let description: HandlerDescription | undefined;
let state: unknown;

port.on('message', (message: ToHandlerWorker) => {
  switch (message.type) {
    case 'predict':
      void predict(message.id, message.payload, message.requestId, message.routing);
      return;
    case 'tensors':
      void predictTensors(message.id, message.request);
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
    const ctx: PredictContext<unknown> = Object.freeze({
      ...baseContext,
      state,
      signal: controller.signal,
      requestId,
      infer: (model: string, inputs: ModelInputs, options?: InferOptions) => infer(model, inputs, options, controller.signal, routing),
    });
    const output = await runHandler(definition!, rawInput(payload, description!), ctx);
    const body = new TextEncoder().encode(JSON.stringify(output));
    send({ type: 'result', id, body }, [body.buffer as ArrayBuffer]);
  } catch (error) {
    send({ type: 'error', id, ...handlerError(error, data.model) });
  } finally {
    running.delete(id);
  }
}

async function predictTensors(id: number, request: TensorRequest): Promise<void> {
  const controller = new AbortController();
  running.set(id, controller);
  try {
    if (tensorHandler === undefined || signature === undefined) {
      throw new ServingError('HANDLER_FAILED', `handler '${data.model}' is a JSON handler (defineHandler): it takes no tensors`);
    }
    const { timeout: _timeout, ...requestParameters } = request.parameters ?? {};
    const ctx: TensorPredictContext<unknown> = Object.freeze({
      ...baseContext,
      state,
      signal: controller.signal,
      requestId: request.requestId,
      outputs: Object.freeze([...request.outputs]),
      requestParameters: Object.freeze(requestParameters),
      infer: (model: string, inputs: ModelInputs, options?: InferOptions) => infer(model, inputs, options, controller.signal, request.routing),
    });
    const inputs: ModelOutputs = Object.fromEntries(request.inputs.map((t) => [t.name, t]));
    const returned = await tensorHandler.predict(inputs, ctx);
    const rows = signature.maxBatchSize > 0 ? request.inputs[0]?.shape[0] : undefined;
    const outputs = tensorOutputs(returned, signature, request.outputs, rows, data.model);
    // Moved, not copied: the answer is the caller's now (a view into a larger buffer is compacted first).
    const prepared = forTransfer(outputs, true);
    send({ type: 'tensor-result', id, outputs: prepared.tensors }, prepared.transfer);
  } catch (error) {
    send({ type: 'error', id, ...handlerError(error, data.model) });
  } finally {
    running.delete(id);
  }
}

async function compare(id: number, primary: Tensor[], shadow: Tensor[]): Promise<void> {
  try {
    const byName = (tensors: Tensor[]) => Object.fromEntries(tensors.map((t) => [t.name, t]));
    const verdict = await (definition ?? tensorHandler)!.compare!(byName(primary), byName(shadow), baseContext);
    const result = typeof verdict === 'boolean' ? { agree: verdict } : verdict;
    if (typeof result !== 'object' || result === null || typeof result.agree !== 'boolean') {
      throw new Error(`compare() must return a boolean or { agree, difference }, not ${JSON.stringify(verdict)}`);
    }
    send({ type: 'compared', id, agree: result.agree, ...(typeof result.difference === 'number' && { difference: result.difference }) });
  } catch (error) {
    send({ type: 'compare-error', id, message: `handler '${data.model}' compare() failed: ${(error as Error).message ?? String(error)}` });
  }
}

try {
  process.setSourceMapsEnabled(true);
  if (/\.m?ts$/.test(data.file)) register(new URL('./ts-loader-hooks.js', import.meta.url));
  const module = (await import(pathToFileURL(data.file).href)) as { default?: unknown };
  if (isTensorHandler(module.default)) {
    tensorHandler = checkTensorHandler(module.default as object, data.file, data.hasGraph);
    signature = resolveSignature(tensorHandler, baseContext, data.file);
    description = describeTensorHandler(tensorHandler, signature);
    state = await runSetup(tensorHandler, baseContext);
  } else {
    definition = checkDefinition(module.default, data.file, data.hasGraph);
    description = describeDefinition(definition);
    state = await runSetup(definition, baseContext);
  }
  send({ type: 'ready', description });
} catch (error) {
  send({ type: 'load-error', message: (error as Error).message ?? String(error) });
  port.close();
}

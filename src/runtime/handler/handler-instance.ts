import { Worker } from 'node:worker_threads';
import { ServingError, toServingError } from '../../errors/serving-error.js';
import type { Logger } from '../../observability/logger.js';
import type { InferenceRequest, InferenceResponse } from '../../tensor/inference.js';
import type { Tensor } from '../../tensor/tensor.js';
import { forTransfer } from '../../tensor/transfer.js';
import type { ShadowComparison } from './define-handler.js';
import type {
  FromHandlerWorker,
  HandlerDescription,
  HandlerInferRequest,
  HandlerWorkerData,
  PredictPayload,
  PredictRouting,
  TensorRequest,
  ToHandlerWorker,
} from './handler-messages.js';

const WORKER_URL = new URL('./handler-worker.js', import.meta.url);

/** How handler workers reach the models: the router's `infer`, injected so this layer imports no router. */
export type HandlerInfer = (request: InferenceRequest) => Promise<InferenceResponse>;

interface Pending {
  /** A JSON request's body, or a tensor request's outputs. */
  resolve: (result: Uint8Array | Tensor[]) => void;
  reject: (error: Error) => void;
}

/** What a pool hands one worker: a JSON predict request, or a tensor request. */
export type HandlerWork =
  | { kind: 'predict'; payload: PredictPayload; requestId: string | undefined; routing: PredictRouting | undefined }
  | { kind: 'tensors'; request: TensorRequest; transfer: boolean };

/** Buffers a payload owns whole, so they can be moved to the worker instead of copied. */
function payloadTransfer(payload: PredictPayload): ArrayBuffer[] {
  const views =
    payload.kind === 'json' ? [payload.body] : payload.kind === 'file' ? [payload.file.data] : payload.files.map((f) => f.file.data);
  const buffers = new Set<ArrayBuffer>();
  for (const view of views) {
    if (view.buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) buffers.add(view.buffer);
  }
  return [...buffers];
}

/**
 * The main thread's handle on one handler worker: forwards requests, answers the worker's model
 * calls through the injected router, and can tell whether the worker's thread still responds.
 */
export class HandlerInstance {
  private nextId = 1;
  private nextPing = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly pings = new Map<number, (answered: boolean) => void>();
  private readonly comparisons = new Map<number, { resolve: (verdict: ShadowComparison) => void; reject: (error: Error) => void }>();
  private idleWaiters: Array<() => void> = [];
  private dead = false;
  private exitListener: ((error: Error) => void) | undefined;
  private readyCallbacks: { resolve: (d: HandlerDescription) => void; reject: (e: Error) => void } | undefined;
  private exited: Promise<void>;
  /** True while a liveness check is running, so timeouts do not stack them. */
  checking = false;
  description: HandlerDescription | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly infer: HandlerInfer,
    private readonly logger: Logger,
    private readonly model: string,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (message: FromHandlerWorker) => this.onMessage(message));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`handler worker exited with code ${code}`)));
  }

  /** Starts a worker and resolves once its handler is imported and its setup() has returned. */
  static start(data: HandlerWorkerData, infer: HandlerInfer, logger: Logger): Promise<HandlerInstance> {
    const instance = new HandlerInstance(new Worker(WORKER_URL, { workerData: data }), infer, logger, data.model);
    return new Promise<HandlerDescription>((resolve, reject) => {
      instance.readyCallbacks = { resolve, reject };
    }).then(
      (description) => {
        instance.description = description;
        return instance;
      },
      async (error: Error) => {
        await instance.terminate();
        throw error;
      },
    );
  }

  get inflight(): number {
    return this.pending.size;
  }

  get alive(): boolean {
    return !this.dead;
  }

  /** Called once if the worker dies while it was meant to be serving. */
  onUnexpectedExit(listener: (error: Error) => void): void {
    this.exitListener = listener;
  }

  /**
   * Sends one request. A JSON body (or a raw upload) is moved to the worker when this side owns it
   * whole; a tensor request's inputs are moved when the caller gave them up (`transfer`), else
   * copied once.
   */
  send(work: HandlerWork): { id: number; result: Promise<Uint8Array | Tensor[]> } {
    const id = this.nextId++;
    if (this.dead) return { id, result: Promise.reject(new ServingError('INSTANCE_FAILED', 'handler worker is shut down')) };
    const result = new Promise<Uint8Array | Tensor[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (work.kind === 'predict') {
        const { payload, requestId, routing } = work;
        const message: ToHandlerWorker = { type: 'predict', id, payload, ...(requestId !== undefined && { requestId }), ...(routing !== undefined && { routing }) };
        this.worker.postMessage(message, payloadTransfer(payload));
      } else {
        const { tensors, transfer } = forTransfer(work.request.inputs, work.transfer);
        this.worker.postMessage({ type: 'tensors', id, request: { ...work.request, inputs: tensors } } satisfies ToHandlerWorker, transfer);
      }
    });
    return { id, result };
  }

  /** Forgets a request the pool has already answered and tells the worker to abort its signal. */
  cancel(id: number): void {
    if (!this.pending.delete(id) || this.dead) return;
    this.notifyIdle();
    this.worker.postMessage({ type: 'cancel', id } satisfies ToHandlerWorker);
  }

  private notifyIdle(): void {
    if (this.pending.size > 0) return;
    for (const waiter of this.idleWaiters.splice(0)) waiter();
  }

  /** Runs the handler's `compare` on a primary and a shadow answer (copied to the worker: the prediction log may still want them). */
  compare(primary: Tensor[], shadow: Tensor[]): Promise<ShadowComparison> {
    if (this.dead) return Promise.reject(new ServingError('INSTANCE_FAILED', 'handler worker is shut down'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.comparisons.set(id, { resolve, reject });
      const a = forTransfer(primary, false);
      const b = forTransfer(shadow, false);
      this.worker.postMessage({ type: 'compare', id, primary: a.tensors, shadow: b.tensors } satisfies ToHandlerWorker, [...new Set([...a.transfer, ...b.transfer])]);
    });
  }

  /** Resolves true if the worker's event loop answers within `timeoutMs` (a blocked thread cannot). */
  ping(timeoutMs: number): Promise<boolean> {
    if (this.dead) return Promise.resolve(false);
    const seq = this.nextPing++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pings.delete(seq);
        resolve(false);
      }, timeoutMs);
      this.pings.set(seq, (answered) => {
        clearTimeout(timer);
        resolve(answered);
      });
      this.worker.postMessage({ type: 'ping', seq } satisfies ToHandlerWorker);
    });
  }

  /** Stops the worker at once; what it was running fails with `error`. */
  async terminate(error: Error = new ServingError('INSTANCE_FAILED', 'handler worker was stopped')): Promise<void> {
    this.dead = true;
    this.rejectAll(error);
    await this.worker.terminate();
  }

  /** Lets running requests finish (up to `graceMs`), then stops the worker. */
  async close(graceMs: number): Promise<void> {
    if (this.dead) return this.exited;
    if (this.pending.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        timer = setTimeout(resolve, graceMs);
      });
      clearTimeout(timer);
    }
    if (this.dead) return this.exited;
    this.dead = true;
    this.rejectAll(new ServingError('MODEL_NOT_READY', `model '${this.model}' was unloaded before its handler answered`));
    this.worker.postMessage({ type: 'close' } satisfies ToHandlerWorker);
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await this.exited;
    clearTimeout(timer);
  }

  private onMessage(message: FromHandlerWorker): void {
    switch (message.type) {
      case 'ready':
        this.readyCallbacks?.resolve(message.description);
        this.readyCallbacks = undefined;
        return;
      case 'load-error':
        this.readyCallbacks?.reject(new Error(message.message));
        this.readyCallbacks = undefined;
        return;
      case 'result':
      case 'tensor-result':
      case 'error': {
        const pending = this.pending.get(message.id);
        if (pending === undefined) return;
        this.pending.delete(message.id);
        this.notifyIdle();
        if (message.type === 'result') pending.resolve(message.body);
        else if (message.type === 'tensor-result') pending.resolve(message.outputs);
        else {
          if (message.stack !== undefined) this.logger.warn({ event: 'handler_error', model: this.model, stack: message.stack }, message.message);
          pending.reject(new ServingError(message.code, message.message));
        }
        return;
      }
      case 'infer':
        this.forwardInfer(message.callId, message.request);
        return;
      case 'pong':
        this.pings.get(message.seq)?.(true);
        this.pings.delete(message.seq);
        return;
      case 'compared':
      case 'compare-error': {
        const pending = this.comparisons.get(message.id);
        this.comparisons.delete(message.id);
        if (message.type === 'compared') pending?.resolve({ agree: message.agree, ...(message.difference !== undefined && { difference: message.difference }) });
        else pending?.reject(new ServingError('HANDLER_FAILED', message.message));
        return;
      }
    }
  }

  private forwardInfer(callId: number, request: HandlerInferRequest): void {
    const inferRequest: InferenceRequest = {
      model: request.model,
      inputs: request.inputs,
      transferInputs: true,
      ...(request.version !== undefined && { version: request.version }),
      ...(request.routingKey !== undefined && { routingKey: request.routingKey }),
      ...(request.outputs !== undefined && { outputs: request.outputs.map((name) => ({ name })) }),
      ...(request.parameters !== undefined && { parameters: request.parameters }),
    };
    let call: Promise<InferenceResponse>;
    try {
      call = this.infer(inferRequest);
    } catch (error) {
      call = Promise.reject(error as Error);
    }
    call.then(
      (response) => {
        if (this.dead) return;
        const { tensors, transfer } = forTransfer(response.outputs, true);
        this.worker.postMessage({ type: 'infer-result', callId, outputs: tensors } satisfies ToHandlerWorker, transfer);
      },
      (error: unknown) => {
        const serving = toServingError(error);
        if (serving.code === 'INTERNAL') this.logger.error({ err: error, model: this.model, calling: request.model }, 'model call from a handler failed');
        if (this.dead) return;
        this.worker.postMessage({ type: 'infer-error', callId, code: serving.code, message: serving.message } satisfies ToHandlerWorker);
      },
    );
  }

  private fail(error: Error): void {
    if (this.readyCallbacks !== undefined) {
      this.readyCallbacks.reject(error);
      this.readyCallbacks = undefined;
    }
    if (this.dead) return;
    this.dead = true;
    this.rejectAll(new ServingError('INSTANCE_FAILED', `handler worker of model '${this.model}' failed: ${error.message}; it is being restarted`, { cause: error }));
    this.exitListener?.(error);
  }

  private rejectAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    for (const resolve of this.pings.values()) resolve(false);
    this.pings.clear();
    for (const pending of this.comparisons.values()) pending.reject(error);
    this.comparisons.clear();
    this.notifyIdle();
  }
}

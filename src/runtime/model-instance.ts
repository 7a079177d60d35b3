import { Worker } from 'node:worker_threads';
import { ServingError } from '../errors/serving-error.js';
import type { Tensor } from '../tensor/tensor.js';
import type { EngineSignature } from './engine.js';
import { forTransfer } from '../tensor/transfer.js';
import type { FromWorker, InstanceWorkerData, ToWorker } from './worker-messages.js';

const WORKER_URL = new URL('./instance-worker.js', import.meta.url);

export interface InstanceResult {
  outputs: Tensor[];
  /** When the worker started and finished running the engine (epoch ms, µs precision). */
  startedMs: number;
  endedMs: number;
}

interface Pending {
  resolve: (result: InstanceResult) => void;
  reject: (error: Error) => void;
}

/**
 * The main thread's handle on one model instance living in its own worker thread. Requests and
 * answers cross as messages; tensor buffers are moved, not copied, whenever the sender owns them.
 *
 * @example
 * const instance = await ModelInstance.start({ platform: 'onnxruntime_onnx', modelPath, intraOpThreads: 1 });
 * const { outputs } = await instance.infer(inputs, ['probabilities'], true);
 */
export class ModelInstance {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closing = false;
  private exitListener: ((error: Error) => void) | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly signature: EngineSignature,
  ) {
    worker.on('message', (message: FromWorker) => this.onMessage(message));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`worker exited with code ${code}`)));
  }

  /** Starts the worker and resolves once its session is created (or rejects with the load error). */
  static start(data: InstanceWorkerData): Promise<ModelInstance> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(WORKER_URL, { workerData: data });
      const onEarlyExit = (code: number): void =>
        reject(new Error(`model instance worker exited with code ${code} before it was ready`));
      const onEarlyError = (error: Error): void => reject(error);
      worker.once('error', onEarlyError);
      worker.once('exit', onEarlyExit);
      worker.once('message', (message: FromWorker) => {
        worker.off('error', onEarlyError);
        worker.off('exit', onEarlyExit);
        if (message.type === 'ready') resolve(new ModelInstance(worker, message.signature));
        else {
          reject(new Error(message.type === 'load-error' ? message.message : `unexpected first message '${message.type}'`));
          void worker.terminate();
        }
      });
    });
  }

  /** Requests sent to this instance and not answered yet. */
  get inflight(): number {
    return this.pending.size;
  }

  get alive(): boolean {
    return !this.closing;
  }

  /** Called once if the worker dies while it was meant to be serving. */
  onUnexpectedExit(listener: (error: Error) => void): void {
    this.exitListener = listener;
  }

  /**
   * Runs one request. With `transfer`, input buffers the tensors own whole are moved to the worker
   * (and become unusable here); otherwise they are copied.
   */
  infer(inputs: Tensor[], outputNames: string[], transfer: boolean): Promise<InstanceResult> {
    if (this.closing) return Promise.reject(new ServingError('INSTANCE_FAILED', 'model instance is shut down'));
    const id = this.nextId++;
    const prepared = forTransfer(inputs, transfer);
    const message: ToWorker = { type: 'infer', id, inputs: prepared.tensors, outputNames };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(message, prepared.transfer);
    });
  }

  /**
   * Makes the worker exit abruptly at its next message, as a crash would: requests sent after this
   * call fail with INSTANCE_FAILED and the pool restarts the instance. For chaos drills and the tests
   * that prove recovery. (Not `worker.terminate()`: terminating a worker inside onnxruntime's run()
   * makes the addon throw a C++ exception that aborts the whole process.)
   */
  kill(): void {
    this.worker.postMessage({ type: 'crash' } satisfies ToWorker);
  }

  /**
   * Asks the worker to finish what it is running, release its session and exit. Only once nothing
   * is running does a grace period start, after which a hung worker is terminated: terminating one
   * inside onnxruntime's run() would abort the process (see `kill`).
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    let hasExited = false;
    const exited = new Promise<void>((resolve) =>
      this.worker.once('exit', () => {
        hasExited = true;
        resolve();
      }),
    );
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    while (this.pending.size > 0 && !hasExited) await new Promise((resolve) => setTimeout(resolve, 20));
    const timer = setTimeout(() => void this.worker.terminate(), graceMs);
    await exited;
    clearTimeout(timer);
    this.rejectAll(new ServingError('INSTANCE_FAILED', 'model instance was shut down before it answered'));
  }

  private onMessage(message: FromWorker): void {
    if (message.type !== 'result' && message.type !== 'error') return;
    const pending = this.pending.get(message.id);
    if (pending === undefined) return;
    this.pending.delete(message.id);
    if (message.type === 'result') pending.resolve({ outputs: message.outputs, startedMs: message.startedMs, endedMs: message.endedMs });
    else pending.reject(new ServingError(message.code, message.message));
  }

  private fail(error: Error): void {
    if (this.closing) return;
    this.closing = true;
    this.rejectAll(new ServingError('INSTANCE_FAILED', `model instance failed: ${error.message}`, { cause: error }));
    this.exitListener?.(error);
  }

  private rejectAll(error: ServingError): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

import { Worker } from 'node:worker_threads';
import { ServingError } from '../errors/serving-error.js';
import type { Tensor } from '../tensor/tensor.js';
import type { EngineSignature } from './engine.js';
import { forTransfer } from '../tensor/transfer.js';
import type { FromWorker, Handoff, InstanceWorkerData, InstanceWorkerStart, ToWorker } from './worker-messages.js';
import { SharedSlots, SLOT_FREE, SLOT_RESPONSE } from './shared-slots.js';

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
  /** The shared slot the request went in, if it went in one. */
  slot?: number;
}

/** How batches cross when the config does not say (what bench/RESULTS.md "Round two" measured best). */
export const DEFAULT_HANDOFF: Handoff = 'message';
/** Slots per instance: the scheduler hands an instance one batch at a time, the second is slack. */
export const SLOT_COUNT = 2;
/** Tensor bytes per slot: a 64-row batch of 28×28 float images and its answer fit. */
export const DEFAULT_SLOT_BYTES = 1 << 20;

/**
 * The main thread's handle on one model instance living in its own worker thread. With the
 * `message` hand-off, requests and answers cross as messages and tensor buffers are moved, not
 * copied, whenever the sender owns them. With `shared`, a batch is copied into a slot of a
 * SharedArrayBuffer and the worker woken with Atomics.notify; the answer comes back the same way
 * (Atomics.waitAsync here), so no structured clone runs on either side. A batch or answer larger
 * than a slot, BYTES tensors, or a third concurrent batch fall back to messages.
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
  private readonly freeSlots: number[] = [];
  private readonly slotOwners: number[] = [];
  private watching = false;
  /** Batches sent through a shared slot and by message (the fallback), for diagnostics and tests. */
  readonly sent = { slot: 0, message: 0 };

  private constructor(
    private readonly worker: Worker,
    readonly signature: EngineSignature,
    private readonly slots: SharedSlots | undefined,
  ) {
    if (slots !== undefined) for (let slot = slots.count - 1; slot >= 0; slot--) this.freeSlots.push(slot);
    worker.on('message', (message: FromWorker) => this.onMessage(message));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`worker exited with code ${code}`)));
  }

  private static threads = 0;

  /**
   * Instance worker threads of this process that have started and not yet exited (loading, serving or
   * closing): a pool that was closed leaves none behind.
   *
   * @example
   * await pool.close(); // ModelInstance.liveThreads is back to what it was before the pool started
   */
  static get liveThreads(): number {
    return ModelInstance.threads;
  }

  /** Starts the worker and resolves once its session is created (or rejects with the load error). */
  static start(data: InstanceWorkerData): Promise<ModelInstance> {
    const slots = (data.handoff ?? DEFAULT_HANDOFF) === 'shared' ? SharedSlots.create(SLOT_COUNT, data.slotBytes ?? DEFAULT_SLOT_BYTES) : undefined;
    const start: InstanceWorkerStart = slots === undefined ? data : { ...data, slots: { buffer: slots.buffer, count: slots.count, dataBytes: slots.dataBytes } };
    return new Promise((resolve, reject) => {
      const worker = new Worker(WORKER_URL, { workerData: start });
      ModelInstance.threads++;
      worker.once('exit', () => ModelInstance.threads--);
      const onEarlyExit = (code: number): void =>
        reject(new Error(`model instance worker exited with code ${code} before it was ready`));
      const onEarlyError = (error: Error): void => reject(error);
      worker.once('error', onEarlyError);
      worker.once('exit', onEarlyExit);
      worker.once('message', (message: FromWorker) => {
        worker.off('error', onEarlyError);
        worker.off('exit', onEarlyExit);
        if (message.type === 'ready') resolve(new ModelInstance(worker, message.signature, slots));
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

  /** How batches cross to this instance's worker. */
  get handoff(): Handoff {
    return this.slots === undefined ? 'message' : 'shared';
  }

  /** Shared slots not holding a request or an unread answer (0 with the `message` hand-off). */
  get freeSlotCount(): number {
    return this.freeSlots.length;
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
    const slot = this.freeSlots.pop();
    if (slot !== undefined) {
      if (this.slots!.write(slot, id, inputs, outputNames)) {
        this.slotOwners[slot] = id;
        this.sent.slot++;
        return new Promise((resolve, reject) => {
          this.pending.set(id, { resolve, reject, slot });
          this.slots!.post(slot);
          void this.watch();
        });
      }
      this.freeSlots.push(slot);
    }
    this.sent.message++;
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
    this.slots?.orderCrash();
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
    this.slots?.orderClose();
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
    // An error, or an answer that outgrew its slot: the slot is the main thread's again.
    if (pending.slot !== undefined) this.releaseSlot(pending.slot);
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
    for (const pending of this.pending.values()) {
      if (pending.slot !== undefined) this.releaseSlot(pending.slot);
      pending.reject(error);
    }
    this.pending.clear();
    // Wakes the watcher so it sees nothing is left to wait for.
    this.slots?.ringResponse();
  }

  private releaseSlot(slot: number): void {
    this.slots!.setState(slot, SLOT_FREE);
    this.freeSlots.push(slot);
  }

  /**
   * Collects answered slots while any request sits in one, sleeping on the response bell in
   * between. One watcher per instance; it ends when no slot is busy and the next request restarts it.
   */
  private async watch(): Promise<void> {
    if (this.watching) return;
    const slots = this.slots!;
    this.watching = true;
    try {
      while (this.freeSlots.length < slots.count && !this.closingOrFailed()) {
        const seen = slots.responseBell;
        for (let slot = 0; slot < slots.count; slot++) {
          if (slots.state(slot) !== SLOT_RESPONSE) continue;
          const answer = slots.read(slot);
          const pending = this.pending.get(answer.id);
          this.releaseSlot(slot);
          if (pending === undefined || this.slotOwners[slot] !== answer.id) continue;
          this.pending.delete(answer.id);
          pending.resolve({ outputs: answer.outputs, startedMs: answer.startedMs, endedMs: answer.endedMs });
        }
        if (this.freeSlots.length === slots.count) break;
        await slots.waitForResponse(seen);
      }
    } finally {
      this.watching = false;
    }
  }

  /** True once the worker is gone or going and its requests were failed. */
  private closingOrFailed(): boolean {
    return this.closing && this.pending.size === 0;
  }
}

import { ServingError } from '../errors/serving-error.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Engine, EngineSignature } from './engine.js';
import { createOnnxEngine } from './engines/onnx/onnx-engine.js';
import type { InstanceResult } from './model-instance.js';
import type { InstanceWorkerData } from './worker-messages.js';

/**
 * A model instance on the main thread, for models whose whole batch runs in microseconds: a hop
 * to a worker and back costs more than the run itself. onnxruntime blocks the thread it runs on,
 * so each run blocks the event loop for its duration; `InstancePool` only places a model here after
 * measuring that its largest batch stays within the blocking budget. Session creation blocks too
 * (`createMs` says how long, for the load log). Same surface as `ModelInstance`.
 *
 * @example
 * const instance = await InlineInstance.start({ platform: 'onnxruntime_onnx', modelPath, intraOpThreads: 1 });
 * const { outputs } = await instance.infer(inputs, ['probabilities'], false);
 */
export class InlineInstance {
  readonly kind = 'inline';
  private running = 0;
  private closing = false;
  private exitListener: ((error: Error) => void) | undefined;
  /** The longest single run so far, in µs (what the event loop was blocked for at most). */
  longestRunUs = 0;
  private runListener: ((runUs: number) => void) | undefined;

  private constructor(
    private readonly engine: Engine,
    readonly signature: EngineSignature,
    /** How long creating the session blocked the main thread. */
    readonly createMs: number,
  ) {}

  /** Creates the session on this thread (blocking it for `createMs`). One intra-op thread: the main thread's own. */
  static async start(data: InstanceWorkerData): Promise<InlineInstance> {
    const started = performance.now();
    const engine = await createOnnxEngine(data.modelPath, { intraOpThreads: 1 });
    return new InlineInstance(engine, engine.signature, performance.now() - started);
  }

  get inflight(): number {
    return this.running;
  }

  get alive(): boolean {
    return !this.closing;
  }

  onUnexpectedExit(listener: (error: Error) => void): void {
    this.exitListener = listener;
  }

  /** Calls `listener` with how long each run blocked the thread, in µs. */
  onRun(listener: (runUs: number) => void): void {
    this.runListener = listener;
  }

  /** Inputs are read in place (a run never keeps or changes them), so `transfer` changes nothing here. */
  async infer(inputs: Tensor[], outputNames: string[], _transfer: boolean): Promise<InstanceResult> {
    if (this.closing) throw new ServingError('INSTANCE_FAILED', 'model instance is shut down');
    this.running++;
    try {
      const startedMs = performance.timeOrigin + performance.now();
      const outputs = await this.engine.run(inputs, outputNames);
      const endedMs = performance.timeOrigin + performance.now();
      const runUs = (endedMs - startedMs) * 1000;
      this.longestRunUs = Math.max(this.longestRunUs, runUs);
      this.runListener?.(runUs);
      return { outputs, startedMs, endedMs };
    } finally {
      this.running--;
    }
  }

  /** A crash drill: the instance stops serving at once and the pool replaces it, as for a worker. */
  kill(): void {
    if (this.closing) return;
    this.closing = true;
    this.exitListener?.(new Error('inline instance killed'));
    void this.release();
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.release();
  }

  /** Releases the session once the run in progress (waiting for its turn of the loop) has finished. */
  private async release(): Promise<void> {
    while (this.running > 0) await new Promise((resolve) => setTimeout(resolve, 1));
    await this.engine.close();
  }
}

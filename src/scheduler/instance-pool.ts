import { ServingError } from '../errors/serving-error.js';
import type { Logger } from '../observability/logger.js';
import type { EngineSignature } from '../runtime/engine.js';
import { ModelInstance } from '../runtime/model-instance.js';
import type { InstanceWorkerData } from '../runtime/worker-messages.js';

export interface InstancePoolOptions {
  worker: InstanceWorkerData;
  count: number;
  logger: Logger;
  /** First restart delay after a crash; doubles per consecutive failure up to 30 s. */
  restartDelayMs?: number;
  /** Called after a crashed instance was replaced (for metrics). */
  onRestart?: () => void;
}

const MAX_RESTART_DELAY_MS = 30_000;

/**
 * A model version's running instances (one worker thread each) and their lifecycle: started
 * together, a crashed one replaced with backoff. Each instance takes one batch at a time
 * (onnxruntime occupies its thread anyway), so the scheduler in front keeps the queue and hands the
 * next batch to whichever instance frees up first.
 */
export class InstancePool {
  private readonly instances: ModelInstance[] = [];
  private closed = false;
  private restartDelayMs: number;
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private capacityListener: (() => void) | undefined;
  private emptyListener: (() => void) | undefined;

  private constructor(
    private readonly options: InstancePoolOptions,
    first: ModelInstance[],
  ) {
    this.restartDelayMs = options.restartDelayMs ?? 1000;
    for (const instance of first) this.adopt(instance);
  }

  /** Starts `count` instances in parallel; if any fails to load, the others are closed and the error thrown. */
  static async start(options: InstancePoolOptions): Promise<InstancePool> {
    const results = await Promise.allSettled(
      Array.from({ length: options.count }, () => ModelInstance.start(options.worker)),
    );
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined) {
      await Promise.all(started.map((i) => i.close()));
      throw failure.reason as Error;
    }
    return new InstancePool(options, started);
  }

  get signature(): EngineSignature {
    const first = this.instances[0];
    if (first === undefined) throw new ServingError('INSTANCE_FAILED', 'no model instance is running');
    return first.signature;
  }

  /** Instances running now (fewer than configured while a crashed one restarts). */
  get size(): number {
    return this.instances.length;
  }

  /** Requests running on instances right now. */
  get inflight(): number {
    return this.instances.reduce((sum, i) => sum + i.inflight, 0);
  }

  /** The running instances (read-only view; for diagnostics and chaos drills). */
  get running(): readonly ModelInstance[] {
    return this.instances;
  }

  /** An instance with nothing running, if any. */
  idleInstance(): ModelInstance | undefined {
    return this.instances.find((i) => i.alive && i.inflight === 0);
  }

  idleCount(): number {
    return this.instances.filter((i) => i.alive && i.inflight === 0).length;
  }

  /** Called whenever an instance joins (start, restart); the scheduler re-examines its queue then. */
  onCapacity(listener: () => void): void {
    this.capacityListener = listener;
  }

  /** Called when a crash leaves no instance running, so queued requests are failed rather than left waiting. */
  onEmpty(listener: () => void): void {
    this.emptyListener = listener;
  }

  /** Closes every instance; each finishes the request it is running first. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    await Promise.all(this.instances.splice(0).map((i) => i.close()));
  }

  private adopt(instance: ModelInstance): void {
    this.instances.push(instance);
    instance.onUnexpectedExit((error) => this.replace(instance, error));
  }

  private replace(dead: ModelInstance, error: Error): void {
    const index = this.instances.indexOf(dead);
    if (index >= 0) this.instances.splice(index, 1);
    const { logger, worker } = this.options;
    logger.error({ event: 'instance_crashed', modelPath: worker.modelPath, err: error }, 'model instance crashed; restarting');
    if (this.closed) return;
    if (this.instances.length === 0) this.emptyListener?.();
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      ModelInstance.start(worker).then(
        (instance) => {
          if (this.closed) return void instance.close();
          this.restartDelayMs = this.options.restartDelayMs ?? 1000;
          this.adopt(instance);
          logger.info({ event: 'instance_restarted', modelPath: worker.modelPath }, 'model instance restarted');
          this.options.onRestart?.();
          this.capacityListener?.();
        },
        (restartError: Error) => this.replace(dead, restartError),
      );
    }, delay);
    timer.unref();
    this.restartTimers.add(timer);
  }
}

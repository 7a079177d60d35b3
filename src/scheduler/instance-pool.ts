import { ServingError } from '../errors/serving-error.js';
import type { Logger } from '../observability/logger.js';
import type { EngineSignature } from '../runtime/engine.js';
import { ModelInstance, type InstanceResult } from '../runtime/model-instance.js';
import type { InstanceWorkerData } from '../runtime/worker-messages.js';
import type { Tensor } from '../tensor/tensor.js';

/** An instance's answer plus how long the request waited in this pool's queue. */
export interface PoolResult extends InstanceResult {
  queueNs: number;
}

interface Job {
  enqueuedAt: bigint;
  inputs: Tensor[];
  outputNames: string[];
  transfer: boolean;
  resolve: (result: PoolResult) => void;
  reject: (error: Error) => void;
}

export interface InstancePoolOptions {
  worker: InstanceWorkerData;
  count: number;
  logger: Logger;
  /** First restart delay after a crash; doubles per consecutive failure up to 30 s. */
  restartDelayMs?: number;
}

const MAX_RESTART_DELAY_MS = 30_000;

const noInstance = (): ServingError =>
  new ServingError('INSTANCE_FAILED', 'no model instance is running (a crashed instance is being restarted)');

/**
 * A model version's instances and the queue in front of them. Each instance runs one request at a
 * time (onnxruntime occupies its thread anyway), so queuing here rather than in the workers lets the
 * next request go to whichever instance frees up first. A crashed instance fails only its own
 * request and is replaced.
 */
export class InstancePool {
  private readonly instances: ModelInstance[] = [];
  private readonly queue: Job[] = [];
  private closed = false;
  private restartDelayMs: number;
  private readonly restartTimers = new Set<NodeJS.Timeout>();

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

  get size(): number {
    return this.instances.length;
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  infer(inputs: Tensor[], outputNames: string[], transfer: boolean): Promise<PoolResult> {
    if (this.closed) return Promise.reject(new ServingError('MODEL_NOT_READY', 'model is unloading'));
    if (this.instances.length === 0) return Promise.reject(noInstance());
    return new Promise((resolve, reject) => {
      this.queue.push({ enqueuedAt: process.hrtime.bigint(), inputs, outputNames, transfer, resolve, reject });
      this.dispatch();
    });
  }

  /** Fails what is still queued, then closes every instance (each finishes the request it is running). */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    for (const job of this.queue.splice(0)) job.reject(new ServingError('MODEL_NOT_READY', 'model is unloading'));
    await Promise.all(this.instances.splice(0).map((i) => i.close()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const idle = this.instances.find((i) => i.alive && i.inflight === 0);
      if (idle === undefined) return;
      const job = this.queue.shift()!;
      const queueNs = Number(process.hrtime.bigint() - job.enqueuedAt);
      idle.infer(job.inputs, job.outputNames, job.transfer).then(
        (result) => {
          job.resolve({ ...result, queueNs });
          this.dispatch();
        },
        (error: Error) => {
          job.reject(error);
          this.dispatch();
        },
      );
    }
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
    // Queued requests would otherwise wait on a restart that may never succeed.
    if (this.instances.length === 0) for (const job of this.queue.splice(0)) job.reject(noInstance());
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
          this.dispatch();
        },
        (restartError: Error) => this.replace(dead, restartError),
      );
    }, delay);
    timer.unref();
    this.restartTimers.add(timer);
  }
}

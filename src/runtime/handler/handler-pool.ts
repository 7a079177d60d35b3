import type { HandlerConfig } from '../../config/handler-config.js';
import { ServingError } from '../../errors/serving-error.js';
import type { Logger } from '../../observability/logger.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ShadowComparison } from './define-handler.js';
import { HandlerInstance, type HandlerInfer, type HandlerWork } from './handler-instance.js';
import type { HandlerDescription, HandlerWorkerData, PredictPayload, PredictRouting, TensorRequest } from './handler-messages.js';

export interface HandlerPoolOptions {
  worker: HandlerWorkerData;
  config: HandlerConfig;
  infer: HandlerInfer;
  logger: Logger;
  /** First restart delay after a worker dies; doubles per consecutive failure up to 30 s. */
  restartDelayMs?: number;
}

interface Job {
  work: HandlerWork;
  resolve: (result: Uint8Array | Tensor[]) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  done: boolean;
  instance?: HandlerInstance;
  id?: number;
}

const MAX_RESTART_DELAY_MS = 30_000;

/**
 * A handler's worker threads and the queue in front of them. Each worker runs up to
 * `max_concurrency` requests at once (handlers mostly await model calls). A request that outlives
 * `timeout_ms` answers 504 and its worker is pinged: one whose thread does not answer (a busy loop,
 * a blocking call) is terminated and replaced; its other requests answer 503.
 *
 * @example
 * const pool = await HandlerPool.start({ worker, config: resolveHandlerConfig(undefined), infer, logger });
 * const body = await pool.predict({ kind: 'json', body: Buffer.from('{"text":"hi"}') }, 'req-1');
 */
export class HandlerPool {
  private readonly instances: HandlerInstance[] = [];
  private readonly queue: Job[] = [];
  private closed = false;
  private restartDelayMs: number;
  private readonly restartTimers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly options: HandlerPoolOptions,
    readonly description: HandlerDescription,
    first: HandlerInstance[],
  ) {
    this.restartDelayMs = options.restartDelayMs ?? 100;
    for (const instance of first) this.adopt(instance);
  }

  /** Starts every worker in parallel; if any fails to load, the others are stopped and its error thrown. */
  static async start(options: HandlerPoolOptions): Promise<HandlerPool> {
    const results = await Promise.allSettled(
      Array.from({ length: options.config.instanceCount }, () => HandlerInstance.start(options.worker, options.infer, options.logger)),
    );
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined || started[0]?.description === undefined) {
      await Promise.all(started.map((i) => i.terminate()));
      throw (failure?.reason as Error | undefined) ?? new Error('handler started no worker');
    }
    return new HandlerPool(options, started[0].description, started);
  }

  get size(): number {
    return this.instances.length;
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  get inflight(): number {
    return this.instances.reduce((sum, i) => sum + i.inflight, 0);
  }

  /** Runs one request through the handler; resolves with the JSON response body. `routing` steers its model calls. */
  predict(payload: PredictPayload, requestId?: string, routing?: PredictRouting): Promise<Uint8Array> {
    return this.enqueue({ kind: 'predict', payload, requestId, routing }) as Promise<Uint8Array>;
  }

  /**
   * Runs one tensor request through a tensor handler; resolves with the outputs asked for, checked
   * against its signature. With `transfer`, the inputs' buffers are moved to the worker (detached here).
   */
  infer(request: TensorRequest, transfer: boolean): Promise<Tensor[]> {
    if (this.description.mode !== 'tensor') {
      return Promise.reject(new ServingError('HANDLER_FAILED', `handler of model '${this.options.worker.model}' is a JSON handler (defineHandler): it takes no tensors`));
    }
    return this.enqueue({ kind: 'tensors', request, transfer }) as Promise<Tensor[]>;
  }

  private enqueue(work: HandlerWork): Promise<Uint8Array | Tensor[]> {
    const { config, worker } = this.options;
    if (this.closed) return Promise.reject(new ServingError('MODEL_NOT_READY', `model '${worker.model}' is unloading`));
    if (config.maxQueueSize > 0 && this.queue.length >= config.maxQueueSize) {
      return Promise.reject(
        new ServingError('QUEUE_FULL', `handler of model '${worker.model}' has ${this.queue.length} requests waiting (handler.max_queue_size)`, {
          retryAfterSeconds: 1,
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const job: Job = { work, resolve, reject, done: false, timer: undefined as unknown as NodeJS.Timeout };
      job.timer = setTimeout(() => this.timeOut(job), config.timeoutMs);
      this.queue.push(job);
      this.dispatch();
    });
  }

  /**
   * Runs the handler's `compare` (when it defines one) on a worker: shadow traffic uses it to
   * judge a shadow version's answer against the primary's. The tensors are copied to the worker.
   */
  compare(primary: Tensor[], shadow: Tensor[]): Promise<ShadowComparison> {
    let best: HandlerInstance | undefined;
    for (const instance of this.instances) if (instance.alive && (best === undefined || instance.inflight < best.inflight)) best = instance;
    if (best === undefined || this.closed) return Promise.reject(new ServingError('INSTANCE_FAILED', `no handler worker of model '${this.options.worker.model}' is running`));
    return best.compare(primary, shadow);
  }

  /** Fails what is queued, lets running requests finish (up to the timeout), then stops every worker. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    for (const job of this.queue.splice(0)) this.finish(job, new ServingError('MODEL_NOT_READY', `model '${this.options.worker.model}' is unloading`));
    await Promise.all(this.instances.splice(0).map((i) => i.close(this.options.config.timeoutMs)));
  }

  private dispatch(): void {
    const limit = this.options.config.maxConcurrency;
    while (this.queue.length > 0) {
      let best: HandlerInstance | undefined;
      for (const instance of this.instances) {
        // One under a liveness check may be stuck: new work waits for its verdict (or its replacement).
        if (!instance.alive || instance.checking || instance.inflight >= limit) continue;
        if (best === undefined || instance.inflight < best.inflight) best = instance;
      }
      if (best === undefined) return;
      this.run(this.queue.shift()!, best);
    }
  }

  private run(job: Job, instance: HandlerInstance): void {
    const { id, result } = instance.send(job.work);
    job.instance = instance;
    job.id = id;
    result.then(
      (answer) => this.finish(job, answer),
      (error: Error) => this.finish(job, error),
    );
  }

  private finish(job: Job, outcome: Uint8Array | Tensor[] | Error): void {
    if (!job.done) {
      job.done = true;
      clearTimeout(job.timer);
      if (outcome instanceof Error) job.reject(outcome);
      else job.resolve(outcome);
    }
    this.dispatch();
  }

  private timeOut(job: Job): void {
    if (job.done) return;
    const { worker, config } = this.options;
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    // Cancelled first, so the slot it frees is visible to the dispatch that finish() runs.
    if (job.instance !== undefined && job.id !== undefined) job.instance.cancel(job.id);
    this.finish(
      job,
      new ServingError(
        'DEADLINE_EXCEEDED',
        queued >= 0
          ? `handler of model '${worker.model}' was busy: the request waited ${config.timeoutMs} ms without starting (handler.timeout_ms)`
          : `handler of model '${worker.model}' did not answer within ${config.timeoutMs} ms (handler.timeout_ms)`,
      ),
    );
    if (job.instance !== undefined) void this.checkResponsive(job.instance);
  }

  /** A worker that cannot even answer a ping is stuck in synchronous code: replace it. */
  private async checkResponsive(instance: HandlerInstance): Promise<void> {
    if (instance.checking || !instance.alive) return;
    instance.checking = true;
    // A busy but healthy thread answers between two pieces of work. One still silent this long
    // after a request overran its timeout is stuck, and everything queued for it is waiting.
    const graceMs = Math.min(Math.max(this.options.config.timeoutMs / 2, 100), 1000);
    const answered = await instance.ping(graceMs);
    instance.checking = false;
    if (answered || !instance.alive) {
      this.dispatch();
      return;
    }
    const { worker, config, logger } = this.options;
    logger.error(
      { event: 'handler_blocked', model: worker.model, timeoutMs: config.timeoutMs },
      `handler of model '${worker.model}' blocked its worker thread past its timeout; restarting the worker`,
    );
    this.remove(instance);
    await instance.terminate(
      new ServingError('INSTANCE_FAILED', `handler worker of model '${worker.model}' was restarted: another request blocked its thread past handler.timeout_ms`),
    );
    this.scheduleRestart();
  }

  private adopt(instance: HandlerInstance): void {
    this.instances.push(instance);
    instance.onUnexpectedExit((error) => {
      this.options.logger.error({ event: 'handler_crashed', model: this.options.worker.model, err: error }, 'handler worker died; restarting');
      this.remove(instance);
      this.scheduleRestart();
    });
  }

  private remove(instance: HandlerInstance): void {
    const index = this.instances.indexOf(instance);
    if (index >= 0) this.instances.splice(index, 1);
  }

  private scheduleRestart(): void {
    if (this.closed) return;
    const { worker, infer, logger } = this.options;
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      HandlerInstance.start(worker, infer, logger).then(
        (instance) => {
          if (this.closed) return void instance.close(0);
          this.restartDelayMs = this.options.restartDelayMs ?? 100;
          this.adopt(instance);
          logger.info({ event: 'handler_restarted', model: worker.model }, 'handler worker restarted');
          this.dispatch();
        },
        (error: Error) => {
          logger.error({ event: 'handler_restart_failed', model: worker.model, err: error }, 'handler worker failed to restart');
          // Requests waiting for a worker would otherwise wait out their timeout on a restart that keeps failing.
          if (this.instances.length === 0) {
            for (const job of this.queue.splice(0)) {
              this.finish(job, new ServingError('INSTANCE_FAILED', `handler of model '${worker.model}' could not be restarted: ${error.message}`));
            }
          }
          this.scheduleRestart();
        },
      );
    }, delay);
    timer.unref();
    this.restartTimers.add(timer);
  }
}

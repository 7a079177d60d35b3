import { ServingError } from '../errors/serving-error.js';
import type { Logger } from '../observability/logger.js';
import type { EngineSignature } from '../runtime/engine.js';
import { InlineInstance } from '../runtime/inline-instance.js';
import { ModelInstance } from '../runtime/model-instance.js';
import type { InstanceWorkerData } from '../runtime/worker-messages.js';
import type { Tensor } from '../tensor/tensor.js';

/** Where a model's instances run: worker threads, or the main thread itself (microsecond models). */
export type Placement = 'worker' | 'inline';

/** A model instance in a worker thread or on the main thread; the scheduler does not tell them apart. */
export type Instance = ModelInstance | InlineInstance;

/** What the automatic choice measured, for the load log and the tests. */
export interface PlacementChoice {
  placement: Placement;
  /** Why: the measurements against the budget, or why none were taken. */
  reason: string;
  /** p90 of the largest batch's run in a worker, µs. */
  workerRunUs?: number;
  /** p90 of the same run on the main thread, µs (the event loop is blocked that long per batch). */
  inlineRunUs?: number;
  /** How long creating the main-thread session blocked the event loop, ms. */
  inlineCreateMs?: number;
}

/**
 * The longest a batch may block the event loop for the model to run on the main thread: far below
 * the 20 ms liveness bound, so health checks and other requests wait at most a few such runs.
 */
export const INLINE_BUDGET_US = 1000;

export interface InstancePoolOptions {
  worker: InstanceWorkerData;
  count: number;
  logger: Logger;
  /** First restart delay after a crash; doubles per consecutive failure up to 30 s. */
  restartDelayMs?: number;
  /** Called after a crashed instance was replaced (for metrics). */
  onRestart?: () => void;
  /** Where instances start (default 'worker'); `settlePlacement` may move a worker pool inline. */
  placement?: Placement;
  /**
   * How many instances must be up before `start` resolves (default: all of them). The rest start
   * one after another behind them and join as each is ready, so a cold server answers as soon as one
   * instance can, without the others' start-up competing with it for the same cores.
   */
  readyAfter?: number;
}

const MAX_RESTART_DELAY_MS = 30_000;

/**
 * A model version's running instances (one worker thread each) and their lifecycle: started
 * together, a crashed one replaced with backoff. Each instance takes one batch at a time
 * (onnxruntime occupies its thread anyway), so the scheduler in front keeps the queue and hands the
 * next batch to whichever instance frees up first.
 */
export class InstancePool {
  private readonly instances: Instance[] = [];
  private placementNow: Placement;
  private budgetUs = INLINE_BUDGET_US;
  private closed = false;
  private restartDelayMs: number;
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private capacityListener: (() => void) | undefined;
  private emptyListener: (() => void) | undefined;
  /** The instances still starting behind a pool that resolved early (`readyAfter`). */
  private lateStart: Promise<void> | undefined;
  private lateRemaining = 0;

  private constructor(
    private readonly options: InstancePoolOptions,
    first: Instance[],
    placement: Placement,
  ) {
    this.placementNow = placement;
    this.restartDelayMs = options.restartDelayMs ?? 1000;
    for (const instance of first) this.adopt(instance);
  }

  /**
   * Starts `readyAfter` (default `count`) instances in parallel and resolves once they are up; the rest
   * then start behind them. If any of the first fails to load, the others are closed and the error
   * thrown; a later one that fails is retried like a crashed instance.
   */
  static async start(options: InstancePoolOptions): Promise<InstancePool> {
    const placement = options.placement ?? 'worker';
    // The main thread is one thread: an inline pool has one instance whatever the count.
    const count = placement === 'inline' ? 1 : options.count;
    const first = Math.max(1, Math.min(count, options.readyAfter ?? count));
    const results = await Promise.allSettled(Array.from({ length: first }, () => startInstance(placement, options.worker)));
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined) {
      await Promise.all(started.map((i) => i.close()));
      throw failure.reason as Error;
    }
    const pool = new InstancePool(options, started, placement);
    if (count > first) {
      pool.lateRemaining = count - first;
      pool.lateStart = pool.startLate();
    }
    return pool;
  }

  /** Starts the remaining worker instances one at a time, each joining the pool as soon as it is up. */
  private async startLate(): Promise<void> {
    for (; this.lateRemaining > 0 && !this.closed; this.lateRemaining--) {
      try {
        const instance = await ModelInstance.start(this.options.worker);
        // Closed meanwhile, or moved onto the main thread by `settlePlacement`: not needed any more.
        if (this.closed || this.placementNow !== 'worker') {
          this.lateRemaining = 0;
          await instance.close();
          return;
        }
        this.adopt(instance);
        this.capacityListener?.();
      } catch (error) {
        this.replace(undefined, error as Error);
      }
    }
    this.lateRemaining = 0;
  }

  /** Resolves once every instance a pool started behind its first ones is up (or has failed and been retried). */
  async fullyStarted(): Promise<void> {
    await this.lateStart;
  }

  /**
   * The longest a batch may block the event loop while the pool is placed inline automatically
   * (set by `settlePlacement`). Lowering it applies from the next batch: one over twice the budget
   * moves the model back to workers.
   */
  get inlineBudgetUs(): number {
    return this.budgetUs;
  }

  set inlineBudgetUs(us: number) {
    this.budgetUs = us;
  }

  /** Where the instances run now. */
  get placement(): Placement {
    return this.placementNow;
  }

  /**
   * The automatic choice: runs `sample` (the largest batch the scheduler may form) on a worker; if
   * its p90 fits `budgetUs`, creates a main-thread session, measures the same run there, and moves
   * the pool inline when that fits too (the workers are closed). Otherwise stays on workers. Call
   * before the pool serves. Without a sample (shapes not fixed, string tensors) nothing is measured.
   */
  async settlePlacement(sample: Tensor[] | undefined, outputNames: string[], budgetUs = INLINE_BUDGET_US): Promise<PlacementChoice> {
    if (this.placementNow !== 'worker') return { placement: this.placementNow, reason: 'placement set in config' };
    // Instances still starting would share the cores with the measurement.
    await this.lateStart;
    if (sample === undefined) return { placement: 'worker', reason: 'no fixed-shape numeric sample to measure (variable dims or BYTES tensors)' };
    const worker = this.idleInstance();
    if (worker === undefined) return { placement: 'worker', reason: 'no idle instance to measure on' };
    let workerRunUs: number;
    try {
      workerRunUs = await p90RunUs(worker, sample, outputNames, budgetUs);
    } catch (error) {
      return { placement: 'worker', reason: `the sample batch failed: ${(error as Error).message}` };
    }
    if (workerRunUs > budgetUs) return { placement: 'worker', reason: `its largest batch runs ${Math.round(workerRunUs)} µs (budget ${budgetUs} µs)`, workerRunUs };
    const inline = await InlineInstance.start(this.options.worker);
    let inlineRunUs: number;
    try {
      inlineRunUs = await p90RunUs(inline, sample, outputNames, budgetUs);
    } catch (error) {
      await inline.close();
      return { placement: 'worker', reason: `the sample batch failed inline: ${(error as Error).message}`, workerRunUs };
    }
    const measured = { workerRunUs, inlineRunUs, inlineCreateMs: inline.createMs };
    if (inlineRunUs > budgetUs || this.closed) {
      await inline.close();
      return { placement: 'worker', reason: `its largest batch runs ${Math.round(inlineRunUs)} µs on the main thread (budget ${budgetUs} µs)`, ...measured };
    }
    const workers = this.instances.splice(0);
    this.placementNow = 'inline';
    this.adopt(inline);
    this.budgetUs = budgetUs;
    this.guard(inline);
    await Promise.all(workers.map((w) => w.close()));
    return { placement: 'inline', reason: `its largest batch runs ${Math.round(inlineRunUs)} µs on the main thread (budget ${budgetUs} µs)`, ...measured };
  }

  get signature(): EngineSignature {
    const first = this.instances[0];
    if (first === undefined) throw new ServingError('INSTANCE_FAILED', 'no model instance is running');
    return first.signature;
  }

  /** Instances still starting behind the first ones (see `readyAfter`). */
  get starting(): number {
    return this.lateRemaining;
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
  get running(): readonly Instance[] {
    return this.instances;
  }

  /** An instance with nothing running, if any. */
  idleInstance(): Instance | undefined {
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

  /**
   * Keeps an automatically placed inline instance within its budget: a run that blocks the loop
   * for more than twice the budget (a larger input than measured, a loaded machine) moves the model
   * back to workers. The inline instance serves until they are up, then is closed.
   */
  private guard(inline: InlineInstance): void {
    let moving = false;
    inline.onRun((runUs) => {
      const budgetUs = this.budgetUs;
      if (runUs <= budgetUs * 2 || moving || this.closed) return;
      moving = true;
      const { logger, worker, count } = this.options;
      logger.warn({ event: 'placement_changed', modelPath: worker.modelPath, placement: 'worker', runUs: Math.round(runUs), budgetUs }, 'a batch blocked the event loop past the inline budget; moving the model to worker threads');
      void Promise.all(Array.from({ length: count }, () => ModelInstance.start(worker))).then(
        async (workers) => {
          if (this.closed) return void (await Promise.all(workers.map((w) => w.close())));
          const index = this.instances.indexOf(inline);
          if (index >= 0) this.instances.splice(index, 1);
          this.placementNow = 'worker';
          for (const w of workers) this.adopt(w);
          this.capacityListener?.();
          await inline.close();
        },
        (error: Error) => logger.error({ event: 'placement_change_failed', modelPath: worker.modelPath, err: error }, 'could not start worker instances; staying inline'),
      );
    });
  }

  /** Closes every instance; each finishes the request it is running first. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    await Promise.all(this.instances.splice(0).map((i) => i.close()));
    // An instance still starting closes itself when it arrives; wait for that so no thread outlives the pool.
    await this.lateStart;
  }

  private adopt(instance: Instance): void {
    this.instances.push(instance);
    instance.onUnexpectedExit((error) => this.replace(instance, error));
  }

  /** Replaces a crashed instance, or (`dead` undefined) one that failed to start behind the first ones. */
  private replace(dead: Instance | undefined, error: Error): void {
    const index = dead === undefined ? -1 : this.instances.indexOf(dead);
    if (index >= 0) this.instances.splice(index, 1);
    const { logger, worker } = this.options;
    if (dead === undefined) logger.error({ event: 'instance_start_failed', modelPath: worker.modelPath, err: error }, 'a model instance failed to start; retrying');
    else logger.error({ event: 'instance_crashed', modelPath: worker.modelPath, err: error }, 'model instance crashed; restarting');
    if (this.closed) return;
    if (this.instances.length === 0) this.emptyListener?.();
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      startInstance(this.placementNow, worker).then(
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

function startInstance(placement: Placement, data: InstanceWorkerData): Promise<Instance> {
  return placement === 'inline' ? InlineInstance.start(data) : ModelInstance.start(data);
}

/**
 * The p90 of 25 runs of `sample` (after 5 unmeasured ones), in µs of the instance's own run time.
 * A run past 4× the budget after the first ends the measurement: a slow model is not run 30 times.
 */
async function p90RunUs(instance: Instance, sample: Tensor[], outputNames: string[], budgetUs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 30; i++) {
    const { startedMs, endedMs } = await instance.infer(sample, outputNames, false);
    const us = (endedMs - startedMs) * 1000;
    if (i >= 1 && us > budgetUs * 4) return us;
    if (i >= 5) times.push(us);
  }
  times.sort((a, b) => a - b);
  return times[Math.ceil(times.length * 0.9) - 1]!;
}

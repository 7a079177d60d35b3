import type { ModelConfig } from '../config/model-config.js';
import { ServingError } from '../errors/serving-error.js';
import type { Parameters, Tensor } from '../tensor/tensor.js';
import { concatInputs, sliceOutputs } from './batch-assembly.js';
import { systemClock, type Clock } from './clock.js';
import { DynamicBatcher, type BatchedResult, type QueuedRequest } from './dynamic-batcher.js';
import type { InstancePool } from './instance-pool.js';
import type { ModelStats } from './model-stats.js';
import { QueueWaitEstimator, type WaitEstimate } from './queue-wait-estimator.js';
import type { VersionScheduler } from './version-scheduler.js';

export interface ScheduleRequest {
  inputs: Tensor[];
  outputNames: string[];
  /** OIP parameters; `timeout` (µs) and `priority` are read here. */
  parameters?: Parameters;
  transfer: boolean;
  /** The request's sticky routing key: a graph passes it on to its steps, so they keep their versions too. */
  routingKey?: string;
  /** The transport's request id (`x-request-id`): graphs and tensor handlers pass it on to what they call. */
  requestId?: string;
}

/**
 * One model version's scheduler: the dynamic batcher's queue in front of the instance pool, with
 * the batch assembly (concat along dim 0, output views per request), the statistics, and the
 * running estimate of service time that admission by expected queue wait reads
 * (`dynamic_batching.max_queue_wait_microseconds`).
 */
export class ModelScheduler implements VersionScheduler {
  private readonly batcher: DynamicBatcher;
  /** Service time per batch (hand-off to answer back here), measured on every execution: what the queue drains at. */
  readonly waitEstimator = new QueueWaitEstimator();
  /** The instances' own run time per batch: what `auto`'s bound is taken from, unswayed by a busy event loop. */
  readonly computeEstimator = new QueueWaitEstimator();
  /** Batches running now: when each started and how long the instance was expected to take (µs, scheduler clock). */
  private readonly running = new Set<{ startedUs: number; expectedUs: number }>();

  constructor(
    private readonly config: ModelConfig,
    private readonly pool: InstancePool,
    readonly stats: ModelStats,
    private readonly clock: Clock = systemClock,
  ) {
    this.batcher = new DynamicBatcher(
      { ...config.scheduling, maxBatchSize: config.maxBatchSize, model: config.name },
      {
        idleCount: () => pool.idleCount(),
        execute: (batch, now) => this.execute(batch, now),
        // No bound (the default): no estimate on every enqueue only to compare it with infinity.
        ...(config.scheduling.maxQueueWaitUs !== 0 && { expectedWait: (ahead: { rows: number; requests: number }) => this.expectedWait(ahead) }),
      },
      clock,
    );
    pool.onCapacity(() => this.batcher.schedule());
    pool.onEmpty(() => this.batcher.failQueued(new ServingError('INSTANCE_FAILED', `every instance of model '${config.name}' crashed; restarting`)));
  }

  /** Requests waiting in the queue. */
  get queueDepth(): number {
    return this.batcher.depth;
  }

  get inflight(): number {
    return this.pool.inflight;
  }

  infer(request: ScheduleRequest): Promise<BatchedResult> {
    if (this.pool.size === 0) {
      return Promise.reject(new ServingError('INSTANCE_FAILED', `no instance of model '${this.config.name}' is running (a crashed one is restarting)`));
    }
    const now = this.clock.nowUs();
    const timeoutUs = timeoutOf(request.parameters, this.config.scheduling.defaultTimeoutUs);
    const priority = this.batcher.priorityOf(numberParameter(request.parameters, 'priority'));
    const batched = this.config.maxBatchSize > 0;
    return this.batcher.enqueue({
      inputs: request.inputs,
      outputNames: request.outputNames,
      batchSize: batched ? request.inputs[0]!.shape[0]! : 1,
      groupKey: batched ? groupKey(request.inputs, request.outputNames) : '',
      priority,
      enqueuedUs: now,
      deadlineUs: timeoutUs > 0 ? now + timeoutUs : Number.POSITIVE_INFINITY,
      transfer: request.transfer,
    });
  }

  close(): void {
    this.batcher.close();
  }

  /** The expected wait behind `ahead`, and its bound: batching models drain rows a batch at a time, others a request at a time. */
  private expectedWait(ahead: { rows: number; requests: number }): WaitEstimate {
    const batching = this.config.scheduling.dynamicBatching && this.config.maxBatchSize > 0;
    // With an instance idle the queue starts at once; otherwise it waits for what is running to end.
    let busyUs = 0;
    if (this.pool.idleCount() === 0) {
      const now = this.clock.nowUs();
      for (const batch of this.running) busyUs += Math.max(0, batch.expectedUs - (now - batch.startedUs));
    }
    return this.waitEstimator.estimate(
      batching ? ahead.rows : ahead.requests,
      batching ? this.config.maxBatchSize : 1,
      this.pool.size,
      this.config.scheduling.maxQueueWaitUs,
      busyUs,
      this.computeEstimator,
    );
  }

  private execute(batch: QueuedRequest[], dequeuedUs: number): void {
    const instance = this.pool.idleInstance()!;
    const startedMs = performance.timeOrigin + performance.now();
    const single = batch.length === 1;
    const inputs = single ? batch[0]!.inputs : concatInputs(batch);
    const rows = batch.reduce((sum, r) => sum + r.batchSize, 0);
    const unit = this.config.scheduling.dynamicBatching ? rows : 1;
    // What the instance itself should take: a batch overdue only because the main thread has not yet
    // read its answer must not keep the queue closed (under a flood of retries, that refused nearly everything).
    const running = { startedUs: dequeuedUs, expectedUs: this.computeEstimator.batchUs(unit) ?? 0 };
    this.running.add(running);
    instance.infer(inputs, batch[0]!.outputNames, single ? batch[0]!.transfer : true).then(
      (result) => {
        let perRequest: Tensor[][];
        try {
          perRequest = single ? [result.outputs] : sliceOutputs(checkRows(result.outputs, rows, this.config.name), batch.map((r) => r.batchSize));
        } catch (error) {
          for (const item of batch) item.reject(error as Error);
          return;
        }
        const endMs = performance.timeOrigin + performance.now();
        const inputNs = (result.startedMs - startedMs) * 1e6;
        const inferNs = (result.endedMs - result.startedMs) * 1e6;
        const outputNs = (endMs - result.endedMs) * 1e6;
        this.stats.recordExecution(rows, inputNs, inferNs, outputNs);
        // On the scheduler's clock, from hand-off to the answer back here: what the queue drains at.
        // A non-batching model's unit of queue is the request, whatever rows it carries.
        this.waitEstimator.record(unit, this.clock.nowUs() - dequeuedUs);
        this.computeEstimator.record(unit, (result.endedMs - result.startedMs) * 1000);
        batch.forEach((item, i) => {
          item.resolve({
            outputs: perRequest[i]!,
            queueNs: (dequeuedUs - item.enqueuedUs) * 1000,
            computeInputNs: inputNs,
            computeInferNs: inferNs,
            computeOutputNs: outputNs,
            executedBatchSize: rows,
          });
        });
      },
      (error: Error) => {
        for (const item of batch) item.reject(error);
      },
    ).finally(() => {
      this.running.delete(running);
      this.batcher.schedule();
    });
  }
}

function checkRows(outputs: Tensor[], rows: number, model: string): Tensor[] {
  for (const o of outputs) {
    if (o.shape[0] !== rows) {
      throw new ServingError('INFERENCE_FAILED', `model '${model}' returned output '${o.name}' with ${o.shape[0]} rows for a batch of ${rows}; it cannot be batched (set dynamic_batching.enable: false)`);
    }
  }
  return outputs;
}

/** Inputs group when their datatypes and non-batch dims match and the same outputs are asked for. */
function groupKey(inputs: Tensor[], outputNames: string[]): string {
  const parts = inputs.map((t) => `${t.name}:${t.datatype}:${t.shape.slice(1).join('x')}`).sort();
  return `${parts.join('|')}>${outputNames.join(',')}`;
}

function numberParameter(parameters: Parameters | undefined, name: string): number | undefined {
  const value = parameters?.[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ServingError('INVALID_INPUT', `parameter '${name}' must be a non-negative number, got ${JSON.stringify(value)}`);
  }
  return value;
}

function timeoutOf(parameters: Parameters | undefined, defaultUs: number): number {
  const requested = numberParameter(parameters, 'timeout');
  return requested === undefined || requested === 0 ? defaultUs : requested;
}

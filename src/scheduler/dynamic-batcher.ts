import type { SchedulingConfig } from '../config/model-config.js';
import { ServingError } from '../errors/serving-error.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Clock } from './clock.js';
import type { WaitEstimate } from './queue-wait-estimator.js';

/** One queued request, as the batcher sees it. */
export interface QueuedRequest {
  inputs: Tensor[];
  outputNames: string[];
  /** Rows this request contributes (dim 0); 1 for models without a batch dimension. */
  batchSize: number;
  /** Requests group only with equal keys: same input datatypes and non-batch dims, same outputs. */
  groupKey: string;
  /** 1 = highest; always within 1..levels (levels = max(1, priority_levels)). */
  priority: number;
  enqueuedUs: number;
  /** Absolute deadline in µs, or Infinity. */
  deadlineUs: number;
  /** The inputs' buffers may be moved to the worker (the request owns them). */
  transfer: boolean;
  resolve: (result: BatchedResult) => void;
  reject: (error: Error) => void;
}

export interface BatchedResult {
  outputs: Tensor[];
  queueNs: number;
  computeInputNs: number;
  computeInferNs: number;
  computeOutputNs: number;
  /** Rows in the execution this request was part of. */
  executedBatchSize: number;
}

/** Where formed batches go: model instances, or a recorder in unit tests. */
export interface BatchExecutor {
  /** How many batches could start right now (idle instances). */
  idleCount(): number;
  /** Starts a batch; calls the batcher's `schedule()` again when an instance frees up. */
  execute(batch: QueuedRequest[], dequeuedUs: number): void;
  /**
   * How long a request would wait behind `ahead` (rows, and requests, queued before it), and the
   * bound it is held to; absent: no admission by expected wait.
   */
  expectedWait?(ahead: { rows: number; requests: number }): WaitEstimate;
}

export interface BatcherOptions extends SchedulingConfig {
  /** 0: requests never group (each carries its own batch, if any). */
  maxBatchSize: number;
  model: string;
}

/**
 * Triton's dynamic batcher: gathers queued requests of one shape group until max_batch_size, a
 * preferred batch size, or until the oldest has waited max_queue_delay, and hands the batch to an
 * idle instance. Also owns the queue's policies: priority levels, deadlines (expired requests are
 * answered DEADLINE_EXCEEDED without running) and admission: QUEUE_FULL at once when full, and
 * QUEUE_WAIT_EXCEEDED at once when the work queued ahead (at its priority or higher) is expected to
 * take longer to start than the executor's bound.
 * Decisions are made only when something changes (enqueue, an instance frees, a timer fires).
 *
 * @example
 * const batcher = new DynamicBatcher({ ...config.scheduling, maxBatchSize: 64, model: 'digits' }, executor, systemClock);
 * const result = await batcher.enqueue(request);
 */
export class DynamicBatcher {
  /** One FIFO per priority level; index 0 is level 1 (highest). */
  private readonly queues: QueuedRequest[][];
  private queued = 0;
  /** Rows queued per priority level (index 0 is level 1), for the expected wait. */
  private readonly rowsQueued: number[];
  /** A wake-up for the oldest request's max_queue_delay, and one for the earliest deadline. */
  private readonly timers: Record<'delay' | 'deadline', { handle: unknown; atUs: number } | undefined> = {
    delay: undefined,
    deadline: undefined,
  };
  private closed = false;

  constructor(
    private readonly options: BatcherOptions,
    private readonly executor: BatchExecutor,
    private readonly clock: Clock,
  ) {
    this.queues = Array.from({ length: Math.max(1, options.priorityLevels) }, () => []);
    this.rowsQueued = this.queues.map(() => 0);
  }

  get depth(): number {
    return this.queued;
  }

  /**
   * The priority level a request asks for (OIP `priority` parameter; 0 or absent = default), checked
   * against the configured levels.
   */
  priorityOf(requested: number | undefined): number {
    const levels = this.options.priorityLevels;
    if (requested === undefined || requested === 0) return levels === 0 ? 1 : this.options.defaultPriorityLevel;
    if (!Number.isInteger(requested) || requested < 0 || requested > Math.max(levels, 1)) {
      throw new ServingError(
        'INVALID_INPUT',
        `parameter 'priority': ${requested} is not a priority level of model '${this.options.model}' (${levels === 0 ? 'it has none; use 0 or 1' : `1..${levels}, 1 highest`})`,
      );
    }
    return requested;
  }

  /** Queues a request (or refuses it at once when the queue is full) and resolves with its outputs. */
  enqueue(request: Omit<QueuedRequest, 'resolve' | 'reject'>): Promise<BatchedResult> {
    if (this.closed) return Promise.reject(new ServingError('MODEL_NOT_READY', `model '${this.options.model}' is unloading`));
    const limit = this.options.maxQueueSize;
    if (limit > 0 && this.queued >= limit) {
      return Promise.reject(
        ServingError.withoutStack('QUEUE_FULL', `model '${this.options.model}' has ${this.queued} requests queued (max_queue_size ${limit}); retry later`, {
          retryAfterSeconds: 1,
        }),
      );
    }
    const refusal = this.waitRefusal(request.priority);
    if (refusal !== undefined) return Promise.reject(refusal);
    return new Promise((resolve, reject) => {
      this.queues[request.priority - 1]!.push({ ...request, resolve, reject });
      this.rowsQueued[request.priority - 1]! += request.batchSize;
      this.queued++;
      this.schedule();
    });
  }

  /** QUEUE_WAIT_EXCEEDED when the work queued ahead of a request of `priority` would start it too late. */
  private waitRefusal(priority: number): ServingError | undefined {
    if (this.executor.expectedWait === undefined) return undefined;
    let rows = 0;
    let requests = 0;
    for (let level = 0; level < priority; level++) {
      rows += this.rowsQueued[level]!;
      requests += this.queues[level]!.length;
    }
    const { waitUs, boundUs } = this.executor.expectedWait({ rows, requests });
    if (!(waitUs > boundUs)) return undefined;
    return ServingError.withoutStack(
      'QUEUE_WAIT_EXCEEDED',
      `model '${this.options.model}' would keep this request about ${formatMs(waitUs)} in its queue (${rows} rows in ${requests} requests ahead of it), over its max_queue_wait of ${formatMs(boundUs)}; retry later`,
      { retryAfterSeconds: Math.max(1, Math.ceil(waitUs / 1e6)) },
    );
  }

  /** Re-examines the queue: expires deadlines, dispatches whatever batches are ready, arms timers. */
  schedule(): void {
    const now = this.clock.nowUs();
    this.expire(now);
    let waitUntil = Number.POSITIVE_INFINITY;
    while (this.queued > 0 && this.executor.idleCount() > 0) {
      const decision = this.formBatch(now);
      if (decision.kind === 'wait') {
        waitUntil = decision.untilUs;
        break;
      }
      for (const item of decision.batch) this.remove(item);
      this.executor.execute(decision.batch, now);
    }
    this.arm('delay', waitUntil);
    let earliest = Number.POSITIVE_INFINITY;
    for (const queue of this.queues) for (const item of queue) earliest = Math.min(earliest, item.deadlineUs);
    this.arm('deadline', earliest);
  }

  /** Refuses new requests and fails every queued one; running batches finish. */
  close(): void {
    this.closed = true;
    this.clearTimers();
    this.failQueued(new ServingError('MODEL_NOT_READY', `model '${this.options.model}' is unloading`));
  }

  /** Fails every queued request with `error` (the queue stays open). */
  failQueued(error: ServingError): void {
    for (const queue of this.queues) for (const item of queue.splice(0)) item.reject(error);
    this.rowsQueued.fill(0);
    this.queued = 0;
    this.clearTimers();
  }

  private formBatch(now: number): { kind: 'dispatch'; batch: QueuedRequest[] } | { kind: 'wait'; untilUs: number } {
    const head = this.head()!;
    const { maxBatchSize, dynamicBatching, preferredBatchSizes, maxQueueDelayUs } = this.options;
    if (!dynamicBatching || maxBatchSize === 0) return { kind: 'dispatch', batch: [head] };
    const batch: QueuedRequest[] = [];
    let rows = 0;
    let full = false;
    outer: for (const queue of this.queues) {
      for (const item of queue) {
        if (item.groupKey !== head.groupKey) continue;
        if (rows + item.batchSize > maxBatchSize) {
          full = true;
          break outer;
        }
        batch.push(item);
        rows += item.batchSize;
      }
    }
    if (full || rows === maxBatchSize) return { kind: 'dispatch', batch };
    // The largest preferred size that a prefix of the batch fills exactly goes now.
    for (let p = preferredBatchSizes.length - 1; p >= 0; p--) {
      const target = preferredBatchSizes[p]!;
      if (target > rows) continue;
      let sum = 0;
      let n = 0;
      while (n < batch.length && sum < target) sum += batch[n++]!.batchSize;
      if (sum === target) return { kind: 'dispatch', batch: batch.slice(0, n) };
    }
    const dueUs = head.enqueuedUs + maxQueueDelayUs;
    if (maxQueueDelayUs === 0 || now >= dueUs) return { kind: 'dispatch', batch };
    return { kind: 'wait', untilUs: dueUs };
  }

  private head(): QueuedRequest | undefined {
    for (const queue of this.queues) if (queue.length > 0) return queue[0];
    return undefined;
  }

  private remove(item: QueuedRequest): void {
    const queue = this.queues[item.priority - 1]!;
    const index = queue.indexOf(item);
    if (index >= 0) {
      queue.splice(index, 1);
      this.rowsQueued[item.priority - 1]! -= item.batchSize;
      this.queued--;
    }
  }

  private expire(now: number): void {
    for (const queue of this.queues) {
      for (let i = queue.length - 1; i >= 0; i--) {
        const item = queue[i]!;
        if (item.deadlineUs > now) continue;
        queue.splice(i, 1);
        this.rowsQueued[item.priority - 1]! -= item.batchSize;
        this.queued--;
        const waitedUs = Math.round(now - item.enqueuedUs);
        const timeoutUs = Math.round(item.deadlineUs - item.enqueuedUs);
        item.reject(
          new ServingError(
            'DEADLINE_EXCEEDED',
            `request to model '${this.options.model}' waited ${waitedUs} µs in the queue, past its timeout of ${timeoutUs} µs; it was not run`,
          ),
        );
      }
    }
  }

  /** Makes `kind`'s timer fire `schedule()` at `atUs` (Infinity: not at all), keeping one that already does. */
  private arm(kind: 'delay' | 'deadline', atUs: number): void {
    const current = this.timers[kind];
    if (current?.atUs === atUs) return;
    if (current !== undefined) this.clock.clearTimer(current.handle);
    this.timers[kind] = undefined;
    if (!Number.isFinite(atUs)) return;
    const handle = this.clock.setTimer(() => {
      this.timers[kind] = undefined;
      this.schedule();
    }, atUs - this.clock.nowUs());
    this.timers[kind] = { handle, atUs };
  }

  private clearTimers(): void {
    this.arm('delay', Number.POSITIVE_INFINITY);
    this.arm('deadline', Number.POSITIVE_INFINITY);
  }
}

/** `3.2 ms`, `850 µs`: a wait for people. */
function formatMs(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${Math.round(us)} µs`;
}

import type { HandlerPool } from '../runtime/handler/handler-pool.js';
import type { ScheduleRequest } from './model-scheduler.js';
import type { ModelStats } from './model-stats.js';
import type { ScheduledResult, VersionScheduler } from './version-scheduler.js';

/**
 * The scheduler of a tensor handler's one version: requests go to the handler's worker pool, whose
 * queue, concurrency limit and timeout (`handler` in config.yaml) apply. No dynamic batching: a
 * handler gets each request's rows as they came, and answers as many.
 */
export class TensorHandlerScheduler implements VersionScheduler {
  constructor(
    private readonly pool: HandlerPool,
    readonly stats: ModelStats,
  ) {}

  get queueDepth(): number {
    return this.pool.queueDepth;
  }

  get inflight(): number {
    return this.pool.inflight;
  }

  async infer(request: ScheduleRequest): Promise<ScheduledResult> {
    const startedMs = performance.now();
    // The handler's own model calls follow the request's sticky key, else its request id, as a JSON handler's do.
    const key = request.routingKey ?? request.requestId;
    const outputs = await this.pool.infer(
      {
        inputs: request.inputs,
        outputs: request.outputNames,
        ...(request.parameters !== undefined && { parameters: request.parameters }),
        ...(request.requestId !== undefined && { requestId: request.requestId }),
        ...(key !== undefined && { routing: { key } }),
      },
      request.transfer,
    );
    const rows = this.pool.description.signature!.maxBatchSize > 0 ? (request.inputs[0]?.shape[0] ?? 1) : 1;
    return { outputs, queueNs: 0, computeInputNs: 0, computeInferNs: (performance.now() - startedMs) * 1e6, computeOutputNs: 0, executedBatchSize: rows };
  }

  close(): void {
    // The pool belongs to the model's handler, which closes it when the model unloads.
  }
}

import type { BatchedResult } from './dynamic-batcher.js';
import type { ScheduleRequest } from './model-scheduler.js';
import type { ModelStats } from './model-stats.js';

/** How long one step of a graph took, for Server-Timing (`step.<label>;dur=…`) and the request log. */
export interface StepTiming {
  label: string;
  /** From the step's start to its answer (queue and compute of the model it called included). */
  ns: number;
  /** `error` when it failed (a Soft step the graph went on without); `skipped` is never timed. */
  outcome: 'success' | 'error';
}

/** What a version's scheduler answers: the batch's figures, and for a graph the time of each step. */
export interface ScheduledResult extends BatchedResult {
  steps?: StepTiming[];
}

/**
 * What the router sends a READY version's requests to: the dynamic batcher in front of a model's
 * instances (`ModelScheduler`), or a graph's executor, which calls its steps back through the
 * router. The router treats both alike, so validation, the response cache, the prediction log and
 * statistics apply to graphs as to models.
 */
export interface VersionScheduler {
  readonly stats: ModelStats;
  /** Requests waiting in its queue (a graph has none of its own: its steps queue). */
  readonly queueDepth: number;
  /** Requests running. */
  readonly inflight: number;
  infer(request: ScheduleRequest): Promise<ScheduledResult>;
  close(): void;
}

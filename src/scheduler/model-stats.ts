import type { ModelMetrics } from '../observability/metrics.js';

/** A Triton statistic: how many times, and how many nanoseconds in all. */
export interface StatDuration {
  count: number;
  ns: number;
}

export interface InferenceStats {
  success: StatDuration;
  fail: StatDuration;
  queue: StatDuration;
  compute_input: StatDuration;
  compute_infer: StatDuration;
  compute_output: StatDuration;
  cache_hit: StatDuration;
  cache_miss: StatDuration;
}

export interface BatchStats {
  batch_size: number;
  compute_input: StatDuration;
  compute_infer: StatDuration;
  compute_output: StatDuration;
}

/** One model version's statistics, in the shape of Triton's statistics extension. */
export interface ModelStatsSnapshot {
  name: string;
  version: string;
  /** Milliseconds since the epoch of the last inference; 0 before the first. */
  last_inference: number;
  /** Inferences performed: a request with a batch of k counts k (cache hits included, as in Triton). */
  inference_count: number;
  /** Model executions: one per batch sent to an instance. */
  execution_count: number;
  inference_stats: InferenceStats;
  batch_stats: BatchStats[];
}

const zero = (): StatDuration => ({ count: 0, ns: 0 });

function add(stat: StatDuration, ns: number, count = 1): void {
  stat.count += count;
  stat.ns += Math.round(ns);
}

/**
 * Counters for one model version. Per-request figures (queue, compute_*) are attributed to every
 * request of a batch, as Triton does; batch_stats count executions per batch size.
 */
export class ModelStats {
  private lastInference = 0;
  private inferenceCount = 0;
  private executionCount = 0;
  private readonly inference: InferenceStats = {
    success: zero(),
    fail: zero(),
    queue: zero(),
    compute_input: zero(),
    compute_infer: zero(),
    compute_output: zero(),
    cache_hit: zero(),
    cache_miss: zero(),
  };
  private readonly batches = new Map<number, BatchStats>();

  /** @param metrics Prometheus hooks for the same events, when metrics are on. */
  constructor(
    readonly name: string,
    readonly version: string,
    private readonly metrics?: ModelMetrics,
  ) {}

  /** A request answered by running the model. */
  recordSuccess(batchSize: number, totalNs: number, parts: { queueNs: number; inputNs: number; inferNs: number; outputNs: number }): void {
    add(this.inference.success, totalNs);
    add(this.inference.queue, parts.queueNs);
    add(this.inference.compute_input, parts.inputNs);
    add(this.inference.compute_infer, parts.inferNs);
    add(this.inference.compute_output, parts.outputNs);
    this.inferenceCount += batchSize;
    this.lastInference = Date.now();
    this.metrics?.queued(parts.queueNs / 1e9);
  }

  /** A request answered from the response cache. */
  recordCacheHit(batchSize: number, lookupNs: number, totalNs: number): void {
    add(this.inference.cache_hit, lookupNs);
    add(this.inference.success, totalNs);
    this.inferenceCount += batchSize;
    this.lastInference = Date.now();
    this.metrics?.cacheHit();
  }

  recordCacheMiss(lookupNs: number): void {
    add(this.inference.cache_miss, lookupNs);
    this.metrics?.cacheMiss();
  }

  recordFailure(totalNs: number): void {
    add(this.inference.fail, totalNs);
  }

  /** One execution of the model on a batch of `batchSize` rows. */
  recordExecution(batchSize: number, inputNs: number, inferNs: number, outputNs: number): void {
    this.executionCount++;
    this.metrics?.executed(batchSize, inferNs / 1e9);
    let stats = this.batches.get(batchSize);
    if (stats === undefined) {
      stats = { batch_size: batchSize, compute_input: zero(), compute_infer: zero(), compute_output: zero() };
      this.batches.set(batchSize, stats);
    }
    add(stats.compute_input, inputNs);
    add(stats.compute_infer, inferNs);
    add(stats.compute_output, outputNs);
  }

  snapshot(): ModelStatsSnapshot {
    const copy = (s: StatDuration): StatDuration => ({ count: s.count, ns: s.ns });
    const inference = Object.fromEntries(Object.entries(this.inference).map(([k, v]) => [k, copy(v)])) as unknown as InferenceStats;
    return {
      name: this.name,
      version: this.version,
      last_inference: this.lastInference,
      inference_count: this.inferenceCount,
      execution_count: this.executionCount,
      inference_stats: inference,
      batch_stats: [...this.batches.values()]
        .sort((a, b) => a.batch_size - b.batch_size)
        .map((b) => ({
          batch_size: b.batch_size,
          compute_input: copy(b.compute_input),
          compute_infer: copy(b.compute_infer),
          compute_output: copy(b.compute_output),
        })),
    };
  }
}

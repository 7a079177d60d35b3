/**
 * The least `auto` bound. A refused client comes back after Retry-After (at least a second), so
 * refusing to save it a few milliseconds of queue costs it far more than it saves; and microsecond
 * models (whose batch time is mostly thread hops) would otherwise refuse small bursts.
 */
export const AUTO_MIN_QUEUE_WAIT_US = 10_000;

/**
 * Weight of the newest batch in the running averages. Bad news is believed at once, good news slowly:
 * a batch slower than predicted (a loaded machine, a busy event loop) moves the estimate half way,
 * a faster one by a twentieth, so admission errs towards refusing while service times rise.
 */
const SLOWER_WEIGHT = 0.5;
const FASTER_WEIGHT = 0.05;

/** What the estimator expects of a request joining the queue now. */
export interface WaitEstimate {
  /** Expected µs before the request starts running. */
  waitUs: number;
  /** The bound it is held to (µs); Infinity when there is none (or nothing is measured yet under `auto`). */
  boundUs: number;
}

/**
 * A running estimate of how long a model's instances take for a batch of k rows, and from it how long a
 * request would wait behind the rows queued ahead of it. Cheap enough to ask on every request: a few
 * running averages and multiplications, no history kept.
 *
 * Service time is how long an instance is busy with a batch as the scheduler sees it: from the hand-off
 * to the answer being back on the main thread, so the thread hops and a busy event loop count. A batch
 * of k rows is fitted as `fixed + perRow × k` (exponentially weighted least squares), because a batching
 * model drains many queued rows per batch: under overload its batches are full, and a queue of R rows
 * is about R ÷ max_batch_size batches. Until batches of different sizes have been seen the per-row part
 * is unknown and taken as 0 (a burst from idle is not refused for rows that will share one batch).
 * Slower batches weigh more than faster ones (see SLOWER_WEIGHT): the estimate follows a slowdown
 * within a batch or two, a speed-up within some tens.
 *
 * @example
 * const estimator = new QueueWaitEstimator();
 * estimator.record(1, 1000);
 * estimator.record(33, 5000); // a batch of 33 rows took 5 ms
 * estimator.estimate(128, 32, 2, 'auto').waitUs; // 4 batches of 32 ahead (4.875 ms each) on 2 instances: 9750 µs
 */
export class QueueWaitEstimator {
  /** Exponentially weighted means of k, t, k² and k·t over the batches seen (k rows, t µs). */
  #k = 0;
  #t = 0;
  #kk = 0;
  #kt = 0;
  #batches = 0;

  /** Batches measured so far. */
  get batches(): number {
    return this.#batches;
  }

  /** One batch of `rows` rows kept an instance busy for `serviceUs`. */
  record(rows: number, serviceUs: number): void {
    if (!(rows > 0) || !(serviceUs >= 0) || !Number.isFinite(serviceUs)) return;
    // The first batch is the whole estimate; later ones move it by their weight.
    const predicted = this.batchUs(rows);
    const w = predicted === undefined ? 1 : serviceUs > predicted ? SLOWER_WEIGHT : FASTER_WEIGHT;
    this.#batches++;
    this.#k += w * (rows - this.#k);
    this.#t += w * (serviceUs - this.#t);
    this.#kk += w * (rows * rows - this.#kk);
    this.#kt += w * (rows * serviceUs - this.#kt);
  }

  /** Expected µs for an instance to run a batch of `rows` rows; undefined before the first batch. */
  batchUs(rows: number): number | undefined {
    if (this.#batches === 0) return undefined;
    const variance = this.#kk - this.#k * this.#k;
    // Sizes that hardly varied say nothing of the slope: every batch costs the average.
    if (variance < 0.25) return this.#t;
    const perRow = Math.max(0, (this.#kt - this.#k * this.#t) / variance);
    const fixed = this.#t - perRow * this.#k;
    // A fit through noisy points can cross zero below the sizes seen; a batch never costs less than nothing.
    return fixed >= 0 ? fixed + perRow * rows : (this.#t / this.#k) * rows;
  }

  /**
   * The expected wait of a request that finds `rowsAhead` rows queued before it, with batches of at
   * most `rowsPerBatch` rows (1 for a model that does not batch) drained by `instances` instances,
   * held to `maxQueueWaitUs` (µs, 0 = none, `auto` = one full batch of `autoBasis`, at least AUTO_MIN_QUEUE_WAIT_US), while the running
   * batches still need `busyUs` in all (0 when an instance is idle). Rows that fit in the batch the
   * request itself will join cost nothing: only whole batches ahead are counted. Before any batch has
   * run nothing is known of the queue, so only `busyUs` counts. `auto` takes its full batch from
   * `autoBasis` when given: a fit of the instances' own run times, which a congested event loop does
   * not inflate (a bound that grew with congestion would admit more exactly when waits are longest).
   */
  estimate(rowsAhead: number, rowsPerBatch: number, instances: number, maxQueueWaitUs: number | 'auto', busyUs = 0, autoBasis: QueueWaitEstimator = this): WaitEstimate {
    const perBatch = Math.max(1, rowsPerBatch);
    const batchesAhead = Math.floor(Math.max(0, rowsAhead) / perBatch);
    const fullBatchUs = this.batchUs(perBatch);
    const queuedUs = fullBatchUs === undefined ? 0 : batchesAhead * fullBatchUs;
    const waitUs = (queuedUs + Math.max(0, busyUs)) / Math.max(1, instances);
    return { waitUs, boundUs: this.boundUs(maxQueueWaitUs, autoBasis.batchUs(perBatch)) };
  }

  private boundUs(maxQueueWaitUs: number | 'auto', fullBatchUs: number | undefined): number {
    if (maxQueueWaitUs !== 'auto') return maxQueueWaitUs > 0 ? maxQueueWaitUs : Number.POSITIVE_INFINITY;
    return fullBatchUs === undefined ? Number.POSITIVE_INFINITY : Math.max(AUTO_MIN_QUEUE_WAIT_US, fullBatchUs);
  }
}

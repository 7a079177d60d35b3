/**
 * The on-device latency budget a bundle was built with (`slipway edge --latency-budget-ms`): the
 * median of the last `window` on-device calls is compared with it once that many calls are in, so
 * one slow call (a first run, a garbage collection) does not send the page to the server but a
 * device that is steadily too slow does.
 *
 * @example
 * const budget = new LatencyBudget(20, 5);
 * for (const ms of [31, 28, 40, 25, 33]) budget.record(ms);
 * budget.exceeded(); // 'on-device latency is over its budget: median 31.0 ms over the last 5 calls, budget 20 ms'
 */
export class LatencyBudget {
  private readonly recent: number[] = [];

  constructor(
    /** Milliseconds; undefined: no budget. */
    readonly budgetMs: number | undefined,
    /** Calls the median is taken over. */
    readonly window: number,
  ) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`LatencyBudget: window must be a positive integer, got ${window}`);
    if (budgetMs !== undefined && !(budgetMs > 0)) throw new RangeError(`LatencyBudget: budget must be a positive number of milliseconds, got ${budgetMs}`);
  }

  /** Records one on-device call's latency. */
  record(ms: number): void {
    this.recent.push(ms);
    if (this.recent.length > this.window) this.recent.shift();
  }

  /** The median of the last `window` calls, once there are that many. */
  median(): number | undefined {
    if (this.recent.length < this.window) return undefined;
    const sorted = [...this.recent].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  }

  /** Why the device is too slow, or undefined while it keeps to the budget (or there is none). */
  exceeded(): string | undefined {
    if (this.budgetMs === undefined) return undefined;
    const median = this.median();
    if (median === undefined || median <= this.budgetMs) return undefined;
    return `on-device latency is over its budget: median ${median.toFixed(1)} ms over the last ${this.window} calls, budget ${this.budgetMs} ms`;
  }
}

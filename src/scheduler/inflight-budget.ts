/**
 * The process-wide budget of memory held by requests in flight (their bodies, what they decode
 * into, their outputs and answers), from admission until the answer is sent. The budget, not the queue length, is what keeps a
 * burst of large requests from taking the process past its memory limit: a queue of 64 requests of
 * 1 KB is nothing, four of 60 MB are gigabytes once decoded.
 */
export class InflightBudget {
  #inUseBytes = 0;

  /** @param limitBytes bytes in flight at most; 0 admits everything (the budget only counts). */
  constructor(readonly limitBytes: number) {}

  get inUseBytes(): number {
    return this.#inUseBytes;
  }

  /**
   * Takes `bytes` from the budget when they fit. A request alone is always admitted (the body limit
   * bounds it), so a budget below the body limit never refuses everything.
   */
  tryAcquire(bytes: number): boolean {
    if (this.limitBytes > 0 && this.#inUseBytes > 0 && this.#inUseBytes + bytes > this.limitBytes) return false;
    this.#inUseBytes += bytes;
    return true;
  }

  /** Counts bytes an admitted request grew by (its decoded tensors): they are held, refused or not. */
  add(bytes: number): void {
    this.#inUseBytes += bytes;
  }

  release(bytes: number): void {
    this.#inUseBytes = Math.max(0, this.#inUseBytes - bytes);
  }
}

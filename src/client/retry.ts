/** How a client retries calls the server could not take (UNAVAILABLE: not ready, draining, no connection). */
export interface RetryOptions {
  /** Retries after the first attempt (default 3; 0 turns retrying off). */
  retries?: number;
  /** First backoff in ms; each retry doubles it, with full jitter (default 100). */
  backoffMs?: number;
  /** Longest single backoff in ms (default 2000). */
  maxBackoffMs?: number;
}

/**
 * Runs `attempt` until it succeeds, `retryable` says no, or the retries are spent. Backoff is
 * exponential with full jitter, so many clients retrying at once do not arrive together; a server's
 * Retry-After (given as `retryAfterMs`) is a floor.
 */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  retryable: (error: unknown) => { retry: boolean; retryAfterMs?: number },
  options: RetryOptions,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<T> {
  const retries = options.retries ?? 3;
  const base = options.backoffMs ?? 100;
  const cap = options.maxBackoffMs ?? 2000;
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      const verdict = retryable(error);
      if (!verdict.retry || i >= retries) throw error;
      const jitter = Math.random() * Math.min(cap, base * 2 ** i);
      await sleep(Math.max(jitter, Math.min(verdict.retryAfterMs ?? 0, cap)));
    }
  }
}

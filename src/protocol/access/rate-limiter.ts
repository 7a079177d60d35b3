/** A rate: `ratePerSecond` tokens flow into each client's bucket, which holds at most `burst`. */
export interface RateLimit {
  ratePerSecond: number;
  burst: number;
}

/** One decision, with what the `RateLimit-*` headers and Retry-After say. */
export interface RateDecision {
  allowed: boolean;
  /** The bucket's size (RateLimit-Limit). */
  limit: number;
  /** Whole requests left now (RateLimit-Remaining). */
  remaining: number;
  /** Seconds until the bucket is full again (RateLimit-Reset). */
  resetSeconds: number;
  /** When refused: seconds until one request is allowed (Retry-After). */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per client (an API key's id, or an address when no key is presented). Buckets are
 * kept for at most `maxClients` clients, least recently seen dropped first: a dropped bucket is a
 * full one, which is what an idle client would have by then anyway.
 *
 * @example
 * const limiter = new RateLimiter({ ratePerSecond: 10, burst: 20 });
 * if (!limiter.take('ip:10.0.0.7').allowed) reply.code(429);
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly limit: RateLimit,
    private readonly nowMs: () => number = () => performance.now(),
    private readonly maxClients = 100_000,
  ) {
    if (!(limit.ratePerSecond > 0) || !(limit.burst >= 1)) throw new RangeError('a rate limit needs ratePerSecond > 0 and burst >= 1');
  }

  /** Takes one token from `client`'s bucket if it has one. */
  take(client: string): RateDecision {
    const { ratePerSecond, burst } = this.limit;
    const now = this.nowMs();
    const bucket = this.buckets.get(client) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * ratePerSecond);
    bucket.at = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    // Re-inserted so the Map's order is least recently seen first.
    this.buckets.delete(client);
    this.buckets.set(client, bucket);
    if (this.buckets.size > this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
    return {
      allowed,
      limit: burst,
      remaining: Math.floor(bucket.tokens),
      resetSeconds: Math.ceil((burst - bucket.tokens) / ratePerSecond),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerSecond)),
    };
  }

  /** Clients with a bucket now (for tests and metrics). */
  get clients(): number {
    return this.buckets.size;
  }
}

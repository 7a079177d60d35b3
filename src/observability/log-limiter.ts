/** What `LogLimiter.admit` decided about one event. */
export interface LogAdmission {
  /** Whether to write this event's line. */
  log: boolean;
  /** When logging: how many events of this key were dropped since its last written line. */
  suppressed: number;
}

export interface LogLimiterOptions {
  /** Lines written per key in each interval; the rest are counted, not written. */
  linesPerInterval: number;
  intervalMs: number;
  /** Called once per dropped line (a metric counter), with the key. */
  onSuppressed?: (key: string) => void;
  /** Milliseconds clock (tests pass a fake one). */
  now?: () => number;
}

/**
 * Bounds how many lines a kind of event may write: clients choose how often they cause an error
 * (`timeout: 1`, a flood of bad requests), so logging each one lets any client fill the disk. Each
 * key gets `linesPerInterval` lines per interval; the first line written after a quiet spell says how
 * many were dropped, so the log still tells how often it happened.
 *
 * @example
 * const limiter = new LogLimiter({ linesPerInterval: 1, intervalMs: 10_000 });
 * const { log, suppressed } = limiter.admit('DEADLINE_EXCEEDED');
 * if (log) logger.warn({ code: 'DEADLINE_EXCEEDED', suppressed }, 'deadline exceeded');
 */
export class LogLimiter {
  private readonly windows = new Map<string, { startMs: number; written: number; dropped: number }>();
  private readonly linesPerInterval: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly onSuppressed: ((key: string) => void) | undefined;

  constructor(options: LogLimiterOptions) {
    this.linesPerInterval = options.linesPerInterval;
    this.intervalMs = options.intervalMs;
    this.now = options.now ?? Date.now;
    this.onSuppressed = options.onSuppressed;
  }

  admit(key: string): LogAdmission {
    const now = this.now();
    let window = this.windows.get(key);
    if (window === undefined) {
      // Keys are error codes and route kinds (a bounded set), but keep the map bounded anyway.
      if (this.windows.size >= 1000) this.windows.clear();
      window = { startMs: now, written: 0, dropped: 0 };
      this.windows.set(key, window);
    } else if (now - window.startMs >= this.intervalMs) {
      window.startMs = now;
      window.written = 0;
    }
    if (window.written < this.linesPerInterval) {
      window.written++;
      const suppressed = window.dropped;
      window.dropped = 0;
      return { log: true, suppressed };
    }
    window.dropped++;
    this.onSuppressed?.(key);
    return { log: false, suppressed: 0 };
  }
}

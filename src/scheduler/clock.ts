/** Time as the scheduler sees it; injected so batching decisions are tested on a fake clock. */
export interface Clock {
  /** Monotonic microseconds. */
  nowUs(): number;
  /** Calls `fn` after `delayUs` (real timers round up to whole milliseconds). */
  setTimer(fn: () => void, delayUs: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  nowUs: () => performance.now() * 1000,
  setTimer: (fn, delayUs) => {
    const timer = setTimeout(fn, Math.max(0, delayUs / 1000));
    // A pending batch delay or deadline alone must not keep a process alive.
    timer.unref();
    return timer;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

import { Cron } from 'croner';
import { ServingError } from '../errors/serving-error.js';

/** Wall-clock time and timers, injected so schedules are tested on a fake clock. */
export interface ScheduleClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemScheduleClock: ScheduleClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

// setTimeout cannot wait longer than 2^31-1 ms (about 24.8 days); longer waits are taken in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ScheduleEvents {
  /** A run is starting for the tick at `scheduledAt`. */
  onStart?(scheduledAt: Date): void;
  /** The tick at `scheduledAt` was skipped because the run that started at `runningSince` is still going. */
  onSkip?(scheduledAt: Date, runningSince: Date): void;
  /** A run ended (its own errors are the job's to report; this sees what escaped it). */
  onEnd?(scheduledAt: Date, error: unknown): void;
}

/**
 * Runs a job on a cron schedule in this process, never overlapping itself: a tick that comes while
 * the previous run is still going is skipped (Kubernetes' `concurrencyPolicy: Forbid`), not queued,
 * so a slow run cannot pile up a backlog. croner reads the cron expression (5 or 6 fields, and
 * nicknames such as `@hourly`); the timers are our own so the clock can be faked.
 *
 * @example
 * const schedule = new BatchSchedule('0 * * * *', async () => { await runBatchJob(slipway, options); });
 * schedule.start();
 */
export class BatchSchedule {
  private readonly cron: Cron;
  private timer: unknown;
  private running: { since: Date; done: Promise<void> } | undefined;
  private stopped = true;
  private armedFor: Date | undefined;

  constructor(
    readonly expression: string,
    private readonly job: (scheduledAt: Date) => Promise<void>,
    private readonly options: { timezone?: string; clock?: ScheduleClock; events?: ScheduleEvents } = {},
  ) {
    try {
      this.cron = new Cron(expression, { paused: true, ...(options.timezone !== undefined && { timezone: options.timezone }) });
    } catch (error) {
      throw new ServingError('CONFIG_INVALID', `--cron '${expression}': ${(error as Error).message}`);
    }
    if (this.cron.nextRun() === null) throw new ServingError('CONFIG_INVALID', `--cron '${expression}' never fires`);
  }

  private get clock(): ScheduleClock {
    return this.options.clock ?? systemScheduleClock;
  }

  /** When the next tick is due (undefined when stopped). */
  nextRunAt(): Date | undefined {
    return this.armedFor;
  }

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** Starts waiting for ticks; with `runNow`, also runs once right away. */
  start(runNow = false): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (runNow) this.fire(new Date(this.clock.now()));
    this.arm(new Date(this.clock.now()));
  }

  /** Stops scheduling and resolves when the run in progress (if any) has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.armedFor = undefined;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.done;
  }

  private arm(after: Date): void {
    if (this.stopped) return;
    const next = this.cron.nextRun(after);
    if (next === null) {
      this.armedFor = undefined;
      return;
    }
    this.armedFor = next;
    this.wait(next);
  }

  private wait(due: Date): void {
    const delay = due.getTime() - this.clock.now();
    if (delay > MAX_TIMER_MS) {
      this.timer = this.clock.setTimeout(() => this.wait(due), MAX_TIMER_MS);
      return;
    }
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      this.fire(due);
      // The next tick after this one, and never one in the past if the timer fired late.
      this.arm(new Date(Math.max(due.getTime(), this.clock.now())));
    }, Math.max(0, delay));
  }

  private fire(scheduledAt: Date): void {
    if (this.running !== undefined) {
      this.options.events?.onSkip?.(scheduledAt, this.running.since);
      return;
    }
    this.options.events?.onStart?.(scheduledAt);
    const since = new Date(this.clock.now());
    const done = Promise.resolve()
      .then(() => this.job(scheduledAt))
      .then(
        () => this.options.events?.onEnd?.(scheduledAt, undefined),
        (error: unknown) => this.options.events?.onEnd?.(scheduledAt, error),
      )
      .finally(() => {
        this.running = undefined;
      });
    this.running = { since, done };
  }
}

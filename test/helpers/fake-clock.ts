import type { Clock } from '../../src/scheduler/clock.js';

/** A clock that moves only when told: `advance(us)` fires every timer that falls due, in order. */
export class FakeClock implements Clock {
  private now = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { atUs: number; fn: () => void }>();

  nowUs(): number {
    return this.now;
  }

  setTimer(fn: () => void, delayUs: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { atUs: this.now + Math.max(0, delayUs), fn });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Timers still armed. */
  get pending(): number {
    return this.timers.size;
  }

  advance(us: number): void {
    const target = this.now + us;
    for (;;) {
      let next: [number, { atUs: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].atUs <= target && (next === undefined || entry[1].atUs < next[1].atUs)) next = entry;
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.now = next[1].atUs;
      next[1].fn();
    }
    this.now = target;
  }
}

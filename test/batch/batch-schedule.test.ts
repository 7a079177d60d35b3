import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchSchedule, type ScheduleClock } from '../../src/batch/batch-schedule.js';
import { parseDuration } from '../../src/config/duration.js';
import { assessTables, statusExitCode } from '../../src/batch/staleness.js';
import type { RunRecord } from '../../src/batch/sinks/batch-store.js';

/** Wall-clock time that moves only when told; due timers fire in order. */
class FakeWallClock implements ScheduleClock {
  private id = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  constructor(private time: number) {}
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    this.timers.set(++this.id, { at: this.time + ms, fn });
    return this.id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  /** Moves time forward, firing timers as they fall due, and lets the jobs' promises settle. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].fn();
      await settle();
    }
    this.time = target;
    await settle();
  }
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

const deferred = (): { promise: Promise<void>; resolve: () => void } => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

const MINUTE = 60_000;
const START = Date.UTC(2026, 0, 1, 12, 0, 30); // 30 s past a minute

describe('BatchSchedule (fake clock)', () => {
  test('fires on the cron ticks and never runs the job twice at once: a tick during a run is skipped', async () => {
    const clock = new FakeWallClock(START);
    const runs: Array<{ at: string; done: ReturnType<typeof deferred> }> = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const skipped: string[] = [];
    const schedule = new BatchSchedule(
      '* * * * *',
      async (at) => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        const done = deferred();
        runs.push({ at: at.toISOString(), done });
        await done.promise;
        concurrent--;
      },
      { clock, timezone: 'UTC', events: { onSkip: (at) => skipped.push(at.toISOString()) } },
    );
    schedule.start();
    assert.equal(schedule.nextRunAt()?.toISOString(), '2026-01-01T12:01:00.000Z');
    await clock.advance(29_000);
    assert.equal(runs.length, 0, 'nothing before the first tick');
    await clock.advance(1_000);
    assert.deepEqual(runs.map((r) => r.at), ['2026-01-01T12:01:00.000Z']);
    // The run takes two and a half minutes: the 12:02 and 12:03 ticks find it still going.
    await clock.advance(2 * MINUTE + 30_000);
    assert.deepEqual(skipped, ['2026-01-01T12:02:00.000Z', '2026-01-01T12:03:00.000Z']);
    assert.equal(runs.length, 1);
    runs[0]!.done.resolve();
    await settle();
    assert.equal(schedule.isRunning, false);
    await clock.advance(30_000);
    assert.deepEqual(runs.map((r) => r.at), ['2026-01-01T12:01:00.000Z', '2026-01-01T12:04:00.000Z']);
    assert.equal(maxConcurrent, 1);
    runs[1]!.done.resolve();
    await schedule.stop();
    assert.equal(clock.pending, 0, 'stopping clears the timer');
    await clock.advance(10 * MINUTE);
    assert.equal(runs.length, 2, 'no run after stop');
  });

  test('a failing run does not stop the schedule; --run-now runs once at start', async () => {
    const clock = new FakeWallClock(START);
    const errors: unknown[] = [];
    let calls = 0;
    const schedule = new BatchSchedule(
      '*/5 * * * *',
      async () => {
        calls++;
        throw new Error('database down');
      },
      { clock, timezone: 'UTC', events: { onEnd: (_at, error) => errors.push(error) } },
    );
    schedule.start(true);
    await settle();
    assert.equal(calls, 1);
    await clock.advance(15 * MINUTE);
    assert.equal(calls, 4, '12:00:30 (now), 12:05, 12:10, 12:15');
    assert.equal(errors.length, 4);
    assert.match((errors[0] as Error).message, /database down/);
    await schedule.stop();
  });

  test('a time zone moves the ticks; a bad expression is refused with the flag named', () => {
    const clock = new FakeWallClock(Date.UTC(2026, 5, 1, 0, 0, 0));
    const paris = new BatchSchedule('0 9 * * *', async () => undefined, { clock, timezone: 'Europe/Paris' });
    paris.start();
    assert.equal(paris.nextRunAt()?.toISOString(), '2026-06-01T07:00:00.000Z');
    void paris.stop();
    assert.throws(() => new BatchSchedule('every hour', async () => undefined), /--cron 'every hour'/);
  });
});

describe('staleness', () => {
  const run = (over: Partial<RunRecord>): RunRecord => ({
    id: 'r',
    job: 't',
    table: 't',
    model: 'digits',
    modelVersion: '1',
    input: 'x.csv',
    keyColumn: 'id',
    status: 'succeeded',
    startedAt: new Date(0),
    finishedAt: new Date(0),
    heartbeatAt: new Date(0),
    rowsRead: 10,
    rowsPredicted: 10,
    rowsRejected: 0,
    error: undefined,
    checkpoint: { position: 10 },
    fingerprint: '',
    spec: '',
    owner: 'h:1:a',
    ...over,
  });
  const HOUR = 3_600_000;
  const now = 10 * HOUR;

  test('fresh, stale, failed, never succeeded, and a run whose owner died', () => {
    const ok = run({ finishedAt: new Date(now - HOUR) });
    const old = run({ finishedAt: new Date(now - 3 * HOUR) });
    const failed = run({ id: 'f', status: 'failed', error: 'boom', finishedAt: new Date(now - 60_000) });
    const dead = run({ id: 'd', status: 'running', finishedAt: undefined, heartbeatAt: new Date(now - 5 * 60_000) });
    const alive = run({ id: 'a', status: 'running', finishedAt: undefined, heartbeatAt: new Date(now - 1_000) });
    const [fresh, stale, broken, never, interrupted, running] = assessTables(
      [
        { table: 'fresh', last: ok, lastSuccess: ok },
        { table: 'stale', last: old, lastSuccess: old },
        { table: 'broken', last: failed, lastSuccess: ok },
        { table: 'never', last: failed, lastSuccess: undefined },
        { table: 'dead', last: dead, lastSuccess: ok },
        { table: 'running', last: alive, lastSuccess: ok },
      ],
      now,
      2 * HOUR,
    );
    assert.equal(fresh!.state, 'ok');
    assert.equal(fresh!.age_seconds, 3600);
    assert.equal(stale!.state, 'stale');
    assert.equal(broken!.state, 'failed');
    assert.match(broken!.problems[0]!, /the last run \(f\) failed: boom/);
    assert.equal(never!.state, 'failed');
    assert.equal(never!.age_seconds, null);
    assert.equal(interrupted!.state, 'failed');
    assert.equal(interrupted!.last_run.status, 'interrupted');
    assert.equal(running!.state, 'ok');
    assert.equal(running!.last_run.status, 'running');
    assert.equal(statusExitCode([fresh!, running!]), 0);
    assert.equal(statusExitCode([fresh!, stale!]), 1);
    assert.equal(statusExitCode([stale!, broken!]), 3);
    assert.equal(statusExitCode([]), 1);
  });

  test('durations', () => {
    assert.equal(parseDuration('2h'), 2 * HOUR);
    assert.equal(parseDuration('1h30m'), 1.5 * HOUR);
    assert.equal(parseDuration('45s'), 45_000);
    assert.equal(parseDuration('1d'), 24 * HOUR);
    assert.equal(parseDuration('2 hours'), undefined);
    assert.equal(parseDuration(''), undefined);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ModelConfig, SchedulingConfig } from '../../src/config/model-config.js';
import { ServingError } from '../../src/errors/serving-error.js';
import type { InstanceResult } from '../../src/runtime/model-instance.js';
import type { InstancePool } from '../../src/scheduler/instance-pool.js';
import { ModelScheduler } from '../../src/scheduler/model-scheduler.js';
import { ModelStats } from '../../src/scheduler/model-stats.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** One instance whose runs end when the test says, so service time is whatever the fake clock shows. */
class FakePool {
  running: { rows: number; finish: () => void } | undefined;
  readonly size = 1;
  get inflight(): number {
    return this.running === undefined ? 0 : 1;
  }
  idleCount(): number {
    return this.running === undefined ? 1 : 0;
  }
  /** Of each run's time, the share the instance itself reports (the rest: hops and a busy main thread). */
  computeShare = 1;
  constructor(private readonly clock: FakeClock) {}
  idleInstance() {
    return {
      infer: (inputs: Tensor[]): Promise<InstanceResult> =>
        new Promise((resolve) => {
          const rows = inputs[0]!.shape[0]!;
          const startedMs = this.clock.nowUs() / 1000;
          this.running = {
            rows,
            finish: () => {
              this.running = undefined;
              const endedMs = startedMs + (this.clock.nowUs() / 1000 - startedMs) * this.computeShare;
              resolve({ outputs: [{ name: 'y', datatype: 'FP32', shape: [rows, 1], data: new Float32Array(rows) }], startedMs, endedMs });
            },
          };
        }),
    };
  }
  onCapacity(): void {}
  onEmpty(): void {}
}

function scheduler(scheduling: Partial<SchedulingConfig>, maxBatchSize = 4) {
  const clock = new FakeClock();
  const pool = new FakePool(clock);
  const config = {
    name: 'm',
    maxBatchSize,
    scheduling: { dynamicBatching: true, preferredBatchSizes: [], maxQueueDelayUs: 0, maxQueueSize: 0, defaultTimeoutUs: 0, maxQueueWaitUs: 'auto', priorityLevels: 0, defaultPriorityLevel: 0, ...scheduling },
  } as unknown as ModelConfig;
  const s = new ModelScheduler(config, pool as unknown as InstancePool, new ModelStats('m', '1'), clock);
  const infer = (rows = 1) =>
    s.infer({ inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 1], data: new Float32Array(rows) }], outputNames: ['y'], transfer: false });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  /** Lets the running batch take `us` on the fake clock, then ends it. */
  const run = async (us: number) => {
    clock.advance(us);
    pool.running!.finish();
    await settle();
  };
  return { s, clock, pool, infer, run, settle };
}

describe('ModelScheduler admission by expected queue wait (fake clock)', () => {
  test("auto's bound comes from the instances' own run time: a congested main thread lengthens the wait, not the bound", async () => {
    const { s, pool, infer, run } = scheduler({}, 1);
    // Each run: 20 ms on the instance, but 200 ms until its answer is back on the busy main thread.
    pool.computeShare = 0.1;
    for (let i = 0; i < 3; i++) {
      const r = infer();
      await run(200_000);
      await r;
    }
    assert.ok(Math.abs(s.waitEstimator.batchUs(1)! - 200_000) < 1e-6);
    assert.ok(Math.abs(s.computeEstimator.batchUs(1)! - 20_000) < 1e-6);
    const running = infer();
    // The running batch should need 20 ms more of the instance: within the bound…
    const next = infer();
    // …but a request queued ahead drains at the 200 ms the main thread takes per batch.
    await assert.rejects(infer(), (e: ServingError) => e.code === 'QUEUE_WAIT_EXCEEDED' && /about 220\.0 ms in its queue \(1 rows in 1 requests ahead of it\), over its max_queue_wait of 20\.0 ms/.test(e.message));
    await run(200_000);
    await running;
    await run(200_000);
    await next;
  });

  test('service time is measured on the scheduler clock; past one full batch of waiting (auto), requests are refused', async () => {
    const { s, pool, infer, run } = scheduler({});
    // Batches of 1 and 4 rows, 10 ms + 10 ms per row: the fit learns both parts.
    const first = infer(1);
    await run(20_000);
    await first;
    const four = infer(4);
    await run(50_000);
    await four;
    assert.ok(Math.abs(s.waitEstimator.batchUs(4)! - 50_000) < 1e-6);
    // The instance is busy with a batch expected to take 20 ms. Rows that would share the next batch
    // cost nothing: 20 ms of waiting each, within auto's bound (one full batch, 50 ms)…
    const busy = infer(1);
    const queued = [infer(2), infer(2)];
    assert.equal(pool.running?.rows, 1);
    // …a full batch queued ahead as well makes 70 ms.
    await assert.rejects(infer(4), (e: ServingError) => e.code === 'QUEUE_WAIT_EXCEEDED' && e.retryAfterSeconds === 1 && /about 70\.0 ms in its queue \(4 rows in 2 requests ahead of it\), over its max_queue_wait of 50\.0 ms/.test(e.message));
    await run(20_000);
    await run(50_000);
    assert.deepEqual((await Promise.all([busy, ...queued])).map((r) => r.executedBatchSize), [1, 4, 4]);
    // The queue drained: admitted again.
    const after = infer(4);
    await run(50_000);
    assert.equal((await after).executedBatchSize, 4);
  });

  test('an explicit bound in µs; 0 turns admission by wait off (only max_queue_size remains)', async () => {
    const bounded = scheduler({ maxQueueWaitUs: 3000 }, 1);
    const a = bounded.infer();
    await bounded.run(2000);
    await a;
    const running = bounded.infer();
    const waiting = bounded.infer();
    await assert.rejects(bounded.infer(), (e: ServingError) => e.code === 'QUEUE_WAIT_EXCEEDED' && /about 4\.0 ms in its queue \(1 rows in 1 requests ahead of it\), over its max_queue_wait of 3\.0 ms/.test(e.message), 'the running 2 ms and one request of 2 ms queued: 4 ms > 3 ms');
    await bounded.run(2000);
    await bounded.run(2000);
    await Promise.all([running, waiting]);

    const open = scheduler({ maxQueueWaitUs: 0 }, 1);
    const b = open.infer();
    await open.run(2000);
    await b;
    const many = Array.from({ length: 50 }, () => open.infer());
    for (let i = 0; i < 50; i++) await open.run(2000);
    assert.equal((await Promise.all(many)).length, 50);
  });
});

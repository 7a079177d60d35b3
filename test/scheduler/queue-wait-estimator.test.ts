import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AUTO_MIN_QUEUE_WAIT_US, QueueWaitEstimator } from '../../src/scheduler/queue-wait-estimator.js';

describe('QueueWaitEstimator', () => {
  test('before any batch nothing is known: every request is admitted (wait 0, no auto bound)', () => {
    const e = new QueueWaitEstimator();
    assert.deepEqual(e.estimate(10_000, 1, 1, 'auto'), { waitUs: 0, boundUs: Number.POSITIVE_INFINITY });
    assert.deepEqual(e.estimate(10_000, 1, 1, 5000), { waitUs: 0, boundUs: 5000 });
  });

  test('a model that does not batch: requests ahead × service time ÷ instances', () => {
    const e = new QueueWaitEstimator();
    for (let i = 0; i < 5; i++) e.record(1, 10_000);
    assert.equal(e.estimate(4, 1, 2, 0).waitUs, 20_000);
    assert.equal(e.estimate(4, 1, 2, 0).boundUs, Number.POSITIVE_INFINITY, '0 = no bound');
    assert.equal(e.estimate(4, 1, 2, 15_000).boundUs, 15_000);
  });

  test('batch time is fitted as fixed + per row: two sizes give the line through them', () => {
    const e = new QueueWaitEstimator();
    e.record(1, 1000);
    e.record(33, 5000);
    const near = (actual: number | undefined, expected: number) => assert.ok(Math.abs(actual! - expected) < 1e-6, `${actual} ≠ ${expected}`);
    near(e.batchUs(1), 1000);
    near(e.batchUs(33), 5000);
    near(e.batchUs(32), 4875);
    // 128 rows ahead in batches of 32 on 2 instances: 4 batches, 2 per instance.
    near(e.estimate(128, 32, 2, 'auto').waitUs, 2 * 4875);
  });

  test('rows that fit in the batch a request joins cost nothing: a burst from idle is not refused', () => {
    const e = new QueueWaitEstimator();
    for (let i = 0; i < 20; i++) e.record(1, 800);
    // Only batches of 1 were seen, so the per-row cost is unknown and a batch costs the average.
    assert.equal(e.estimate(63, 64, 1, 'auto').waitUs, 0);
    assert.equal(e.estimate(64, 64, 1, 'auto').waitUs, 800);
    assert.equal(e.estimate(64, 64, 1, 'auto').boundUs, AUTO_MIN_QUEUE_WAIT_US, 'auto is never below 10 ms');
  });

  test('auto: the bound is one full batch, so each instance may have about one full batch queued', () => {
    const e = new QueueWaitEstimator();
    for (let i = 0; i < 50; i++) {
      e.record(8, 40_000 + 5000 * 8);
      e.record(16, 40_000 + 5000 * 16);
    }
    const full = e.batchUs(16)!;
    assert.ok(Math.abs(full - 120_000) < 1, `${full}`);
    const within = e.estimate(2 * 16 + 15, 16, 2, 'auto');
    assert.ok(within.waitUs <= within.boundUs, '2 full batches ahead on 2 instances: one batch each');
    const over = e.estimate(3 * 16, 16, 2, 'auto');
    assert.ok(over.waitUs > over.boundUs, '3 full batches ahead on 2 instances: refused');
    const busy = e.estimate(2 * 16, 16, 2, 'auto', 60_000);
    assert.ok(busy.waitUs > busy.boundUs, 'what the running batches still need counts too');
  });

  test('a slowdown is believed within two batches, a speed-up only over some tens (admission errs towards refusing)', () => {
    const e = new QueueWaitEstimator();
    for (let i = 0; i < 100; i++) e.record(1, 1000);
    e.record(1, 5000);
    e.record(1, 5000);
    assert.equal(e.batchUs(1), 4000);
    for (let i = 0; i < 10; i++) e.record(1, 1000);
    const after10 = e.batchUs(1)!;
    assert.ok(after10 > 2500, `${after10}: ten fast batches do not undo a slowdown`);
    for (let i = 0; i < 90; i++) e.record(1, 1000);
    assert.ok(e.batchUs(1)! < 1050, `${e.batchUs(1)}`);
  });

  test('nonsense measurements are ignored', () => {
    const e = new QueueWaitEstimator();
    e.record(0, 100);
    e.record(1, Number.NaN);
    e.record(1, -5);
    assert.equal(e.batches, 0);
  });
});

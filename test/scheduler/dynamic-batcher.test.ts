import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SchedulingConfig } from '../../src/config/model-config.js';
import { ServingError } from '../../src/errors/serving-error.js';
import { DynamicBatcher, type BatchExecutor, type QueuedRequest } from '../../src/scheduler/dynamic-batcher.js';
import { FakeClock } from '../helpers/fake-clock.js';
import type { WaitEstimate } from '../../src/scheduler/queue-wait-estimator.js';

const BASE: SchedulingConfig = {
  dynamicBatching: true,
  preferredBatchSizes: [],
  maxQueueDelayUs: 0,
  maxQueueSize: 0,
  defaultTimeoutUs: 0,
  maxQueueWaitUs: 0,
  priorityLevels: 0,
  defaultPriorityLevel: 0,
};

/** Records batches; `idle` instances take them; `finish()` frees one and lets the batcher go on. */
class FakeInstances implements BatchExecutor {
  readonly batches: QueuedRequest[][] = [];
  batcher!: DynamicBatcher;
  /** What admission asked: the work ahead of each request. */
  readonly asked: Array<{ rows: number; requests: number }> = [];
  /** Set to turn admission by expected wait on: each row ahead costs `perRowUs`, held to `boundUs`. */
  wait: { perRowUs: number; boundUs: number } | undefined;
  constructor(public idle: number) {}
  expectedWait(ahead: { rows: number; requests: number }): WaitEstimate {
    this.asked.push(ahead);
    return this.wait === undefined ? { waitUs: 0, boundUs: Infinity } : { waitUs: ahead.rows * this.wait.perRowUs, boundUs: this.wait.boundUs };
  }
  idleCount(): number {
    return this.idle;
  }
  execute(batch: QueuedRequest[]): void {
    this.idle--;
    this.batches.push(batch);
    for (const item of batch) {
      item.resolve({ outputs: [], queueNs: 0, computeInputNs: 0, computeInferNs: 0, computeOutputNs: 0, executedBatchSize: batch.length });
    }
  }
  finish(): void {
    this.idle++;
    this.batcher.schedule();
  }
  /** Batch sizes in rows, with each request's id. */
  shapes(): string[] {
    return this.batches.map((b) => b.map((r) => r.inputs[0]!.name).join('+'));
  }
}

function setup(overrides: Partial<SchedulingConfig>, idle = 1, maxBatchSize = 8) {
  const clock = new FakeClock();
  const instances = new FakeInstances(idle);
  const batcher = new DynamicBatcher({ ...BASE, ...overrides, maxBatchSize, model: 'm' }, instances, clock);
  instances.batcher = batcher;
  const outcomes = new Map<string, string>();
  const send = (id: string, options: { rows?: number; group?: string; priority?: number; timeoutUs?: number } = {}) => {
    const now = clock.nowUs();
    batcher
      .enqueue({
        // The request's id rides in its input name, so batches can be read back by id.
        inputs: [{ name: id, datatype: 'FP32', shape: [options.rows ?? 1, 2], data: new Float32Array(2 * (options.rows ?? 1)) }],
        outputNames: ['y'],
        batchSize: options.rows ?? 1,
        groupKey: options.group ?? 'g',
        priority: options.priority ?? 1,
        enqueuedUs: now,
        deadlineUs: options.timeoutUs === undefined ? Number.POSITIVE_INFINITY : now + options.timeoutUs,
        transfer: true,
      })
      .then(
        () => outcomes.set(id, 'ok'),
        (error: ServingError) => outcomes.set(id, error.code),
      );
  };
  return { clock, instances, batcher, send, outcomes };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('DynamicBatcher (fake clock)', () => {
  test('with max_queue_delay 0, an idle instance takes what is queued at once', () => {
    const { instances, send } = setup({});
    send('a');
    assert.deepEqual(instances.shapes(), ['a']);
    send('b');
    send('c');
    assert.equal(instances.batches.length, 1, 'no instance is idle: b and c wait');
    instances.finish();
    assert.deepEqual(instances.shapes(), ['a', 'b+c']);
  });

  test('a batch waits for max_queue_delay of its oldest request, then goes with what it has', () => {
    const { clock, instances, send } = setup({ maxQueueDelayUs: 500 });
    send('a');
    clock.advance(200);
    send('b');
    assert.equal(instances.batches.length, 0);
    clock.advance(299);
    assert.equal(instances.batches.length, 0, 'the oldest has waited 499 µs');
    clock.advance(1);
    assert.deepEqual(instances.shapes(), ['a+b']);
  });

  test('a full batch (max_batch_size rows) goes without waiting for the delay', () => {
    const { instances, send } = setup({ maxQueueDelayUs: 10_000 }, 1, 4);
    send('a', { rows: 2 });
    send('b', { rows: 1 });
    assert.equal(instances.batches.length, 0);
    send('c', { rows: 1 });
    assert.deepEqual(instances.shapes(), ['a+b+c']);
  });

  test('never exceeds max_batch_size: a request that would overflow waits for the next batch', () => {
    const { clock, instances, send } = setup({ maxQueueDelayUs: 100 }, 1, 4);
    send('a', { rows: 3 });
    send('b', { rows: 2 });
    assert.deepEqual(instances.shapes(), ['a'], 'a+b would be 5 rows: a goes alone at once, the batch cannot grow');
    instances.finish();
    clock.advance(100);
    assert.deepEqual(instances.shapes(), ['a', 'b']);
    for (const batch of instances.batches) assert.ok(batch.reduce((s, r) => s + r.batchSize, 0) <= 4);
  });

  test('a multi-item request counts as its rows', () => {
    const { instances, send } = setup({ maxQueueDelayUs: 10_000 }, 1, 8);
    send('a', { rows: 5 });
    send('b', { rows: 3 });
    assert.deepEqual(instances.shapes(), ['a+b']);
  });

  test('preferred batch sizes: the largest one a prefix fills goes at once; otherwise wait for the delay', () => {
    const { clock, instances, send } = setup({ maxQueueDelayUs: 1000, preferredBatchSizes: [2, 4] }, 1, 8);
    send('a');
    assert.equal(instances.batches.length, 0, '1 row: no preferred size yet');
    send('b');
    assert.deepEqual(instances.shapes(), ['a+b'], 'preferred size 2 reached');
    instances.finish();
    send('c');
    send('d');
    assert.deepEqual(instances.shapes(), ['a+b', 'c+d']);
    instances.finish();
    send('e', { rows: 3 });
    assert.equal(instances.batches.length, 2, '3 rows is not a preferred size');
    clock.advance(1000);
    assert.deepEqual(instances.shapes(), ['a+b', 'c+d', 'e']);
  });

  test('preferred size formed by a prefix leaves the rest queued', () => {
    const { instances, send } = setup({ maxQueueDelayUs: 1000, preferredBatchSizes: [4] }, 0, 8);
    send('a', { rows: 2 });
    send('b', { rows: 2 });
    send('c', { rows: 1 });
    instances.finish();
    assert.deepEqual(instances.shapes(), ['a+b']);
  });

  test('never mixes requests whose non-batch dims differ (shape groups)', () => {
    const { clock, instances, send } = setup({ maxQueueDelayUs: 100 }, 0, 8);
    send('a', { group: 'w32' });
    send('b', { group: 'w64' });
    send('c', { group: 'w32' });
    send('d', { group: 'w64' });
    instances.finish();
    clock.advance(100);
    assert.deepEqual(instances.shapes(), ['a+c']);
    instances.finish();
    assert.deepEqual(instances.shapes(), ['a+c', 'b+d']);
  });

  test('without dynamic batching, requests run one by one across instances', () => {
    const { instances, send } = setup({ dynamicBatching: false }, 2);
    send('a');
    send('b');
    send('c');
    assert.deepEqual(instances.shapes(), ['a', 'b']);
    instances.finish();
    assert.deepEqual(instances.shapes(), ['a', 'b', 'c']);
  });

  test('a request whose deadline passes in the queue is answered DEADLINE_EXCEEDED without running', async () => {
    const { clock, instances, send, outcomes } = setup({}, 0);
    send('late', { timeoutUs: 1000 });
    send('patient');
    clock.advance(1000);
    await settle();
    assert.equal(outcomes.get('late'), 'DEADLINE_EXCEEDED', 'answered when the deadline passed, not when an instance freed');
    instances.finish();
    await settle();
    assert.deepEqual(instances.shapes(), ['patient']);
    assert.equal(outcomes.get('patient'), 'ok');
  });

  test('default_timeout applies through the deadline the scheduler computes; 0 means none', async () => {
    const { clock, send, outcomes, batcher } = setup({}, 0);
    send('no-deadline');
    clock.advance(10_000_000);
    await settle();
    assert.equal(outcomes.get('no-deadline'), undefined);
    assert.equal(batcher.depth, 1);
  });

  test('priorities: a higher level (1) goes first; within a level, FIFO', () => {
    const { instances, send } = setup({ dynamicBatching: false, priorityLevels: 3, defaultPriorityLevel: 2 }, 0);
    send('low1', { priority: 3 });
    send('mid', { priority: 2 });
    send('low2', { priority: 3 });
    send('high', { priority: 1 });
    for (let i = 0; i < 4; i++) instances.finish();
    assert.deepEqual(instances.shapes(), ['high', 'mid', 'low1', 'low2']);
  });

  test('priority parameter is checked against the configured levels', () => {
    const { batcher } = setup({ priorityLevels: 3, defaultPriorityLevel: 2 });
    assert.equal(batcher.priorityOf(undefined), 2);
    assert.equal(batcher.priorityOf(0), 2);
    assert.equal(batcher.priorityOf(1), 1);
    assert.throws(() => batcher.priorityOf(4), /parameter 'priority': 4 is not a priority level of model 'm' \(1\.\.3, 1 highest\)/);
    assert.throws(() => batcher.priorityOf(1.5), /not a priority level/);
  });

  test('queue full: refused at once with QUEUE_FULL and a retry hint; the queue stays bounded', async () => {
    const { instances, send, outcomes, batcher } = setup({ maxQueueSize: 2 }, 0);
    send('a');
    send('b');
    send('c');
    await settle();
    assert.equal(outcomes.get('c'), 'QUEUE_FULL');
    assert.equal(batcher.depth, 2);
    await assert.rejects(
      batcher.enqueue({ inputs: [], outputNames: [], batchSize: 1, groupKey: 'g', priority: 1, enqueuedUs: 0, deadlineUs: Infinity, transfer: false }),
      (error: ServingError) => error.code === 'QUEUE_FULL' && error.retryAfterSeconds === 1 && /max_queue_size 2/.test(error.message),
    );
    instances.finish();
    await settle();
    assert.equal(outcomes.get('a'), 'ok');
  });

  test('expected wait over the bound: refused at once with QUEUE_WAIT_EXCEEDED and a Retry-After of at least 1 s', async () => {
    const { instances, send, outcomes, batcher } = setup({}, 0);
    instances.wait = { perRowUs: 1000, boundUs: 2500 };
    send('a', { rows: 2 });
    send('b', { rows: 1 });
    send('c');
    await settle();
    assert.equal(outcomes.get('c'), 'QUEUE_WAIT_EXCEEDED', '3 rows ahead: 3 ms > 2.5 ms');
    assert.deepEqual(instances.asked, [{ rows: 0, requests: 0 }, { rows: 2, requests: 1 }, { rows: 3, requests: 2 }]);
    assert.equal(batcher.depth, 2, 'the refused request was never queued');
    await assert.rejects(
      batcher.enqueue({ inputs: [], outputNames: [], batchSize: 1, groupKey: 'g', priority: 1, enqueuedUs: 0, deadlineUs: Infinity, transfer: false }),
      (error: ServingError) =>
        error.code === 'QUEUE_WAIT_EXCEEDED' && error.retryAfterSeconds === 1 && /about 3\.0 ms in its queue \(3 rows in 2 requests ahead of it\), over its max_queue_wait of 2\.5 ms/.test(error.message),
    );
    instances.wait = { perRowUs: 1_500_000, boundUs: 2500 };
    await assert.rejects(
      batcher.enqueue({ inputs: [], outputNames: [], batchSize: 1, groupKey: 'g', priority: 1, enqueuedUs: 0, deadlineUs: Infinity, transfer: false }),
      (error: ServingError) => error.retryAfterSeconds === 5,
      'Retry-After: the expected wait, rounded up to whole seconds',
    );
  });

  test('expected wait: rows leave the count when dispatched, expired or failed, so admission reopens', async () => {
    const { clock, instances, send, outcomes } = setup({}, 0);
    instances.wait = { perRowUs: 1000, boundUs: 2000 };
    send('a', { rows: 2 });
    send('b', { timeoutUs: 100 });
    send('c');
    await settle();
    assert.equal(outcomes.get('c'), 'QUEUE_WAIT_EXCEEDED');
    clock.advance(100);
    await settle();
    assert.equal(outcomes.get('b'), 'DEADLINE_EXCEEDED');
    send('d');
    assert.deepEqual(instances.asked.at(-1), { rows: 2, requests: 1 }, 'the expired request no longer counts');
    instances.finish();
    send('e');
    assert.deepEqual(instances.asked.at(-1), { rows: 0, requests: 0 }, 'a was dispatched with d: nothing is queued ahead of e');
    await settle();
    assert.equal(outcomes.get('d'), 'ok');
  });

  test('expected wait counts only the rows queued at the request\'s priority or higher', async () => {
    const { instances, send, outcomes } = setup({ priorityLevels: 2, defaultPriorityLevel: 2 }, 0);
    instances.wait = { perRowUs: 1000, boundUs: 2000 };
    send('low1', { rows: 2, priority: 2 });
    send('low2', { rows: 1, priority: 2 });
    send('high', { priority: 1 });
    send('low3', { priority: 2 });
    await settle();
    assert.deepEqual(instances.asked, [{ rows: 0, requests: 0 }, { rows: 2, requests: 1 }, { rows: 0, requests: 0 }, { rows: 4, requests: 3 }]);
    assert.equal(outcomes.get('low3'), 'QUEUE_WAIT_EXCEEDED');
    assert.equal(outcomes.has('high'), false, 'the high-priority request was admitted and waits');
  });

  test('a full queue is QUEUE_FULL before any wait is estimated', async () => {
    const { instances, send, outcomes } = setup({ maxQueueSize: 1 }, 0);
    instances.wait = { perRowUs: 1000, boundUs: 0 };
    send('a');
    send('b');
    await settle();
    assert.equal(outcomes.get('b'), 'QUEUE_FULL');
    assert.equal(instances.asked.length, 1, 'only a was asked about');
  });

  test('close fails what is queued and refuses new requests', async () => {
    const { send, outcomes, batcher } = setup({}, 0);
    send('a');
    batcher.close();
    send('b');
    await settle();
    assert.equal(outcomes.get('a'), 'MODEL_NOT_READY');
    assert.equal(outcomes.get('b'), 'MODEL_NOT_READY');
  });

  test('no timer is left armed once the queue is empty', () => {
    const { clock, instances, send } = setup({ maxQueueDelayUs: 500 }, 1);
    send('a', { timeoutUs: 5000 });
    assert.ok(clock.pending > 0);
    clock.advance(500);
    assert.deepEqual(instances.shapes(), ['a']);
    assert.equal(clock.pending, 0);
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogLimiter } from '../../src/observability/log-limiter.js';

test('each key writes its lines per interval, counts the rest, and reports them on its next line', () => {
  let now = 0;
  const dropped: string[] = [];
  const limiter = new LogLimiter({ linesPerInterval: 2, intervalMs: 1000, now: () => now, onSuppressed: (key) => dropped.push(key) });
  const admitted = (key: string): boolean => limiter.admit(key).log;
  assert.deepEqual([admitted('a'), admitted('a'), admitted('a'), admitted('a')], [true, true, false, false]);
  // Another key has its own allowance.
  assert.equal(admitted('b'), true);
  assert.deepEqual(dropped, ['a', 'a']);
  now = 999;
  assert.equal(admitted('a'), false);
  now = 1000;
  assert.deepEqual(limiter.admit('a'), { log: true, suppressed: 3 });
  assert.deepEqual(limiter.admit('a'), { log: true, suppressed: 0 });
  assert.deepEqual(limiter.admit('a'), { log: false, suppressed: 0 });
});

test('a limit of 0 writes nothing and counts everything', () => {
  let dropped = 0;
  const limiter = new LogLimiter({ linesPerInterval: 0, intervalMs: 1000, now: () => 0, onSuppressed: () => dropped++ });
  for (let i = 0; i < 10; i++) assert.equal(limiter.admit('request').log, false);
  assert.equal(dropped, 10);
});

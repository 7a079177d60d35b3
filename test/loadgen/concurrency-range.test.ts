import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConcurrencyRange } from '../../src/loadgen/concurrency-range.js';
import { summarizeLatencies } from '../../src/loadgen/latency-summary.js';

test('concurrency ranges: single, additive, multiplicative; the end is always included', () => {
  assert.deepEqual(parseConcurrencyRange('8'), [8]);
  assert.deepEqual(parseConcurrencyRange('1:4'), [1, 2, 3, 4]);
  assert.deepEqual(parseConcurrencyRange('1:10:4'), [1, 5, 9, 10]);
  assert.deepEqual(parseConcurrencyRange('1:64:x2'), [1, 2, 4, 8, 16, 32, 64]);
  assert.deepEqual(parseConcurrencyRange('3:40:x3'), [3, 9, 27, 40]);
  assert.throws(() => parseConcurrencyRange('0'), /the level must be a positive integer/);
  assert.throws(() => parseConcurrencyRange('8:4'), /END must not be below START/);
  assert.throws(() => parseConcurrencyRange('1:8:x1'), /a factor must be at least x2/);
  assert.throws(() => parseConcurrencyRange('1:2:3:4'), /expected N, START:END/);
});

test('latency percentiles by nearest rank', () => {
  const s = summarizeLatencies(Array.from({ length: 100 }, (_, i) => 100 - i));
  assert.deepEqual([s.count, s.p50Ms, s.p90Ms, s.p95Ms, s.p99Ms, s.maxMs, s.meanMs], [100, 50, 90, 95, 99, 100, 50.5]);
  assert.ok(Number.isNaN(summarizeLatencies([]).p50Ms));
});

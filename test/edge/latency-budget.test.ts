import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LatencyBudget } from '../../src/edge/latency-budget.js';

describe('LatencyBudget', () => {
  test('says nothing until the window is full, then compares its median with the budget', () => {
    const budget = new LatencyBudget(20, 3);
    budget.record(90);
    budget.record(95);
    assert.equal(budget.exceeded(), undefined, 'two calls are not yet a window of three');
    budget.record(10);
    assert.equal(budget.median(), 90);
    assert.match(budget.exceeded() ?? '', /median 90\.0 ms over the last 3 calls, budget 20 ms/);
  });

  test('one slow call (a first run, a garbage collection) does not exceed it; a slow device does', () => {
    const budget = new LatencyBudget(20, 5);
    for (const ms of [400, 5, 6, 4, 7]) budget.record(ms);
    assert.equal(budget.exceeded(), undefined);
    for (const ms of [30, 31, 29]) budget.record(ms);
    assert.equal(budget.median(), 29, 'the window keeps the last five: 4, 7, 30, 31, 29');
    assert.ok(budget.exceeded());
  });

  test('an even window takes the mean of the middle two; no budget never exceeds', () => {
    const budget = new LatencyBudget(undefined, 2);
    budget.record(10);
    budget.record(30);
    assert.equal(budget.median(), 20);
    assert.equal(budget.exceeded(), undefined);
  });

  test('refuses a window or budget that cannot work', () => {
    assert.throws(() => new LatencyBudget(10, 0), /window must be a positive integer/);
    assert.throws(() => new LatencyBudget(-1, 5), /budget must be a positive number/);
  });
});

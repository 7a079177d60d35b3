import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InflightBudget } from '../../src/scheduler/inflight-budget.js';

test('the budget admits what fits, refuses what does not, and takes back what is released', () => {
  const budget = new InflightBudget(100);
  assert.equal(budget.tryAcquire(60), true);
  assert.equal(budget.tryAcquire(50), false, '60 + 50 > 100');
  assert.equal(budget.inUseBytes, 60, 'a refusal takes nothing');
  assert.equal(budget.tryAcquire(40), true);
  budget.release(60);
  budget.release(40);
  assert.equal(budget.inUseBytes, 0);
});

test('a request alone is admitted whatever its size: the body limit bounds it, not the budget', () => {
  const budget = new InflightBudget(100);
  assert.equal(budget.tryAcquire(500), true);
  assert.equal(budget.tryAcquire(1), false);
});

test('a budget of 0 admits everything and only counts', () => {
  const budget = new InflightBudget(0);
  assert.equal(budget.tryAcquire(1e12), true);
  assert.equal(budget.tryAcquire(1e12), true);
  assert.equal(budget.inUseBytes, 2e12);
});

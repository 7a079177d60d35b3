import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capMessage, quoteValue } from '../../src/errors/quote-value.js';

test('short values are quoted as JSON', () => {
  assert.equal(quoteValue('FP33'), '"FP33"');
  assert.equal(quoteValue([1, 'a', null, true]), '[1,"a",null,true]');
  assert.equal(quoteValue({ a: [1] }), '{"a":[1]}');
  assert.equal(quoteValue(undefined), 'undefined');
});

test('a long string is cut to the limit and says its size in bytes', () => {
  assert.equal(quoteValue('é'.repeat(300), 4), '"éééé"… (600 bytes)');
  assert.equal(quoteValue('A'.repeat(50_000_000)).length, 202 + '… (50000000 bytes)'.length);
});

test('a deep or wide value is elided, never overflowing the stack', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.equal(quoteValue(deep), '[[[[[[[[[…]]]]]]]]]');
  const wide = quoteValue(Array.from({ length: 1_000_000 }, (_, i) => i), 50);
  assert.ok(wide.length <= 51, wide);
  assert.match(wide, /^\[0,1,2,.*…$/);
});

test('capMessage leaves short messages alone and cuts long ones with their size', () => {
  assert.equal(capMessage('fine'), 'fine');
  assert.equal(capMessage('x'.repeat(10), 4), 'xxxx… (10 bytes)');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResponseCache } from '../../src/scheduler/response-cache.js';
import type { Tensor } from '../../src/tensor/tensor.js';

const input = (values: number[], name = 'x'): Tensor => ({ name, datatype: 'FP32', shape: [1, values.length], data: new Float32Array(values) });
const output = (bytes: number): Tensor[] => [{ name: 'y', datatype: 'UINT8', shape: [bytes], data: new Uint8Array(bytes).fill(7) }];

test('the key covers model, version, input names, datatypes, shapes, bytes and requested outputs', () => {
  const base = ResponseCache.key('m', '1', [input([1, 2])], ['y']);
  assert.equal(ResponseCache.key('m', '1', [input([1, 2])], ['y']), base);
  const variants = [
    ResponseCache.key('n', '1', [input([1, 2])], ['y']),
    ResponseCache.key('m', '2', [input([1, 2])], ['y']),
    ResponseCache.key('m', '1', [input([1, 3])], ['y']),
    ResponseCache.key('m', '1', [input([1, 2], 'z')], ['y']),
    ResponseCache.key('m', '1', [{ ...input([1, 2]), shape: [2, 1] }], ['y']),
    ResponseCache.key('m', '1', [{ name: 'x', datatype: 'INT32', shape: [1, 2], data: new Int32Array(new Float32Array([1, 2]).buffer) }], ['y']),
    ResponseCache.key('m', '1', [input([1, 2])], ['y', 'z']),
    ResponseCache.key('m', '1', [{ name: 'x', datatype: 'BYTES', shape: [2], data: ['ab', 'c'] }], ['y']),
    ResponseCache.key('m', '1', [{ name: 'x', datatype: 'BYTES', shape: [2], data: ['a', 'bc'] }], ['y']),
  ];
  assert.equal(new Set([base, ...variants]).size, variants.length + 1);
  // Input order does not matter; a view hashes only its own bytes.
  const big = new Float32Array([9, 1, 2, 9]);
  assert.equal(ResponseCache.key('m', '1', [{ ...input([1, 2]), data: big.subarray(1, 3) }], ['y']), base);
});

test('LRU bounded in bytes: the least recently used entries go first', () => {
  const cache = new ResponseCache(250 + 3 * 44);
  const keys = ['a', 'b', 'c'].map((k) => ResponseCache.key('m', '1', [input([k.charCodeAt(0)])], ['y']));
  cache.set(keys[0]!, output(100));
  cache.set(keys[1]!, output(100));
  assert.ok(cache.get(keys[0]!)); // a is now the most recent
  cache.set(keys[2]!, output(100));
  assert.equal(cache.size, 2);
  assert.equal(cache.get(keys[1]!), undefined, 'b was least recently used');
  assert.ok(cache.get(keys[0]!));
  assert.ok(cache.get(keys[2]!));
  assert.ok(cache.bytes <= cache.capacityBytes);
  cache.set('huge', output(10_000));
  assert.equal(cache.get('huge'), undefined, 'an answer larger than the cache is not stored');
});

test('entries are copies: detaching what was stored or handed out leaves the cache intact', () => {
  const cache = new ResponseCache(1 << 20);
  const stored = output(16);
  cache.set('k', stored);
  const detach = (t: Tensor) => {
    const buffer = (t.data as Uint8Array).buffer as ArrayBuffer;
    structuredClone(buffer, { transfer: [buffer] });
  };
  detach(stored[0]!);
  detach(cache.get('k')![0]!);
  assert.deepEqual(Array.from(cache.get('k')![0]!.data as Uint8Array), new Array(16).fill(7));
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryResponseCache } from '../../src/scheduler/memory-response-cache.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { responseCacheContract } from './response-cache-contract.js';
import { Slipway } from '../../src/slipway.js';
import { tempRepository } from '../helpers/temp-repository.js';

const target = { model: 'm', version: 1, modelPath: '/nonexistent/model.onnx' };
responseCacheContract('in-process LRU', async () => {
  const cache = new MemoryResponseCache(1 << 20);
  return { cache, close: () => cache.close() };
}, target);

const input = (values: number[]): Tensor => ({ name: 'x', datatype: 'FP32', shape: [1, values.length], data: new Float32Array(values) });
const output = (bytes: number): Tensor[] => [{ name: 'y', datatype: 'UINT8', shape: [bytes], data: new Uint8Array(bytes).fill(7) }];

test('LRU bounded in bytes: the least recently used entries go first', () => {
  const cache = new MemoryResponseCache(250 + 3 * 44);
  const keys = ['a', 'b', 'c'].map((k) => cache.key(target, [input([k.charCodeAt(0)])], ['y']));
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

test('a cache of 0 bytes is off, and its calls answer synchronously', () => {
  assert.equal(new MemoryResponseCache(0).enabled, false);
  const cache = new MemoryResponseCache(1024);
  assert.equal(typeof cache.key(target, [input([1])], ['y']), 'string');
  assert.equal(cache.get('nothing'), undefined);
});

test('Slipway takes a ResponseCache of your own: the second identical request is answered from it', async () => {
  const repo = await tempRepository({ digits: { config: 'response_cache:\n  enable: true\n' } });
  const cache = new MemoryResponseCache(1 << 20);
  const slipway = await Slipway.open({ models: repo.dir, cores: 1, responseCache: cache });
  try {
    const request = () => ({ model: 'digits', inputs: [{ name: 'image', datatype: 'FP32' as const, shape: [1, 1, 8, 8], data: new Float32Array(64).fill(3) }] });
    const first = await slipway.infer(request());
    const second = await slipway.infer(request());
    assert.equal(first.timing?.cacheHit, undefined);
    assert.equal(second.timing?.cacheHit, true);
    assert.equal(cache.size, 1);
    assert.deepEqual(Array.from(second.outputs[0]!.data as Float32Array), Array.from(first.outputs[0]!.data as Float32Array));
  } finally {
    await slipway.close();
    await repo.remove();
  }
});

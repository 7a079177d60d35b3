import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CacheTarget, ResponseCache } from '../../src/scheduler/response-cache.js';
import type { Tensor } from '../../src/tensor/tensor.js';

/** A cache under test, and how to throw it away. */
export interface CacheUnderTest {
  cache: ResponseCache;
  close: () => Promise<void>;
}

const input = (values: number[], name = 'x'): Tensor => ({ name, datatype: 'FP32', shape: [1, values.length], data: new Float32Array(values) });

/** Every datatype family an answer can hold: floats, 64-bit integers, booleans, half floats (raw), text. */
export const SAMPLE_ANSWER: Tensor[] = [
  { name: 'probabilities', datatype: 'FP32', shape: [2, 3], data: new Float32Array([0.1, 0.2, 0.7, 0.3, 0.3, 0.4]) },
  { name: 'ids', datatype: 'INT64', shape: [2], data: new BigInt64Array([-5n, 9007199254740993n]) },
  { name: 'mask', datatype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
  { name: 'half', datatype: 'FP16', shape: [1], data: new Uint16Array([0x3c00]) },
  { name: 'labels', datatype: 'BYTES', shape: [2], data: ['seven', 'üñí'] },
];

async function eventually<T>(read: () => T | Promise<T>, done: (value: T) => boolean): Promise<T> {
  // A shared cache writes in the background: wait for the write, bounded, rather than sleeping.
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const plain = (tensors: readonly Tensor[] | undefined) =>
  tensors?.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: Array.isArray(t.data) ? t.data : Array.from(t.data as ArrayLike<number | bigint>) }));

/**
 * What every ResponseCache must do (in-process LRU and Redis alike), run by each implementation's
 * test file against its own instance.
 */
export function responseCacheContract(name: string, open: (target: CacheTarget) => Promise<CacheUnderTest>, target: CacheTarget): void {
  test(`${name}: an unknown key is a miss`, async () => {
    const { cache, close } = await open(target);
    try {
      assert.equal(cache.enabled, true);
      assert.equal(await cache.get(await cache.key(target, [input([1, 2])], ['y'])), undefined);
    } finally {
      await close();
    }
  });

  test(`${name}: an answer comes back with every name, datatype, shape and value`, async () => {
    const { cache, close } = await open(target);
    try {
      const key = await cache.key(target, [input([4, 2])], SAMPLE_ANSWER.map((t) => t.name));
      cache.set(key, SAMPLE_ANSWER);
      const hit = await eventually(() => cache.get(key), (v) => v !== undefined);
      assert.deepEqual(plain(hit), plain(SAMPLE_ANSWER));
    } finally {
      await close();
    }
  });

  test(`${name}: the key covers model, version, input names, datatypes, shapes, bytes and requested outputs`, async () => {
    const { cache, close } = await open(target);
    try {
      const base = await cache.key(target, [input([1, 2])], ['y']);
      assert.equal(await cache.key(target, [input([1, 2])], ['y']), base, 'the same request, the same key');
      const variants = await Promise.all([
        cache.key({ ...target, model: `${target.model}_other` }, [input([1, 2])], ['y']),
        cache.key({ ...target, version: target.version + 1 }, [input([1, 2])], ['y']),
        cache.key(target, [input([1, 3])], ['y']),
        cache.key(target, [input([1, 2], 'z')], ['y']),
        cache.key(target, [{ ...input([1, 2]), shape: [2, 1] }], ['y']),
        cache.key(target, [{ name: 'x', datatype: 'INT32', shape: [1, 2], data: new Int32Array(new Float32Array([1, 2]).buffer) }], ['y']),
        cache.key(target, [input([1, 2])], ['y', 'z']),
        cache.key(target, [{ name: 'x', datatype: 'BYTES', shape: [2], data: ['ab', 'c'] }], ['y']),
        cache.key(target, [{ name: 'x', datatype: 'BYTES', shape: [2], data: ['a', 'bc'] }], ['y']),
      ]);
      assert.equal(new Set([base, ...variants]).size, variants.length + 1);
      // Input order does not matter; a view hashes only its own bytes.
      const big = new Float32Array([9, 1, 2, 9]);
      assert.equal(await cache.key(target, [{ ...input([1, 2]), data: big.subarray(1, 3) }], ['y']), base);
    } finally {
      await close();
    }
  });

  test(`${name}: entries are copies: detaching what was stored or handed out leaves the cache intact`, async () => {
    const { cache, close } = await open(target);
    try {
      const stored: Tensor[] = [{ name: 'y', datatype: 'UINT8', shape: [16], data: new Uint8Array(16).fill(7) }];
      const key = await cache.key(target, [input([5])], ['y']);
      cache.set(key, stored);
      const detach = (t: Tensor) => {
        const buffer = (t.data as Uint8Array).buffer as ArrayBuffer;
        structuredClone(buffer, { transfer: [buffer] });
      };
      detach(stored[0]!);
      const first = await eventually(() => cache.get(key), (v) => v !== undefined);
      detach(first![0]!);
      assert.deepEqual(Array.from((await cache.get(key))![0]!.data as Uint8Array), new Array(16).fill(7));
    } finally {
      await close();
    }
  });
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { concatInputs, sliceOutputs } from '../../src/scheduler/batch-assembly.js';
import type { Tensor } from '../../src/tensor/tensor.js';

test('concatenates along dim 0, matching inputs by name whatever their order', () => {
  const a: Tensor[] = [
    { name: 'x', datatype: 'INT32', shape: [1, 2], data: new Int32Array([1, 2]) },
    { name: 's', datatype: 'BYTES', shape: [1, 1], data: ['a'] },
  ];
  const b: Tensor[] = [
    { name: 's', datatype: 'BYTES', shape: [2, 1], data: ['b', 'c'] },
    { name: 'x', datatype: 'INT32', shape: [2, 2], data: new Int32Array([3, 4, 5, 6]) },
  ];
  const [x, s] = concatInputs([
    { inputs: a, batchSize: 1 },
    { inputs: b, batchSize: 2 },
  ]);
  assert.deepEqual(x!.shape, [3, 2]);
  assert.deepEqual(Array.from(x!.data as Int32Array), [1, 2, 3, 4, 5, 6]);
  assert.equal((x!.data as Int32Array).buffer.byteLength, 24, 'one buffer of its own, exactly the batch');
  assert.deepEqual(s, { name: 's', datatype: 'BYTES', shape: [3, 1], data: ['a', 'b', 'c'] });
});

test('slices outputs back per request as views of the batch buffer', () => {
  const out: Tensor = { name: 'y', datatype: 'FP32', shape: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) };
  const [first, second] = sliceOutputs([out], [1, 2]);
  assert.deepEqual(first![0]!.shape, [1, 2]);
  assert.deepEqual(Array.from(first![0]!.data as Float32Array), [1, 2]);
  assert.deepEqual(second![0]!.shape, [2, 2]);
  assert.deepEqual(Array.from(second![0]!.data as Float32Array), [3, 4, 5, 6]);
  assert.equal((second![0]!.data as Float32Array).buffer, (out.data as Float32Array).buffer, 'a view, not a copy');
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { validateRequest } from '../../src/router/validate-request.js';
import type { ModelConfig } from '../../src/config/model-config.js';
import type { InferenceRequest, RequestedOutput } from '../../src/tensor/inference.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { ServingError } from '../../src/errors/serving-error.js';

/** Batching model: x FP32 [-1,3,-1], ids INT64 [-1,2] → probs FP32 [-1,10], label BYTES [-1,1]. */
const BATCHED: ModelConfig = {
  name: 'ocr',
  platform: 'onnxruntime_onnx',
  maxBatchSize: 4,
  inputs: [
    { name: 'x', datatype: 'FP32', dims: [3, -1] },
    { name: 'ids', datatype: 'INT64', dims: [2] },
  ],
  outputs: [
    { name: 'probs', datatype: 'FP32', dims: [10] },
    { name: 'label', datatype: 'BYTES', dims: [1] },
  ],
  versionPolicy: { kind: 'latest', numVersions: 1 },
  instanceCount: 1,
  intraOpThreads: 1,
  scheduling: {
    dynamicBatching: false,
    preferredBatchSizes: [],
    maxQueueDelayUs: 0,
    maxQueueSize: 0,
    defaultTimeoutUs: 0,
    maxQueueWaitUs: 0,
    priorityLevels: 0,
    defaultPriorityLevel: 0,
  },
  responseCache: false,
  responseCacheRawBody: true,
  defaultModelFilename: 'model.onnx',
  parameters: {},
};

/** Non-batching model: a INT32 [2,2] → b FP64 [2]. */
const FIXED: ModelConfig = {
  ...BATCHED,
  name: 'fixed',
  maxBatchSize: 0,
  inputs: [{ name: 'a', datatype: 'INT32', dims: [2, 2] }],
  outputs: [{ name: 'b', datatype: 'FP64', dims: [2] }],
};

const x = (shape: number[], length = shape.reduce((p, d) => p * d, 1)): Tensor => ({
  name: 'x',
  datatype: 'FP32',
  shape,
  data: new Float32Array(length),
});
const ids = (shape: number[]): Tensor => ({
  name: 'ids',
  datatype: 'INT64',
  shape,
  data: new BigInt64Array(shape.reduce((p, d) => p * d, 1)),
});

const request = (inputs: Tensor[], outputs?: RequestedOutput[]): InferenceRequest =>
  outputs === undefined ? { model: 'ocr', inputs } : { model: 'ocr', inputs, outputs };

function assertInvalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ServingError, `expected a ServingError, got ${String(error)}`);
    assert.equal(error.code, 'INVALID_INPUT');
    assert.equal(error.message, message);
    return true;
  });
}

describe('validateRequest: valid requests', () => {
  test('a batched request returns every output in config order', () => {
    assert.deepEqual(validateRequest(BATCHED, request([x([2, 3, 5]), ids([2, 2])])), ['probs', 'label']);
  });

  test('input order does not matter', () => {
    assert.deepEqual(validateRequest(BATCHED, request([ids([1, 2]), x([1, 3, 1])])), ['probs', 'label']);
  });

  test('an empty outputs list means every output, in config order', () => {
    assert.deepEqual(validateRequest(BATCHED, request([x([1, 3, 1]), ids([1, 2])], [])), ['probs', 'label']);
  });

  test('requested outputs are returned in the requested order', () => {
    assert.deepEqual(validateRequest(BATCHED, request([x([1, 3, 1]), ids([1, 2])], [{ name: 'label' }, { name: 'probs' }])), [
      'label',
      'probs',
    ]);
    assert.deepEqual(validateRequest(BATCHED, request([x([1, 3, 1]), ids([1, 2])], [{ name: 'label' }])), ['label']);
  });

  test('a batch of exactly max_batch_size is accepted', () => {
    assert.deepEqual(validateRequest(BATCHED, request([x([4, 3, 2]), ids([4, 2])])), ['probs', 'label']);
  });

  test('a non-batching model takes its full dims', () => {
    const a: Tensor = { name: 'a', datatype: 'INT32', shape: [2, 2], data: new Int32Array(4) };
    assert.deepEqual(validateRequest(FIXED, { model: 'fixed', inputs: [a] }), ['b']);
  });
});

describe('validateRequest: inputs', () => {
  test('a duplicate input is refused', () => {
    assertInvalid(() => validateRequest(BATCHED, request([x([1, 3, 1]), ids([1, 2]), x([1, 3, 1])])), "input 'x' is given more than once");
  });

  test('an unknown input is refused, listing the expected inputs with datatype and shape', () => {
    const image: Tensor = { name: 'image', datatype: 'FP32', shape: [1], data: new Float32Array(1) };
    assertInvalid(
      () => validateRequest(BATCHED, request([x([1, 3, 1]), image])),
      "unknown input 'image'; model 'ocr' expects 'x' (FP32 [-1,3,-1]), 'ids' (INT64 [-1,2])",
    );
  });

  test('a missing input is refused, naming it with datatype and shape', () => {
    assertInvalid(() => validateRequest(BATCHED, request([x([1, 3, 1])])), "missing input 'ids' (INT64 [-1,2]) for model 'ocr'");
  });

  test('all missing inputs are named', () => {
    assertInvalid(
      () => validateRequest(BATCHED, request([])),
      "missing input 'x' (FP32 [-1,3,-1]), 'ids' (INT64 [-1,2]) for model 'ocr'",
    );
  });

  test('a wrong datatype is refused', () => {
    const wrong: Tensor = { name: 'x', datatype: 'INT64', shape: [1, 3, 1], data: new BigInt64Array(3) };
    assertInvalid(() => validateRequest(BATCHED, request([wrong, ids([1, 2])])), "input 'x': expected datatype FP32, got INT64");
  });

  test('a wrong rank is refused', () => {
    assertInvalid(
      () => validateRequest(BATCHED, request([x([3, 5]), ids([1, 2])])),
      "input 'x': shape [3,5] does not match the model's [-1,3,-1] (-1 = any size)",
    );
  });

  test('a wrong fixed dim is refused', () => {
    assertInvalid(
      () => validateRequest(BATCHED, request([x([1, 4, 5]), ids([1, 2])])),
      "input 'x': shape [1,4,5] does not match the model's [-1,3,-1] (-1 = any size)",
    );
  });

  test('a non-batching model refuses an added batch dimension', () => {
    const a: Tensor = { name: 'a', datatype: 'INT32', shape: [1, 2, 2], data: new Int32Array(4) };
    assertInvalid(
      () => validateRequest(FIXED, { model: 'fixed', inputs: [a] }),
      "input 'a': shape [1,2,2] does not match the model's [2,2] (-1 = any size)",
    );
  });

  test('data that does not hold product(shape) elements is refused', () => {
    assertInvalid(
      () => validateRequest(BATCHED, request([x([1, 3, 2], 5), ids([1, 2])])),
      "input 'x': shape [1,3,2] has 6 elements but data has 5",
    );
  });

  test('a batch over max_batch_size is refused', () => {
    assertInvalid(
      () => validateRequest(BATCHED, request([x([5, 3, 1]), ids([5, 2])])),
      "input 'x': batch size 5 exceeds the model's max_batch_size 4",
    );
  });

  test('inputs with differing batch sizes are refused', () => {
    assertInvalid(
      () => validateRequest(BATCHED, request([x([2, 3, 1]), ids([3, 2])])),
      "input 'ids' has batch size 3 but input 'x' has 2; all inputs must share dim 0",
    );
  });
});

describe('validateRequest: outputs', () => {
  test('an unknown requested output is refused, listing the outputs', () => {
    assertInvalid(
      () => validateRequest(BATCHED, request([x([1, 3, 1]), ids([1, 2])], [{ name: 'logits' }])),
      "unknown output 'logits'; model 'ocr' has outputs 'probs', 'label'",
    );
  });

  test('a requested output listed twice is refused', () => {
    assertInvalid(
      () => validateRequest(BATCHED, request([x([1, 3, 1]), ids([1, 2])], [{ name: 'probs' }, { name: 'label' }, { name: 'probs' }])),
      "output 'probs' is requested more than once",
    );
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServingError } from '../../../src/errors/serving-error.js';
import { defineTensorHandler, type HandlerContext } from '../../../src/runtime/handler/handler-api.js';
import { checkTensorHandler, isTensorHandler, resolveSignature, tensorOutputs } from '../../../src/runtime/handler/tensor-handler.js';

const ctx = (parameters: Record<string, number> = {}): HandlerContext => ({
  model: 'm',
  dir: '/tmp',
  hasGraph: false,
  parameters,
  infer: () => Promise.reject(new Error('no models here')),
  readFile: () => Promise.reject(new Error('no files here')),
});

const topk = defineTensorHandler({
  maxBatchSize: 8,
  inputs: [{ name: 'p', datatype: 'FP32', shape: [-1, 10] }],
  outputs: (c) => [{ name: 'classes', datatype: 'INT64', shape: [-1, Number(c.parameters.k)] }],
  predict: () => ({}),
});

test('a tensor handler is told from a JSON one by its inputs/outputs, and its signature may read the parameters', () => {
  assert.equal(isTensorHandler(topk), true);
  assert.equal(isTensorHandler({ input: {}, output: {}, predict: () => ({}) }), false);
  assert.deepEqual(resolveSignature(topk, ctx({ k: 3 }), '/m/handler.ts'), {
    maxBatchSize: 8,
    inputs: [{ name: 'p', datatype: 'FP32', shape: [-1, 10] }],
    outputs: [{ name: 'classes', datatype: 'INT64', shape: [-1, 3] }],
  });
});

test('a declaration it cannot serve is refused at load, saying what to write', () => {
  assert.throws(() => checkTensorHandler({ inputs: 'x', outputs: [], maxBatchSize: -1 }, '/m/handler.ts', true), (error: Error) => {
    assert.equal(
      error.message,
      'handler.ts: a tensor handler needs `predict(inputs, ctx)` returning its outputs; `inputs` must be a list of { name, datatype, shape } (or a function of ctx returning one); ' +
        '`maxBatchSize` must be a non-negative integer; a tensor handler is the model itself, so its folder holds no version folders (<version>/model.onnx); call other models with ctx.infer()',
    );
    return true;
  });
  const signature = (inputs: unknown, maxBatchSize = 0) => () =>
    resolveSignature({ maxBatchSize, inputs: inputs as never, outputs: [{ name: 'y', datatype: 'FP32', shape: [-1] }], predict: () => ({}) }, ctx(), '/m/handler.ts');
  assert.throws(signature([{ name: 'x', datatype: 'FP32', shape: [4] }], 8), /^Error: handler\.ts: inputs\[0\] \(x\): with maxBatchSize 8, dimension 0 is the batch: declare the shape as \[-1, …\], not \[4\]$/);
  assert.throws(signature([{ name: 'x', datatype: 'FP32', shape: [1] }, { name: 'x', datatype: 'FP32', shape: [1] }]), /inputs\[1\] \(x\): 'x' is declared twice/);
  assert.throws(signature([{ name: 'x', datatype: 'FLOAT', shape: [1] }]), /inputs\[0\] \(x\): datatype must be one of BOOL, .*, not "FLOAT"/);
  assert.throws(signature([{ name: 'x', datatype: 'FP32', shape: [-2] }]), /inputs\[0\] \(x\): shape must be a list of sizes \(-1: any size\), not \[-2\]/);
  assert.throws(signature([]), /`inputs` must list at least one/);
  assert.throws(
    () => resolveSignature({ ...topk, outputs: () => { throw new Error('k is missing'); } }, ctx(), '/m/handler.ts'),
    /^Error: handler\.ts: `outputs\(ctx\)` failed: k is missing$/,
  );
});

test('answers are checked against the declared outputs, each problem naming the output', () => {
  const signature = { maxBatchSize: 8, inputs: [], outputs: [{ name: 'y', datatype: 'FP32' as const, shape: [-1, 2] }, { name: 'z', datatype: 'INT64' as const, shape: [-1] }] };
  const check = (returned: unknown, wanted = ['y'], rows: number | undefined = 1) => () => tensorOutputs(returned as never, signature, wanted, rows, 'm');
  const failsWith = (message: string) => (error: unknown) => error instanceof ServingError && error.code === 'HANDLER_FAILED' && error.message === message;
  assert.deepEqual(check({ y: { shape: [1, 2], data: Float32Array.of(1, 2) }, z: { shape: [1], data: BigInt64Array.of(3n) } })(), [
    { name: 'y', datatype: 'FP32', shape: [1, 2], data: Float32Array.of(1, 2) },
  ]);
  assert.throws(check({ z: { shape: [1], data: BigInt64Array.of(3n) } }), failsWith("handler 'm' answered no output 'y' (it answered 'z')"));
  assert.throws(check({ y: { shape: [1, 2], data: Float64Array.of(1, 2) } }), failsWith("handler 'm' answered output 'y' as FP64; it declares FP32"));
  assert.throws(check({ y: { shape: [1, 3], data: Float32Array.of(1, 2, 3) } }), failsWith("handler 'm' answered output 'y' of shape [1,3]; it declares [-1,2]"));
  assert.throws(check({ y: { shape: [2, 2], data: new Float32Array(4) } }), failsWith("handler 'm' answered output 'y' with 2 rows for a request of 1"));
  assert.throws(check({ y: { shape: [1, 2], data: new Float32Array(3) } }), failsWith("handler 'm' answered output 'y' with 3 elements for shape [1,2] (2)"));
  assert.throws(check(null), failsWith("handler 'm' answered outputs it cannot send: outputs must be an object of name → tensor or a list of named tensors, not null"));
});

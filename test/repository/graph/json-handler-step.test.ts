import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServingError } from '../../../src/errors/serving-error.js';
import { jsonHandlerStep } from '../../../src/repository/graph/json-handler-step.js';
import { describeDefinition } from '../../../src/runtime/handler/handler-input.js';
import { defineHandler, file, z } from '../../../src/runtime/handler/handler-api.js';
import { jsonStepBody, jsonStepOutputs } from '../../../src/router/graph/json-step-codec.js';

const describe = (input: z.ZodType, output: z.ZodType) => describeDefinition(defineHandler({ input, output, predict: () => ({}) as never }));

test('a JSON handler’s required fields become tensors: datatype by JSON type, a dimension per array level', () => {
  const { config, fields } = jsonHandlerStep(
    'h',
    describe(
      z.object({ x: z.number(), n: z.number().int(), on: z.boolean(), label: z.enum(['a', 'b']), grid: z.array(z.array(z.number()).length(3)), note: z.string().optional() }),
      z.object({ y: z.array(z.number().int()), ok: z.boolean(), extra: z.number().optional() }),
    ),
  );
  assert.deepEqual(
    config.inputs.map((t) => [t.name, t.datatype, t.dims]),
    [
      ['x', 'FP64', [1]],
      ['n', 'INT64', [1]],
      ['on', 'BOOL', [1]],
      ['label', 'BYTES', [1]],
      ['grid', 'FP64', [-1, 3]],
    ],
  );
  assert.deepEqual(
    config.outputs.map((t) => [t.name, t.datatype, t.dims]),
    [
      ['y', 'INT64', [-1]],
      ['ok', 'BOOL', [1]],
    ],
  );
  assert.equal(config.maxBatchSize, 0);
  assert.deepEqual(fields.inputs.map((f) => f.scalar), [true, true, true, true, false]);
});

test('fields without a tensor form are refused, each named', () => {
  assert.throws(
    () => jsonHandlerStep('h', describe(z.object({ doc: file(), pair: z.union([z.number(), z.string()]) }), z.object({ deep: z.object({ a: z.number() }) }))),
    (error: unknown) =>
      error instanceof ServingError &&
      error.code === 'CONFIG_INVALID' &&
      /^model 'h' is a JSON handler \(defineHandler\) that cannot be a graph step: its request field 'doc' is a file, which has no tensor form; field 'pair' is of type \["number","string"\]; its response field 'deep' is an object \(a tensor holds numbers, integers, booleans or strings, in arrays\); declare it with defineTensorHandler instead$/.test(error.message),
  );
});

test('tensors to a request body and an answer back to tensors, with scalars, nesting and ragged answers', () => {
  const { fields } = jsonHandlerStep('h', describe(z.object({ x: z.number(), grid: z.array(z.array(z.number())) }), z.object({ y: z.array(z.array(z.number().int())), ok: z.boolean(), s: z.string() })));
  const body = jsonStepBody(
    fields,
    [
      { name: 'x', datatype: 'FP32', shape: [1], data: Float32Array.of(0.5) },
      { name: 'grid', datatype: 'INT64', shape: [2, 2], data: BigInt64Array.of(1n, 2n, 3n, 4n) },
    ],
    'h',
  );
  assert.deepEqual(JSON.parse(new TextDecoder().decode(body)), { x: 0.5, grid: [[1, 2], [3, 4]] });
  assert.throws(() => jsonStepBody(fields, [{ name: 'x', datatype: 'FP32', shape: [2], data: Float32Array.of(1, 2) }, { name: 'grid', datatype: 'FP32', shape: [0, 0], data: new Float32Array() }], 'h'), /field 'x' takes one value, and tensor 'x' \[2\] holds 2/);
  const answer = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  assert.deepEqual(jsonStepOutputs(fields, answer({ y: [[1, 2, 3], [4, 5, 6]], ok: true, s: 'hi' }), 'h'), [
    { name: 'y', datatype: 'INT64', shape: [2, 3], data: BigInt64Array.of(1n, 2n, 3n, 4n, 5n, 6n) },
    { name: 'ok', datatype: 'BOOL', shape: [1], data: Uint8Array.of(1) },
    { name: 's', datatype: 'BYTES', shape: [1], data: ['hi'] },
  ]);
  assert.throws(() => jsonStepOutputs(fields, answer({ y: [[1, 2], [3]], ok: true, s: '' }), 'h'), /handler 'h' answered a field 'y' is ragged: item 1 is \[1\] and item 0 is \[2\], which is no tensor/);
});

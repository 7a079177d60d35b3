import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { ServingError } from '../../../src/errors/serving-error.js';
import { defineHandler } from '../../../src/runtime/handler/define-handler.js';
import { file } from '../../../src/runtime/handler/file-schema.js';
import { checkDefinition, describeDefinition, inputError, rawInput, toTensors } from '../../../src/runtime/handler/handler-input.js';
import type { HandlerDescription } from '../../../src/runtime/handler/handler-messages.js';
import { image } from '../../../src/runtime/handler/image.js';

const minimal = { input: z.object({}), output: z.object({}) };
const json = (text: string) => ({ kind: 'json' as const, body: new TextEncoder().encode(text) });

describe('checkDefinition', () => {
  test('accepts predict, or preprocess with postprocess around a graph', () => {
    assert.doesNotThrow(() => checkDefinition({ ...minimal, predict: () => ({}) }, '/m/handler.ts', false));
    assert.doesNotThrow(() => checkDefinition({ ...minimal, preprocess: () => ({}), postprocess: () => ({}) }, '/m/handler.ts', true));
  });

  test('says what is wrong with the default export', () => {
    assert.throws(() => checkDefinition(undefined, '/m/handler.ts', false), /handler\.ts must `export default defineHandler/);
    assert.throws(() => checkDefinition({ input: 1, output: z.object({}), predict: () => ({}) }, '/m/handler.ts', false), /`input` must be a zod schema/);
    assert.throws(() => checkDefinition({ ...minimal }, '/m/handler.ts', false), /needs a `predict` function/);
    assert.throws(() => checkDefinition({ ...minimal, preprocess: () => ({}) }, '/m/handler.ts', true), /one of them is missing/);
    assert.throws(
      () => checkDefinition({ ...minimal, predict: () => ({}), preprocess: () => ({}), postprocess: () => ({}) }, '/m/handler.ts', true),
      /not both/,
    );
    assert.throws(
      () => checkDefinition({ ...minimal, preprocess: () => ({}), postprocess: () => ({}) }, '/m/handler.ts', false),
      /no <version>\/model\.onnx; use `predict`/,
    );
    assert.throws(() => checkDefinition({ ...minimal, setup: 3, predict: () => ({}) }, '/m/handler.js', false), /handler\.js: `setup` must be a function/);
  });
});

describe('describeDefinition', () => {
  const definition = defineHandler({
    description: 'reads things',
    input: z.object({
      photo: image(),
      attachments: z.array(file()).optional(),
      threshold: z.number().min(0).max(1).default(0.5),
      label: z.string().optional(),
    }),
    output: z.object({ text: z.string() }),
    predict: () => ({ text: '' }),
  });

  test('gives JSON Schemas of input and output and names the file fields', () => {
    const d = describeDefinition(definition);
    assert.equal(d.mode, 'predict');
    assert.equal(d.description, 'reads things');
    assert.deepEqual(d.fileFields, ['photo', 'attachments']);
    const props = d.inputSchema.properties as Record<string, Record<string, unknown>>;
    assert.equal(props.photo!.type, 'string');
    assert.equal(props.photo!.format, 'binary');
    assert.deepEqual(props.threshold, { default: 0.5, type: 'number', minimum: 0, maximum: 1 });
    assert.deepEqual(d.inputSchema.required, ['photo']);
    assert.deepEqual((d.outputSchema.properties as Record<string, unknown>).text, { type: 'string' });
  });

  test('a graph handler is described as such', () => {
    const d = describeDefinition(defineHandler({ ...minimal, preprocess: () => ({}), postprocess: () => ({}) }));
    assert.equal(d.mode, 'graph');
    assert.deepEqual(d.fileFields, []);
  });
});

describe('rawInput', () => {
  const description: HandlerDescription = describeDefinition(
    defineHandler({
      input: z.object({
        photo: image(),
        scans: z.array(file()).optional(),
        name: z.string().optional(),
        count: z.number().optional(),
        flags: z.array(z.boolean()).optional(),
        mode: z.union([z.literal(1), z.string()]).optional(),
      }),
      output: z.object({}),
      predict: () => ({}),
    }),
  );
  const upload = { data: new Uint8Array([1, 2, 3]), filename: 'a.png', mediaType: 'image/png' };

  test('JSON bodies are parsed; an empty one is an empty object', () => {
    assert.deepEqual(rawInput(json('{"count":2}'), description), { count: 2 });
    assert.deepEqual(rawInput(json(''), description), {});
  });

  test('bad JSON is MALFORMED_REQUEST', () => {
    assert.throws(
      () => rawInput(json('{"count":'), description),
      (e: unknown) => e instanceof ServingError && e.code === 'MALFORMED_REQUEST' && /not valid JSON/.test(e.message),
    );
  });

  test('multipart text parts stay strings where the schema takes strings and are read as JSON elsewhere', () => {
    const input = rawInput(
      {
        kind: 'multipart',
        fields: [
          { name: 'name', value: '42' },
          { name: 'count', value: '42' },
          { name: 'flags', value: 'true' },
          { name: 'flags', value: 'false' },
          { name: 'mode', value: 'fast' },
          { name: 'other', value: 'not json' },
        ],
        files: [
          { name: 'photo', file: upload },
          { name: 'scans', file: upload },
        ],
      },
      description,
    );
    assert.deepEqual(input, { name: '42', count: 42, flags: [true, false], mode: 'fast', other: 'not json', photo: upload, scans: [upload] });
  });

  test('a raw upload becomes the one file field (a list when the field is one)', () => {
    assert.deepEqual(rawInput({ kind: 'file', field: 'photo', file: upload }, description), { photo: upload });
    assert.deepEqual(rawInput({ kind: 'file', field: 'scans', file: upload }, description), { scans: [upload] });
  });
});

describe('inputError', () => {
  test('lists every problem with its field path as INVALID_INPUT', async () => {
    const schema = z.object({ a: z.number(), b: z.object({ c: z.string() }) });
    const result = await schema.safeParseAsync({ a: 'x', b: { c: 1 } });
    assert.equal(result.success, false);
    const error = inputError(result.error!);
    assert.equal(error.code, 'INVALID_INPUT');
    assert.match(error.message, /^invalid input: a: .*expected number.*; b\.c: .*expected string/);
  });

  test('a size limit makes it PAYLOAD_TOO_LARGE', async () => {
    const schema = z.object({ doc: file({ maxBytes: 2 }) });
    const result = await schema.safeParseAsync({ doc: { data: new Uint8Array(3) } });
    const error = inputError(result.error!);
    assert.equal(error.code, 'PAYLOAD_TOO_LARGE');
    assert.match(error.message, /doc: file is 3 bytes, more than the limit of 2 bytes/);
  });
});

describe('toTensors', () => {
  test('infers datatypes from typed arrays and keeps explicit ones', () => {
    const tensors = toTensors({
      a: { shape: [2], data: new Float32Array(2) },
      b: { shape: [1], data: new BigInt64Array(1) },
      c: { shape: [1], data: ['x'] },
      d: { shape: [2], data: new Uint16Array(2), datatype: 'FP16' },
      e: { shape: [3], data: Buffer.from([1, 2, 3]) },
    });
    assert.deepEqual(
      tensors.map((t) => [t.name, t.datatype]),
      [
        ['a', 'FP32'],
        ['b', 'INT64'],
        ['c', 'BYTES'],
        ['d', 'FP16'],
        ['e', 'UINT8'],
      ],
    );
  });

  test('a list of named tensors passes through', () => {
    const t = { name: 'x', datatype: 'INT32' as const, shape: [1], data: new Int32Array(1) };
    assert.deepEqual(toTensors([t]), [t]);
  });

  test('refuses what it cannot send, naming the input', () => {
    assert.throws(() => toTensors({ x: { shape: [1], data: new Uint8ClampedArray(1) as unknown as Uint8Array } }), /input 'x': cannot tell the datatype of Uint8ClampedArray/);
    assert.throws(() => toTensors({ x: { shape: [-1], data: new Float32Array(1) } }), /input 'x': shape must be/);
    assert.throws(() => toTensors({ x: { shape: [1], data: [1] as unknown as string[], datatype: 'FLOAT' as 'FP32' } }), /unknown datatype 'FLOAT'/);
    assert.throws(() => toTensors({ x: { shape: [1], data: 5 as unknown as Float32Array } }), /data must be a typed array/);
  });
});

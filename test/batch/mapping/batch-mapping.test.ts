import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelConfig, TensorSpec } from '../../../src/config/model-config.js';
import { ChunkBuilder } from '../../../src/batch/mapping/chunk-builder.js';
import { expandFieldSpec, planInputs } from '../../../src/batch/mapping/input-plan.js';
import { decodeOutputs, defaultOutputColumns, float32Text, parseOutputColumns } from '../../../src/batch/mapping/output-columns.js';
import { RowError, writeElement } from '../../../src/batch/mapping/tensor-values.js';
import type { RowView } from '../../../src/batch/sources/row-source.js';
import { isServingError } from '../../../src/errors/serving-error.js';

function model(inputs: TensorSpec[], outputs: TensorSpec[], maxBatchSize = 8): ModelConfig {
  return { name: 'm', platform: 'onnxruntime_onnx', maxBatchSize, inputs, outputs } as unknown as ModelConfig;
}

/** A row over plain values, one per slot (as the JSONL and SQL sources give them). */
function row(values: unknown[], position = 0): RowView {
  return {
    position,
    get: (slot) => values[slot],
    fastNumber: (slot) => (typeof values[slot] === 'number' ? (values[slot] as number) : Number.NaN),
    problem: () => undefined,
    location: () => `row ${position + 1}`,
    raw: () => JSON.stringify(values),
  };
}

const configError = (pattern: RegExp) => (error: unknown) => isServingError(error) && error.code === 'CONFIG_INVALID' && pattern.test(error.message);

describe('field specs and input plans', () => {
  const columns = ['id', 'p0', 'p1', 'p2', 'p3', 'age', 'pixel_a', 'pixel_b'];

  test('ranges, wildcards and lists expand in column order', () => {
    assert.deepEqual(expandFieldSpec('p1..p3', columns, true, 'x'), ['p1', 'p2', 'p3']);
    assert.deepEqual(expandFieldSpec('pixel_*', columns, true, 'x'), ['pixel_a', 'pixel_b']);
    assert.deepEqual(expandFieldSpec('age, p0,pixel_*', columns, true, 'x'), ['age', 'p0', 'pixel_a', 'pixel_b']);
    assert.deepEqual(expandFieldSpec('a,b', ['a,b'], false, 'x'), ['a,b'], 'YAML list entries are never split');
    assert.throws(() => expandFieldSpec('p3..p1', columns, true, '--map x'), configError(/--map x: range 'p3\.\.p1' runs backwards/));
    assert.throws(() => expandFieldSpec('q*', columns, true, '--map x'), configError(/'q\*' matches no column; the columns are 'id', 'p0'/));
  });

  test('defaults: a same-named field feeds its input; a single input takes every non-key column', () => {
    const single = model([{ name: 'x', datatype: 'FP32', dims: [4] }], [{ name: 'y', datatype: 'FP32', dims: [1] }]);
    const plan = planInputs(single, ['id', 'p0', 'p1', 'p2', 'p3'], 'id', new Map());
    assert.deepEqual(plan[0]!.fields, ['p0', 'p1', 'p2', 'p3']);
    assert.equal(plan[0]!.mode, 'scalars');
    const named = planInputs(single, ['id', 'x', 'other'], 'id', new Map());
    assert.deepEqual(named[0]!.fields, ['x']);
    assert.equal(named[0]!.mode, 'array');
    const two = model(
      [
        { name: 'a', datatype: 'FP32', dims: [1] },
        { name: 'b', datatype: 'INT64', dims: [1] },
      ],
      [{ name: 'y', datatype: 'FP32', dims: [1] }],
    );
    assert.throws(() => planInputs(two, ['id', 'a', 'c'], 'id', new Map()), configError(/nothing feeds input 'b' \(INT64 \[1\] per row\): no column is named 'b' and the model has several inputs; map it with --map b=COLUMNS/));
    assert.deepEqual(planInputs(two, ['id', 'a', 'c'], 'id', new Map([['b', { specs: ['c'], splitCommas: true }]]))[1]!.fields, ['c']);
  });

  test('column counts are checked against the input shape, and a single variable dim is inferred', () => {
    const fixed = model([{ name: 'x', datatype: 'FP32', dims: [2, 2] }], []);
    assert.throws(() => planInputs(fixed, ['a', 'b', 'c'], undefined, new Map()), configError(/takes 4 values per row, but 3 columns map to it \('a', 'b', 'c'\)/));
    const variable = model([{ name: 'x', datatype: 'FP32', dims: [-1, 2] }], []);
    assert.deepEqual(planInputs(variable, ['a', 'b', 'c', 'd', 'e', 'f'], undefined, new Map())[0]!.rowShape, [3, 2]);
    assert.throws(() => planInputs(variable, ['a', 'b', 'c'], undefined, new Map()), configError(/3 columns cannot fill rows of \[-1,2\]/));
    const two = model([{ name: 'x', datatype: 'FP32', dims: [-1, -1] }], []);
    assert.throws(() => planInputs(two, ['a', 'b'], undefined, new Map()), configError(/has 2 variable dimensions/));
  });
});

describe('ChunkBuilder', () => {
  test('packs rows into one contiguous tensor per input with dim 0 = rows', () => {
    const config = model([{ name: 'x', datatype: 'FP32', dims: [3] }], []);
    const [plan] = planInputs(config, ['a', 'b', 'c'], undefined, new Map());
    const builder = new ChunkBuilder([plan!], [[0, 1, 2]], [['a', 'b', 'c']], 4, true);
    assert.equal(builder.add(row([1, '2.5', ' 3 '])), true);
    assert.equal(builder.add(row([4, 5, 6])), true);
    const [tensor] = builder.take();
    assert.deepEqual(tensor!.shape, [2, 3]);
    assert.deepEqual([...tensor!.data as Float32Array], [1, 2.5, 3, 4, 5, 6]);
    assert.equal(builder.size, 0);
  });

  test('a bad value is a RowError naming the field, and the row is not counted', () => {
    const config = model([{ name: 'x', datatype: 'INT32', dims: [2] }], []);
    const [plan] = planInputs(config, ['a', 'b'], undefined, new Map());
    const builder = new ChunkBuilder([plan!], [[0, 1]], [["column 'a'", "column 'b'"]], 4, true);
    assert.throws(() => builder.add(row([1, 2.5])), (e: unknown) => e instanceof RowError && /column 'b': 2\.5 is not an integer \(INT32\)/.test(e.message));
    assert.throws(() => builder.add(row([1, 3e10])), (e: unknown) => e instanceof RowError && /3000000000\d is out of range for INT32/.test(e.message));
    assert.throws(() => builder.add(row([undefined, 1])), (e: unknown) => e instanceof RowError && /column 'a' is missing/.test(e.message));
    builder.add(row([7, 8]));
    assert.deepEqual([...(builder.take()[0]!.data as Int32Array)], [7, 8]);
  });

  test('nested arrays are checked against the dims, and rows of another shape start a new chunk', () => {
    const config = model([{ name: 'seq', datatype: 'INT64', dims: [-1] }], []);
    const [plan] = planInputs(config, ['tokens'], undefined, new Map());
    const builder = new ChunkBuilder([plan!], [[0]], [["field 'tokens'"]], 8, true);
    assert.equal(builder.add(row([[1, 2, 3]])), true);
    assert.equal(builder.add(row([[4, 5, 6]])), true);
    assert.equal(builder.add(row([[7, 8]])), false, 'a shorter sequence cannot share the tensor');
    const first = builder.take()[0]!;
    assert.deepEqual(first.shape, [2, 3]);
    assert.deepEqual([...(first.data as BigInt64Array)], [1n, 2n, 3n, 4n, 5n, 6n]);
    assert.equal(builder.add(row([[7, 8]])), true);
    assert.deepEqual(builder.take()[0]!.shape, [1, 2]);
    const image = model([{ name: 'image', datatype: 'FP32', dims: [1, 2, 2] }], []);
    const [imagePlan] = planInputs(image, ['image'], undefined, new Map());
    const images = new ChunkBuilder([imagePlan!], [[0]], [["field 'image'"]], 8, true);
    assert.equal(images.add(row([[[[1, 2], [3, 4]]]])), true, 'nested');
    assert.equal(images.add(row([[5, 6, 7, 8]])), true, 'flat with the right count');
    assert.equal(images.add(row(['[9, 10, 11, 12]'])), true, 'a JSON text array (a CSV cell, a SQLite TEXT column)');
    assert.throws(() => images.add(row([[[1, 2], [3]]])), (e: unknown) => e instanceof RowError && /not rectangular/.test(e.message));
    assert.throws(() => images.add(row([[1, 2, 3]])), (e: unknown) => e instanceof RowError && /\[3\] \(3 values\) does not fit input 'image', which takes \[1,2,2\] per row \(4 values\)/.test(e.message));
    assert.deepEqual([...(images.take()[0]!.data as Float32Array)], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  test('models without a batch dimension get one row per request, shaped as the config says', () => {
    const config = model([{ name: 'x', datatype: 'FP32', dims: [2, 2] }], [], 0);
    const [plan] = planInputs(config, ['a', 'b', 'c', 'd'], undefined, new Map());
    const builder = new ChunkBuilder([plan!], [[0, 1, 2, 3]], [['a', 'b', 'c', 'd']], 1, false);
    builder.add(row([1, 2, 3, 4]));
    assert.equal(builder.full, true);
    assert.deepEqual(builder.take()[0]!.shape, [2, 2]);
  });

  test('BYTES, BOOL, FP16 and UINT64 values', () => {
    const bytes = ['x'];
    writeElement('BYTES', bytes, 0, { a: 1 }, 'f');
    assert.deepEqual(bytes, ['{"a":1}']);
    const bools = new Uint8Array(3);
    writeElement('BOOL', bools, 0, 'true', 'f');
    writeElement('BOOL', bools, 1, 0, 'f');
    writeElement('BOOL', bools, 2, true, 'f');
    assert.deepEqual([...bools], [1, 0, 1]);
    assert.throws(() => writeElement('BOOL', bools, 0, 'yes', 'f'), /f: 'yes' is not a boolean/);
    const half = new Uint16Array(1);
    writeElement('FP16', half, 0, '1.5', 'f');
    assert.equal(half[0], 0x3e00);
    assert.throws(() => writeElement('FP16', half, 0, 70000, 'f'), /out of range for FP16/);
    const big = new BigUint64Array(1);
    writeElement('UINT64', big, 0, '18446744073709551615', 'f');
    assert.equal(big[0], 18446744073709551615n);
    assert.throws(() => writeElement('UINT64', big, 0, -1, 'f'), /out of range for UINT64/);
    assert.throws(() => writeElement('FP32', new Float32Array(1), 0, '', 'column p1'), /column p1 is empty/);
    assert.throws(() => writeElement('FP32', new Float32Array(1), 0, '0x10', 'column p1'), /'0x10' is not a number/);
  });
});

describe('output columns', () => {
  const classifier = model([{ name: 'x', datatype: 'FP32', dims: [2] }], [{ name: 'probabilities', datatype: 'FP32', dims: [3] }]);

  test('a classifier defaults to label and score; labels turn the label into a name', () => {
    assert.deepEqual(defaultOutputColumns(classifier, undefined).map((c) => [c.name, c.type, c.expression]), [
      ['label', 'integer', 'argmax(probabilities)'],
      ['score', 'real', 'max(probabilities)'],
    ]);
    assert.deepEqual(defaultOutputColumns(classifier, ['a', 'b', 'c']).map((c) => [c.name, c.type]), [['label', 'text'], ['score', 'real']]);
    const several = model([], [
      { name: 'value', datatype: 'INT64', dims: [1] },
      { name: 'scores', datatype: 'FP32', dims: [4] },
      { name: 'boxes', datatype: 'FP32', dims: [-1, 4] },
      { name: 'text', datatype: 'BYTES', dims: [1] },
    ]);
    assert.deepEqual(defaultOutputColumns(several, undefined).map((c) => [c.name, c.type]), [
      ['value', 'integer'],
      ['scores_label', 'integer'],
      ['scores_score', 'real'],
      ['boxes', 'json'],
      ['text', 'text'],
    ]);
  });

  test('expressions compute what they say from each row', () => {
    const columns = parseOutputColumns(classifier, [['i', 'argmax(probabilities)'], ['m', 'max(probabilities)'], ['second', 'probabilities[1]'], ['all', 'json(probabilities)'], ['name', 'label(probabilities)']], ['cat', 'dog', 'owl']);
    const output = { name: 'probabilities', datatype: 'FP32' as const, shape: [2, 3], data: Float32Array.from([0.1, 0.7, 0.2, 0.5, 0.25, 0.25]) };
    const values = decodeOutputs(columns, [output], 2, true, ['cat', 'dog', 'owl']);
    assert.deepEqual(values[0], [1, 0]);
    assert.deepEqual(values[1], [Math.fround(0.7), 0.5]);
    assert.deepEqual(values[2], [Math.fround(0.7), 0.25]);
    assert.deepEqual(values[3], ['[0.1,0.7,0.2]', '[0.5,0.25,0.25]']);
    assert.deepEqual(values[4], ['dog', 'cat']);
  });

  test('bad expressions are mapping errors that say what would work', () => {
    assert.throws(() => parseOutputColumns(classifier, [['x', 'probabilities']], undefined), configError(/has 3 values per row \(\[3\]\); use argmax\(probabilities\), max\(probabilities\), json\(probabilities\) or probabilities\[i\]/));
    assert.throws(() => parseOutputColumns(classifier, [['x', 'probabilities[3]']], undefined), configError(/indices run 0\.\.2/));
    assert.throws(() => parseOutputColumns(classifier, [['x', 'softmax(probabilities)']], undefined), configError(/cannot read 'softmax\(probabilities\)'/));
    assert.throws(() => parseOutputColumns(classifier, [['x', 'label(probabilities)']], undefined), configError(/label\(\) needs class names/));
  });

  test('float32 values print as the shortest text that reads back the same', () => {
    for (const v of [0.1, 0.7, 1 / 3, 1e-7, 123456.789, 3.4e38]) {
      const f = Math.fround(v);
      const text = float32Text(f);
      assert.equal(Math.fround(Number(text)), f);
      assert.ok(text.length <= 14, text);
    }
    assert.equal(float32Text(Math.fround(0.1)), '0.1');
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clone, create } from '@bufbuild/protobuf';
import * as ort from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { readDataset } from '../../src/optimize/dataset.js';
import { quantizeDynamic } from '../../src/optimize/dynamic-int8.js';
import { convertToFloat16 } from '../../src/optimize/fp16.js';
import { makeNode } from '../../src/optimize/graph-editor.js';
import { decodeOnnxModel, encodeOnnxModel } from '../../src/optimize/onnx-model.js';
import { makeTensor, readFloats, readIntegers } from '../../src/optimize/onnx-tensors.js';
import { ensureOpset } from '../../src/optimize/opset-upgrade.js';
import { GraphProtoSchema, ModelProtoSchema, OperatorSetIdProtoSchema, type ModelProto } from '../../src/optimize/proto/onnx-ml_pb.js';
import { quantizeWeightPerTensor } from '../../src/optimize/quant-params.js';
import { quantizeStatic } from '../../src/optimize/static-int8.js';
import { probeTypes } from '../../src/optimize/tensor-probe.js';
import type { ModelConfig } from '../../src/config/model-config.js';
import { EXAMPLES } from '../helpers/paths.js';

const MLP = join(EXAMPLES, 'digits_mlp');
const MLP_BYTES = readFileSync(join(MLP, '1/model.onnx'));
const load = (): ModelProto => decodeOnnxModel(MLP_BYTES);
const MLP_CONFIG = {
  maxBatchSize: 64,
  inputs: [{ name: 'image', datatype: 'FP32', dims: [1, 8, 8] }],
  outputs: [{ name: 'probabilities', datatype: 'FP32', dims: [10] }],
} as unknown as ModelConfig;
const heldOut = await readDataset([join(MLP, 'data/heldout.csv')], MLP_CONFIG, { label: 'label', maxRows: 64 });
const calibration = await readDataset([join(MLP, 'data/calibration.csv')], MLP_CONFIG, { label: 'label', maxRows: 128 });
const batch = heldOut.batches[0]!.find((t) => t.name === 'image')!;

/** The model's class for each held-out row, in onnxruntime-node and onnxruntime-web (wasm, in Node). */
async function classes(model: Uint8Array): Promise<{ node: number[]; web: number[] }> {
  const argmax = (data: Float32Array): number[] =>
    Array.from({ length: data.length / 10 }, (_, r) => {
      const row = Array.from(data.subarray(r * 10, r * 10 + 10));
      return row.indexOf(Math.max(...row));
    });
  const node = await ort.InferenceSession.create(model);
  const a = await node.run({ image: new ort.Tensor('float32', batch.data as Float32Array, batch.shape) });
  await node.release();
  ortWeb.env.wasm.numThreads = 1;
  const web = await ortWeb.InferenceSession.create(model);
  const b = await web.run({ image: new ortWeb.Tensor('float32', batch.data as Float32Array, batch.shape) });
  await web.release();
  return { node: argmax(a.probabilities!.data as Float32Array), web: argmax(b.probabilities!.data as Float32Array) };
}

const floatClasses = await classes(MLP_BYTES);
const agreement = (a: number[], b: number[]): number => a.filter((c, i) => c === b[i]).length / a.length;

describe('dynamic int8', () => {
  test("MLP: every Gemm becomes MatMulInteger with onnxruntime's names; it runs in onnxruntime-node and onnxruntime-web and agrees with the float model", async () => {
    const model = load();
    const weights = new Map(model.graph!.initializer.map((t) => [t.name, t]));
    const summary = quantizeDynamic(model, {});
    assert.equal(summary.quantized.length, 4);
    const ops = model.graph!.node.map((n) => n.opType);
    assert.equal(ops.filter((o) => o === 'MatMulInteger').length, 4);
    assert.equal(ops.filter((o) => o === 'Gemm').length, 0);
    assert.ok(model.graph!.node.some((n) => n.opType === 'DynamicQuantizeLinear' && n.name.endsWith('_QuantizeLinear')));
    // The first layer's weights: torch exports Linear as Gemm with transB=1, so B is transposed, then
    // quantized per tensor, int8, symmetric: exactly quantize_data on the transposed weights.
    const gemm = load().graph!.node.find((n) => n.opType === 'Gemm')!;
    const w = weights.get(gemm.input[1]!)!;
    const [n, k] = w.dims.map(Number) as [number, number];
    const data = readFloats(w);
    const transposed = new Float32Array(data.length);
    for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) transposed[j * n + i] = data[i * k + j]!;
    const expected = quantizeWeightPerTensor(transposed, { type: 'int8', symmetric: true, reduceRange: false });
    const init = (name: string) => model.graph!.initializer.find((t) => t.name === name)!;
    const base = `${w.name}_transposed`;
    assert.deepEqual(readIntegers(init(`${base}_quantized`)), [...expected.values]);
    assert.equal(readFloats(init(`${base}_scale`))[0], expected.scales[0]);
    assert.deepEqual(init(`${base}_scale`).dims, []);
    assert.deepEqual(readIntegers(init(`${base}_zero_point`)), [0]);
    const int8 = await classes(encodeOnnxModel(model));
    assert.ok(agreement(int8.node, floatClasses.node) >= 0.98, `node agreement ${agreement(int8.node, floatClasses.node)}`);
    assert.deepEqual(int8.web, int8.node);
  });

  test('per channel: one scale per output column', () => {
    const model = load();
    quantizeDynamic(model, { perChannel: true });
    const scale = model.graph!.initializer.find((t) => t.name.endsWith('_transposed_scale'))!;
    assert.equal(scale.dims.length, 1);
    assert.ok(Number(scale.dims[0]) > 1);
  });

  test('an op type it cannot quantize is refused by name', () => {
    assert.throws(() => quantizeDynamic(load(), { opTypes: ['LSTM'] }), { code: 'OPTIMIZE_UNSUPPORTED', message: /op type 'LSTM'/ });
  });

  const ocrRec = join(EXAMPLES, 'ocr_rec/1/model.onnx');
  test('PaddleOCR recognition (opset 9, weights in Constant nodes): moved to opset 11, its MatMuls quantized, it runs', { skip: existsSync(ocrRec) ? false : 'ocr_rec is not linked (npm run models)' }, async () => {
    const model = decodeOnnxModel(readFileSync(ocrRec));
    const summary = quantizeDynamic(model, {});
    assert.deepEqual(summary.opset, { from: 9, to: 11 });
    assert.ok(summary.quantized.length >= 9);
    assert.ok(summary.skipped.every((s) => s.reason.includes('not a constant')), 'only activation × activation MatMuls stay float');
    assert.ok(!model.graph!.node.some((n) => n.opType === 'Slice' && n.attribute.some((a) => a.name === 'starts')), 'Slice-10 takes starts as an input');
    const session = await ort.InferenceSession.create(encodeOnnxModel(model));
    const x = new Float32Array(3 * 48 * 320).map((_, i) => Math.sin(i));
    const out = await session.run({ x: new ort.Tensor('float32', x, [1, 3, 48, 320]) });
    assert.deepEqual(Object.values(out)[0]!.dims, [1, 40, 6625]);
    await session.release();
  });
});

describe('static int8 (QDQ)', () => {
  for (const method of ['minmax', 'percentile'] as const) {
    test(`${method} calibration: QuantizeLinear/DequantizeLinear around every Gemm, int32 biases; runs in node and web`, async () => {
      const model = load();
      const summary = await quantizeStatic(model, { calibration: calibration.batches, method });
      assert.equal(summary.quantized.length, 4);
      assert.ok(summary.calibrated >= 5);
      const ops = model.graph!.node.map((n) => n.opType);
      assert.ok(ops.filter((o) => o === 'QuantizeLinear').length >= 4);
      const bias = model.graph!.initializer.find((t) => t.name.endsWith('bias_quantized'))!;
      assert.equal(bias.dataType, 6, 'INT32');
      const int8 = await classes(encodeOnnxModel(model));
      assert.ok(agreement(int8.node, floatClasses.node) >= 0.95, `agreement ${agreement(int8.node, floatClasses.node)}`);
      assert.ok(agreement(int8.web, int8.node) >= 0.98);
    });
  }
});

describe('fp16', () => {
  test('MLP: half the size, float32 at the edges, same classes in node and web', async () => {
    const model = load();
    const sample = [{ ...batch, shape: [1, 1, 8, 8], data: (batch.data as Float32Array).slice(0, 64) }];
    const summary = convertToFloat16(model, { types: await probeTypes(model, sample) });
    assert.ok(summary.converted > 0);
    const bytes = encodeOnnxModel(model);
    assert.ok(bytes.byteLength <= 0.55 * MLP_BYTES.byteLength, `${bytes.byteLength} / ${MLP_BYTES.byteLength}`);
    assert.equal(model.graph!.input[0]!.type?.value.case === 'tensorType' && model.graph!.input[0]!.type.value.value.elemType, 1, 'input stays FLOAT');
    const fp16 = await classes(bytes);
    assert.deepEqual(fp16.node, floatClasses.node);
    assert.deepEqual(fp16.web, floatClasses.node);
  });
});

/** opset 9: x → Upsample → MatMul(W): a model whose opset has to move for int8 and cannot. */
function upsampleModel(): ModelProto {
  const graph = create(GraphProtoSchema, {
    name: 'g',
    node: [makeNode('Upsample', ['x', 'scales'], ['up'], 'grow', { mode: 'nearest' }), makeNode('MatMul', ['up', 'W'], ['y'], 'mm')],
    initializer: [makeTensor.float('scales', [4], Float32Array.of(1, 1, 2, 2)), makeTensor.float('W', [4, 3], new Float32Array(12).fill(0.5))],
  });
  return create(ModelProtoSchema, { irVersion: 4n, graph, opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 9n })] });
}

describe('what it cannot handle', () => {
  test('an op whose meaning changed on the way to opset 11 stops the upgrade with its name; the model is untouched', () => {
    const model = upsampleModel();
    const before = clone(ModelProtoSchema, model);
    assert.throws(() => quantizeDynamic(model), { code: 'OPTIMIZE_UNSUPPORTED', message: /node 'grow' \(Upsample\) cannot be converted/ });
    assert.throws(() => ensureOpset(clone(ModelProtoSchema, before), 11), /Upsample/);
    assert.deepEqual(encodeOnnxModel(model), encodeOnnxModel(before));
  });
});

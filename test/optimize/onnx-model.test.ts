import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import * as ort from 'onnxruntime-node';
import { decodeOnnxModel, encodeOnnxModel, readOnnxModel, writeOnnxModel } from '../../src/optimize/onnx-model.js';
import { StringStringEntryProtoSchema, TensorProto_DataLocation } from '../../src/optimize/proto/onnx-ml_pb.js';
import { EXAMPLES, TEST_MODELS } from '../helpers/paths.js';

/** Every example model and every generated test model (all datatypes, fixed and named dims), by name → file. */
const models = new Map(
  [EXAMPLES, TEST_MODELS].flatMap((dir) =>
    readdirSync(dir)
      .map((m) => [m, join(dir, m, '1/model.onnx')] as const)
      .filter(([, file]) => existsSync(file)),
  ),
);

/** Inputs for any graph, from its metadata: variable dims become 2, values small and deterministic. */
function feedsFor(session: ort.InferenceSession): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) continue;
    const dims = meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 2));
    const n = dims.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, (_, i) => (i * 7) % 13);
    const type = meta.type;
    if (type === 'string') feeds[meta.name] = new ort.Tensor('string', values.map(String), dims);
    else if (type === 'bool') feeds[meta.name] = new ort.Tensor('bool', Uint8Array.from(values.map((v) => v % 2)), dims);
    else if (type === 'int64') feeds[meta.name] = new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);
    else if (type === 'uint64') feeds[meta.name] = new ort.Tensor('uint64', BigUint64Array.from(values.map(BigInt)), dims);
    else if (type === 'float16') feeds[meta.name] = new ort.Tensor('float16', Uint16Array.from(values.map(() => 0x3c00)), dims);
    else {
      const Arrays = { float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array } as const;
      const Array_ = Arrays[type as keyof typeof Arrays];
      feeds[meta.name] = new ort.Tensor(type as 'float32', Array_.from(values) as Float32Array, dims);
    }
  }
  return feeds;
}

async function outputsOf(model: Uint8Array | string, feeds?: Record<string, ort.Tensor>): Promise<{ feeds: Record<string, ort.Tensor>; outputs: Record<string, unknown[]> }> {
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(model);
  const f = feeds ?? feedsFor(session);
  const results = await session.run(f);
  await session.release();
  return { feeds: f, outputs: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Array.from(v.data as ArrayLike<unknown>)])) };
}

describe('ONNX read/write round trip', () => {
  for (const [name, path] of models) {
    test(`${name}: re-serialised, it gives the same outputs${name === 'fixed_matmul' ? '' : ' and the same bytes'}`, async () => {
      const bytes = readFileSync(path);
      const again = encodeOnnxModel(decodeOnnxModel(bytes));
      // Every model written by C++ protobuf (PyTorch, paddle2onnx, onnx) comes back byte for byte.
      // fixed_matmul was written by protobufjs, which packs proto2's unpacked `dims`; it comes back
      // in protobuf's canonical form, the same message.
      if (name !== 'fixed_matmul') assert.ok(Buffer.from(again).equals(bytes), `${name}: bytes differ`);
      const before = await outputsOf(path);
      const after = await outputsOf(again, before.feeds);
      assert.deepEqual(after.outputs, before.outputs);
    });
  }

  test('fields this definition does not know (a newer IR) are kept', () => {
    const bytes = readFileSync(join(EXAMPLES, 'digits/1/model.onnx'));
    // Field 999, varint 42: what a future ModelProto field looks like to today's definition.
    const extended = Buffer.concat([bytes, Buffer.from([0xb8, 0x3e, 42])]);
    assert.ok(Buffer.from(encodeOnnxModel(decodeOnnxModel(extended))).equals(extended));
  });

  test('external data: tensors stay external, their file is copied beside the new model, outputs are unchanged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-onnx-'));
    try {
      const model = decodeOnnxModel(readFileSync(join(EXAMPLES, 'digits/1/model.onnx')));
      const chunks: Buffer[] = [];
      let offset = 0;
      for (const t of model.graph!.initializer) {
        if (t.rawData.byteLength < 1024) continue;
        chunks.push(Buffer.from(t.rawData));
        const entry = (key: string, value: string) => create(StringStringEntryProtoSchema, { key, value });
        t.externalData = [entry('location', 'weights.bin'), entry('offset', String(offset)), entry('length', String(t.rawData.byteLength))];
        t.dataLocation = TensorProto_DataLocation.EXTERNAL;
        offset += t.rawData.byteLength;
        t.rawData = new Uint8Array(0);
      }
      await writeFile(join(dir, 'weights.bin'), Buffer.concat(chunks));
      await writeFile(join(dir, 'model.onnx'), encodeOnnxModel(model));
      const read = await readOnnxModel(join(dir, 'model.onnx'));
      const copy = join(dir, 'copy', 'model.onnx');
      await writeOnnxModel(read.proto, copy, { sourceDir: read.dir });
      assert.ok((await readFile(join(dir, 'copy', 'weights.bin'))).equals(await readFile(join(dir, 'weights.bin'))));
      assert.ok((await readFile(copy)).equals(await readFile(join(dir, 'model.onnx'))));
      const original = await outputsOf(join(EXAMPLES, 'digits/1/model.onnx'));
      assert.deepEqual((await outputsOf(copy, original.feeds)).outputs, original.outputs);
      assert.deepEqual(readdirSync(join(dir, 'copy')).sort(), ['model.onnx', 'weights.bin'], 'no temporary file is left');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a file that is not ONNX is refused with its name', () => {
    assert.throws(() => decodeOnnxModel(Buffer.from('not a model at all'), 'x.onnx'), /x\.onnx is not a readable ONNX model/);
  });
});

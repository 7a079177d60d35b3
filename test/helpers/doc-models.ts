// Small ONNX models shaped like the ones in the dialects' documentation (TF Serving's half_plus_two
// and its REST API doc's tag/signal/sensor example, Azure's 10-feature regression), so the tests can
// send the documented request bodies verbatim. Written with onnx-proto, like the test-model generator.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

function value(name: string, elemType: Onnx.TensorProto.DataType, dims: Array<number | string>): Onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

function floats(name: string, dims: number[], values: number[]): Onnx.ITensorProto {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return { name, dataType: T.FLOAT, dims, rawData: new Uint8Array(view.buffer) };
}

function int64s(name: string, values: number[]): Onnx.ITensorProto {
  const view = new DataView(new ArrayBuffer(values.length * 8));
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return { name, dataType: T.INT64, dims: [values.length], rawData: new Uint8Array(view.buffer) };
}

function model(name: string, nodes: Onnx.INodeProto[], inputs: Onnx.IValueInfoProto[], outputs: Onnx.IValueInfoProto[], init: Onnx.ITensorProto[] = []): Uint8Array {
  const proto: Onnx.IModelProto = {
    irVersion: 8,
    producerName: 'slipway tests',
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name, node: nodes, input: inputs, output: outputs, initializer: init },
  };
  const problem = onnx.ModelProto.verify(proto);
  if (problem !== null) throw new Error(problem);
  return onnx.ModelProto.encode(proto).finish();
}

const n = (opType: string, input: string[], output: string[], attribute: Onnx.IAttributeProto[] = []): Onnx.INodeProto => ({ opType, input, output, attribute, name: output.join('_') });

/** y = 0.5·x + 2 on FP32[-1]: TF Serving's half_plus_two. */
export function halfPlusTwo(): Uint8Array {
  return model(
    'half_plus_two',
    [n('Mul', ['x', 'half'], ['scaled']), n('Add', ['scaled', 'two'], ['y'])],
    [value('x', T.FLOAT, ['batch'])],
    [value('y', T.FLOAT, ['batch'])],
    [floats('half', [], [0.5]), floats('two', [], [2])],
  );
}

/**
 * The TF Serving REST API doc's example signature: tag BYTES[-1], signal FP32[-1,5], sensor
 * FP32[-1,2,2]; outputs total = Σsignal + Σsensor per row, and tag_bytes = tag.
 */
export function tagSignalSensor(): Uint8Array {
  return model(
    'tag_signal_sensor',
    [
      n('ReduceSum', ['signal', 'axes1'], ['signal_sum'], [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }]),
      n('ReduceSum', ['sensor', 'axes12'], ['sensor_sum'], [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }]),
      n('Add', ['signal_sum', 'sensor_sum'], ['total']),
      n('Identity', ['tag'], ['tag_bytes']),
    ],
    [value('tag', T.STRING, ['batch']), value('signal', T.FLOAT, ['batch', 5]), value('sensor', T.FLOAT, ['batch', 2, 2])],
    [value('total', T.FLOAT, ['batch']), value('tag_bytes', T.STRING, ['batch'])],
    [int64s('axes1', [1]), int64s('axes12', [1, 2])],
  );
}

/** y = x·w + 0.5 with w = [1/8, 2/8, …, 10/8] (exact in FP32): FP32[-1,10] → FP32[-1,1] (Azure's 10-feature regression examples). */
export function linear10(): Uint8Array {
  return model(
    'linear10',
    [n('MatMul', ['x', 'w'], ['xw']), n('Add', ['xw', 'b'], ['y'])],
    [value('x', T.FLOAT, ['batch', 10])],
    [value('y', T.FLOAT, ['batch', 1])],
    [floats('w', [10, 1], Array.from({ length: 10 }, (_, i) => (i + 1) / 8)), floats('b', [], [0.5])],
  );
}

/** score = age + income on FP32[-1,1] each: a tabular model with one input per column. */
export function twoColumns(): Uint8Array {
  return model('two_columns', [n('Add', ['age', 'income'], ['score'])], [value('age', T.FLOAT, ['batch', 1]), value('income', T.FLOAT, ['batch', 1])], [value('score', T.FLOAT, ['batch', 1])]);
}

/** A repository holding the named models (each version 1, one instance, one thread). */
export async function docRepository(models: Record<string, Uint8Array>): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-doc-'));
  for (const [name, bytes] of Object.entries(models)) {
    await mkdir(join(dir, name, '1'), { recursive: true });
    await writeFile(join(dir, name, '1', 'model.onnx'), bytes);
    await writeFile(join(dir, name, 'config.yaml'), 'instance_group:\n  count: 1\n  intra_op_threads: 1\n');
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

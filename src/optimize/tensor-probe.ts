import { clone, create } from '@bufbuild/protobuf';
import * as ort from 'onnxruntime-node';
import { DATATYPE_INFO } from '../tensor/datatypes.js';
import type { Tensor } from '../tensor/tensor.js';
import { encodeOnnxModel } from './onnx-model.js';
import { ModelProtoSchema, ValueInfoProtoSchema, type ModelProto } from './proto/onnx-ml_pb.js';

/** One batch of graph inputs, as Slipway tensors. */
export type Feeds = Tensor[];

function toOrt(feeds: Feeds): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const t of feeds) out[t.name] = new ort.Tensor(DATATYPE_INFO[t.datatype].onnxType as 'float32', t.data as Float32Array, t.shape);
  return out;
}

/**
 * Runs the float model over batches with intermediate values exposed as extra graph outputs (no
 * type needed: onnxruntime infers it), handing each value to `visit`. This is how calibration
 * sees activations and how the fp16 pass learns every tensor's element type, as onnxruntime's
 * calibrator does by augmenting the graph.
 *
 * @example
 * await probeTensors(model, ['conv1_out'], batches, (name, value) => track(name, value.data));
 */
export async function probeTensors(
  model: ModelProto,
  names: readonly string[],
  batches: Iterable<Feeds>,
  visit: (name: string, value: ort.Tensor) => void,
): Promise<void> {
  const augmented = clone(ModelProtoSchema, model);
  const graph = augmented.graph!;
  const present = new Set(graph.output.map((o) => o.name));
  for (const name of names) {
    if (present.has(name)) continue;
    present.add(name);
    graph.output.push(create(ValueInfoProtoSchema, { name }));
  }
  const session = await ort.InferenceSession.create(encodeOnnxModel(augmented), { graphOptimizationLevel: 'disabled', logSeverityLevel: 4 });
  try {
    for (const feeds of batches) {
      const results = await session.run(toOrt(feeds), [...names]);
      for (const name of names) {
        const value = results[name];
        if (value !== undefined) visit(name, value);
      }
    }
  } finally {
    await session.release();
  }
}

/** The element type (`float32`, `int64`, …) of every value a node produces, from one run. */
export async function probeTypes(model: ModelProto, sample: Feeds): Promise<Map<string, string>> {
  const names = model.graph!.node.flatMap((n) => n.output).filter((n) => n !== '');
  const types = new Map<string, string>();
  await probeTensors(model, names, [sample], (name, value) => types.set(name, value.type));
  return types;
}

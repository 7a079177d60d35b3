import { create } from '@bufbuild/protobuf';
import { ServingError } from '../errors/serving-error.js';
import { describeNode, getAttribute, GraphEditor, makeNode } from './graph-editor.js';
import { DataType, makeTensor, readFloats, toFloat16Bits } from './onnx-tensors.js';
import { TypeProto_TensorSchema, TypeProtoSchema, type ModelProto, type TensorProto, type ValueInfoProto } from './proto/onnx-ml_pb.js';

/**
 * onnxconverter-common's DEFAULT_OP_BLOCK_LIST: ops that stay in float32 because they lose
 * accuracy in float16 or have no float16 kernel (the ML ops, NMS, TopK, Resize, Range, …).
 */
export const DEFAULT_FP16_BLOCK_LIST: readonly string[] = [
  'ArrayFeatureExtractor', 'Binarizer', 'CastMap', 'CategoryMapper', 'DictVectorizer', 'FeatureVectorizer', 'Imputer',
  'LabelEncoder', 'LinearClassifier', 'LinearRegressor', 'Normalizer', 'OneHotEncoder', 'RandomUniformLike', 'SVMClassifier',
  'SVMRegressor', 'Scaler', 'TreeEnsembleClassifier', 'TreeEnsembleRegressor', 'ZipMap', 'NonMaxSuppression', 'TopK',
  'RoiAlign', 'Resize', 'Range', 'CumSum', 'Min', 'Max', 'Upsample',
];

/** Quantization ops: their scales must stay float32, so a quantized model's float parts are converted around them. */
const QUANTIZATION_OPS = new Set(['QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'MatMulInteger', 'ConvInteger', 'QLinearConv', 'QLinearMatMul']);

/** Ops carrying a graph of their own; their bodies would need converting with them. */
const SUBGRAPH_OPS = new Set(['If', 'Loop', 'Scan']);

export interface Fp16Options {
  /** Element type of every value the graph computes (from `probeTypes`); values not listed are not float32. */
  types: ReadonlyMap<string, string>;
  /** Keep graph inputs and outputs float32, with Casts at the edges (onnxconverter-common's keep_io_types); default true. */
  keepIoTypes?: boolean;
  /** Op types left in float32 (default DEFAULT_FP16_BLOCK_LIST). */
  opBlockList?: readonly string[];
  /** Node names left in float32. */
  nodeBlockList?: readonly string[];
  /** Weights closer to 0 than this become ±this (onnxconverter-common's min_positive_val, 1e-7), so they do not flush to 0. */
  minPositiveVal?: number;
  /** Weights beyond ±this are clamped to it (max_finite_val, 1e4). */
  maxFiniteVal?: number;
}

export interface Fp16Summary {
  /** Nodes that compute in float16. */
  converted: number;
  /** Nodes kept in float32, by name, with the reason. */
  blocked: Array<{ node: string; reason: string }>;
  /** Initializer values moved into the float16 range by clamping. */
  clamped: number;
}

/**
 * Converts a model to float16 as onnxconverter-common's `convert_float_to_float16` does: float32
 * initializers, Constant values and computed values become float16, Casts to float32 become Casts
 * to float16, blocked ops run in float32 between Casts, and (keep_io_types) the graph's float32
 * inputs and outputs stay float32 with a Cast at each edge.
 *
 * @example
 * const types = await probeTypes(model.proto, sample);
 * const summary = convertToFloat16(model.proto, { types });
 */
export function convertToFloat16(model: ModelProto, options: Fp16Options): Fp16Summary {
  const graph = model.graph;
  if (graph === undefined) throw new ServingError('MODEL_LOAD_FAILED', 'the model has no graph');
  const editor = new GraphEditor(graph);
  editor.constantsToInitializers();
  const blockOps = new Set(options.opBlockList ?? DEFAULT_FP16_BLOCK_LIST);
  const blockNodes = new Set(options.nodeBlockList ?? []);
  const minPositive = options.minPositiveVal ?? 1e-7;
  const maxFinite = options.maxFiniteVal ?? 1e4;
  const keepIo = options.keepIoTypes ?? true;
  const summary: Fp16Summary = { converted: 0, blocked: [], clamped: 0 };

  const isFloat = (name: string): boolean => {
    if (name === '') return false;
    const init = editor.initializer(name);
    if (init !== undefined) return init.dataType === DataType.FLOAT;
    const input = graph.input.find((i) => i.name === name);
    if (input !== undefined) return input.type?.value.case === 'tensorType' && input.type.value.value.elemType === DataType.FLOAT;
    return options.types.get(name) === 'float32';
  };

  for (const node of graph.node) {
    if (SUBGRAPH_OPS.has(node.opType) && node.output.some(isFloat)) {
      throw new ServingError('OPTIMIZE_UNSUPPORTED', `fp16 cannot convert node ${describeNode(node)}: converting the graphs inside ${node.opType} is not supported; list it in --fp16-block-nodes only if its body needs no conversion`);
    }
  }

  // Values (initializers, computed values, graph inputs) that will hold float16.
  const converted = new Set<string>();
  if (!keepIo) {
    for (const input of graph.input) {
      if (editor.initializer(input.name) !== undefined || !isFloat(input.name)) continue;
      converted.add(input.name);
      setElemType(input, DataType.FLOAT16);
    }
  }
  const customDomain = (domain: string): boolean => domain !== '' && domain !== 'ai.onnx';
  const blocked = graph.node.filter((n) => blockOps.has(n.opType) || blockNodes.has(n.name) || SUBGRAPH_OPS.has(n.opType) || QUANTIZATION_OPS.has(n.opType) || customDomain(n.domain));
  for (const node of blocked) {
    const reason = blockNodes.has(node.name)
      ? 'in the node block list'
      : customDomain(node.domain)
        ? `custom domain '${node.domain}': its float16 support is unknown`
        : QUANTIZATION_OPS.has(node.opType)
          ? 'a quantization op (its scales stay float32)'
          : 'op type in the block list';
    summary.blocked.push({ node: describeNode(node), reason });
  }
  const blockedSet = new Set(blocked);
  for (const node of graph.node) {
    if (blockedSet.has(node)) continue;
    summary.converted++;
    for (const output of node.output) if (isFloat(output)) converted.add(output);
    if (node.opType === 'Cast' && Number(getAttribute(node, 'to')?.i) === DataType.FLOAT) {
      getAttribute(node, 'to')!.i = BigInt(DataType.FLOAT16);
      for (const output of node.output) converted.add(output);
    }
    const value = node.opType === 'ConstantOfShape' ? getAttribute(node, 'value') : undefined;
    if (value?.t !== undefined && value.t.dataType === DataType.FLOAT) value.t = toFloat16Tensor(value.t, minPositive, maxFinite, summary);
    for (const input of node.input) if (editor.initializer(input)?.dataType === DataType.FLOAT) converted.add(input);
  }
  for (const t of graph.initializer) {
    if (converted.has(t.name) && t.dataType === DataType.FLOAT) {
      const at = graph.initializer.indexOf(t);
      graph.initializer[at] = toFloat16Tensor(t, minPositive, maxFinite, summary);
    }
  }
  // Re-index: the initializer objects were replaced.
  const fresh = new GraphEditor(graph);

  // A float16 value read by a blocked node goes through a Cast back to float32, and a blocked
  // node's float32 output feeding float16 nodes through a Cast to float16.
  for (const node of blocked) {
    const before = [];
    for (let i = 0; i < node.input.length; i++) {
      const input = node.input[i]!;
      if (!converted.has(input)) continue;
      const cast = fresh.uniqueName(`${input}_to_fp32_for_${node.name || node.opType}`);
      before.push(makeNode('Cast', [input], [cast], fresh.uniqueName(`${cast}_cast`), { to: DataType.FLOAT }));
      node.input[i] = cast;
    }
    fresh.insertBefore(node, before);
    for (let i = 0; i < node.output.length; i++) {
      const output = node.output[i]!;
      if (!isFloat(output)) continue;
      const readers = graph.node.filter((n) => !blockedSet.has(n) && n.input.includes(output));
      if (readers.length === 0) continue;
      const cast = fresh.uniqueName(`${output}_to_fp16`);
      for (const r of readers) r.input = r.input.map((x) => (x === output ? cast : x));
      fresh.insertAfterProducer(output, [makeNode('Cast', [output], [cast], fresh.uniqueName(`${cast}_cast`), { to: DataType.FLOAT16 })]);
      converted.delete(cast);
    }
  }

  // The graph's edges.
  for (const input of keepIo ? graph.input : []) {
    if (fresh.initializer(input.name) !== undefined || !isFloat(input.name)) continue;
    const readers = graph.node.filter((n) => !blockedSet.has(n) && n.input.includes(input.name));
    if (readers.length === 0) continue;
    const cast = fresh.uniqueName(`${input.name}_fp16`);
    for (const r of readers) r.input = r.input.map((x) => (x === input.name ? cast : x));
    graph.node.unshift(makeNode('Cast', [input.name], [cast], fresh.uniqueName(`${cast}_cast`), { to: DataType.FLOAT16 }));
  }
  for (const output of graph.output) {
    if (!converted.has(output.name)) continue;
    if (!keepIo) {
      setElemType(output, DataType.FLOAT16);
      continue;
    }
    const renamed = fresh.uniqueName(`${output.name}_fp16`);
    for (const n of graph.node) {
      n.output = n.output.map((x) => (x === output.name ? renamed : x));
      n.input = n.input.map((x) => (x === output.name ? renamed : x));
    }
    graph.node.push(makeNode('Cast', [renamed], [output.name], fresh.uniqueName(`${output.name}_cast_to_fp32`), { to: DataType.FLOAT }));
  }
  // Intermediate type annotations would contradict the new types; onnxruntime infers them again.
  graph.valueInfo = graph.valueInfo.filter((v) => !converted.has(v.name));
  return summary;
}

function setElemType(value: ValueInfoProto, elemType: number): void {
  if (value.type?.value.case === 'tensorType') value.type.value.value.elemType = elemType;
  else value.type = create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType }) } });
}

function toFloat16Tensor(tensor: TensorProto, minPositive: number, maxFinite: number, summary: Fp16Summary): TensorProto {
  const data = readFloats(tensor);
  const bits = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    // onnxconverter-common's convert_np_to_float16: tiny values to ±min_positive_val, large ones to ±max_finite_val.
    const clamped = v > 0 && v < minPositive ? minPositive : v < 0 && v > -minPositive ? -minPositive : v > maxFinite ? maxFinite : v < -maxFinite ? -maxFinite : v;
    if (clamped !== v) summary.clamped++;
    bits[i] = toFloat16Bits(clamped);
  }
  const out = makeTensor.float16(tensor.name, tensor.dims.map(Number), bits);
  out.docString = tensor.docString;
  return out;
}

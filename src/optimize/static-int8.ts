import { ServingError } from '../errors/serving-error.js';
import { calibrate, type CalibrationOptions, type TensorRange } from './calibration.js';
import type { QuantizeSummary } from './dynamic-int8.js';
import { defaultOpset, describeNode, GraphEditor, intAttribute, makeNode, type AttributeValue } from './graph-editor.js';
import { DataType, dataTypeName, makeTensor, readFloats } from './onnx-tensors.js';
import { ensureOpset } from './opset-upgrade.js';
import type { ModelProto, NodeProto } from './proto/onnx-ml_pb.js';
import { computeScaleZeroPoint, quantRange, quantizeWeightPerChannel, quantizeWeightPerTensor, roundHalfEven, type QuantizedWeight } from './quant-params.js';
import type { Feeds } from './tensor-probe.js';

export const STATIC_OP_TYPES = ['Conv', 'MatMul', 'Gemm'] as const;

export interface StaticInt8Options {
  /** Batches of graph inputs the float model is run on to find activation ranges. */
  calibration: readonly Feeds[];
  method?: CalibrationOptions['method'];
  percentile?: number;
  /** Default Conv, MatMul and Gemm: the ops whose QLinear forms onnxruntime fuses QDQ into. */
  opTypes?: readonly string[];
  /** Per-channel weights (needs opset 13; older models fall back to per tensor, as onnxruntime does). */
  perChannel?: boolean;
  reduceRange?: boolean;
  nodesToExclude?: readonly string[];
}

export interface StaticSummary extends QuantizeSummary {
  /** Activations given a range by calibration. */
  calibrated: number;
  /** Why per-channel was not used, when it was asked for and could not be. */
  notes: string[];
}

interface Params {
  scale: string;
  zeroPoint: string;
  /** The float32 scale(s), for the bias. */
  scales: Float32Array;
}

/**
 * Static int8 in onnxruntime's QDQ format (`quantize_static` with `QuantFormat.QDQ`, its defaults:
 * int8 activations with a zero point, int8 symmetric weights, int32 biases at input scale × weight
 * scale): each quantized op reads its activations through QuantizeLinear → DequantizeLinear pairs
 * whose scales come from calibration, its weights through a DequantizeLinear of int8 initializers.
 * onnxruntime fuses DQ → Conv/MatMul/Gemm → Q into QLinearConv/QLinearMatMul/QGemm at load time.
 *
 * @example
 * const summary = await quantizeStatic(model.proto, { calibration: batches, method: 'minmax' });
 */
export async function quantizeStatic(model: ModelProto, options: StaticInt8Options): Promise<StaticSummary> {
  const opTypes = options.opTypes ?? STATIC_OP_TYPES;
  for (const op of opTypes) {
    if (!(STATIC_OP_TYPES as readonly string[]).includes(op)) {
      throw new ServingError('OPTIMIZE_UNSUPPORTED', `static int8 cannot quantize op type '${op}'; it handles ${STATIC_OP_TYPES.join(', ')}`);
    }
  }
  if (options.calibration.length === 0) throw new ServingError('CONFIG_INVALID', 'static quantization needs calibration data: --calibration names no rows');
  const graph = model.graph;
  if (graph === undefined) throw new ServingError('MODEL_LOAD_FAILED', 'the model has no graph');
  const editor = new GraphEditor(graph);
  editor.constantsToInitializers();
  const summary: StaticSummary = { quantized: [], skipped: [], opset: { from: 0, to: 0 }, calibrated: 0, notes: [] };
  const outputs = new Set(graph.output.map((o) => o.name));

  const chosen: NodeProto[] = [];
  for (const node of graph.node) {
    if (!opTypes.includes(node.opType) || (node.domain !== '' && node.domain !== 'ai.onnx') || (options.nodesToExclude ?? []).includes(node.name)) continue;
    const weight = editor.constant(node.input[1] ?? '');
    if (node.opType !== 'MatMul' && weight === undefined) summary.skipped.push({ node: describeNode(node), reason: 'its weight (input 1) is not a constant initializer' });
    else if (weight !== undefined && weight.dataType !== DataType.FLOAT) summary.skipped.push({ node: describeNode(node), reason: `its weight is ${dataTypeName(weight.dataType)}, not FLOAT` });
    else if (node.opType === 'Gemm' && intAttribute(node, 'transA', 0) !== 0) summary.skipped.push({ node: describeNode(node), reason: 'Gemm with transA=1' });
    else chosen.push(node);
  }
  const activationsOf = (node: NodeProto): string[] => {
    const names = [node.input[0]!];
    if (node.opType === 'MatMul' && editor.constant(node.input[1]!) === undefined) names.push(node.input[1]!);
    if (!outputs.has(node.output[0]!)) names.push(node.output[0]!);
    return names;
  };
  const activations = [...new Set(chosen.flatMap(activationsOf))];
  // Ranges come from the float model as it is, before anything is rewritten.
  const ranges = await calibrate(model, activations, options.calibration, { method: options.method ?? 'minmax', ...(options.percentile !== undefined && { percentile: options.percentile }) });
  summary.calibrated = ranges.size;
  if (chosen.length === 0) return summary;

  let perChannel = options.perChannel ?? false;
  if (perChannel && defaultOpset(model) < 13) {
    perChannel = false;
    summary.notes.push(`per-channel QDQ needs opset 13 (the model has ${defaultOpset(model)}); weights were quantized per tensor`);
  }
  summary.opset = ensureOpset(model, 11);
  const rewriter = new QdqRewriter(editor, ranges, perChannel, options.reduceRange ?? false);
  for (const node of chosen) {
    const missing = activationsOf(node).filter((n) => !ranges.has(n));
    if (missing.length > 0) {
      summary.skipped.push({ node: describeNode(node), reason: `no float range for ${missing.map((m) => `'${m}'`).join(', ')} (not a float tensor, or never computed)` });
      continue;
    }
    rewriter.rewrite(node, activationsOf(node));
    summary.quantized.push(describeNode(node));
  }
  editor.removeUnusedInitializers();
  return summary;
}

class QdqRewriter {
  private readonly activations = new Map<string, Params & { output: string }>();
  private readonly weights = new Map<string, Params & { output: string }>();

  constructor(
    private readonly editor: GraphEditor,
    private readonly ranges: Map<string, TensorRange>,
    private readonly perChannel: boolean,
    private readonly reduceRange: boolean,
  ) {}

  rewrite(node: NodeProto, activations: string[]): void {
    const input0 = node.input[0]!;
    // Inputs then read the dequantized activations; the output keeps its name and gets its pair after the node.
    for (const name of activations) this.quantizeActivation(name);
    const input = this.activations.get(input0)!;
    const weightName = node.input[1]!;
    const weightTensor = this.editor.constant(weightName);
    if (weightTensor !== undefined) {
      const axis = node.opType === 'Conv' ? 0 : node.opType === 'Gemm' ? (intAttribute(node, 'transB', 0) === 1 ? 0 : 1) : weightTensor.dims.length - 1;
      const weight = this.quantizeWeight(weightName, axis);
      node.input[1] = weight.output;
      const bias = node.input[2];
      const biasTensor = bias === undefined || bias === '' ? undefined : this.editor.constant(bias);
      const betaIsOne = node.opType !== 'Gemm' || (node.attribute.find((a) => a.name === 'beta')?.f ?? 1) === 1;
      if (biasTensor !== undefined && biasTensor.dataType === DataType.FLOAT && biasTensor.dims.length === 1 && betaIsOne) {
        node.input[2] = this.quantizeBias(bias!, input.scales, weight.scales);
      }
    }
  }

  private quantizeActivation(name: string): void {
    if (this.activations.has(name)) return;
    const range = this.ranges.get(name)!;
    const params = computeScaleZeroPoint(range.min, range.max, quantRange('int8'), false);
    const scale = this.editor.addInitializer(makeTensor.float(this.editor.uniqueName(`${name}_scale`), [], Float32Array.of(params.scale)));
    const zeroPoint = this.editor.addInitializer(makeTensor.int8(this.editor.uniqueName(`${name}_zero_point`), [], Int8Array.of(params.zeroPoint)));
    const quantized = this.editor.uniqueName(`${name}_QuantizeLinear_Output`);
    const output = this.editor.uniqueName(`${name}_DequantizeLinear_Output`);
    const pair = [
      makeNode('QuantizeLinear', [name, scale, zeroPoint], [quantized], this.editor.uniqueName(`${name}_QuantizeLinear`)),
      makeNode('DequantizeLinear', [quantized, scale, zeroPoint], [output], this.editor.uniqueName(`${name}_DequantizeLinear`)),
    ];
    // Every reader of the value reads its dequantized form, as onnxruntime's QDQ quantizer does.
    for (const consumer of this.editor.consumers(name)) {
      consumer.input = consumer.input.map((i) => (i === name ? output : i));
    }
    this.editor.insertAfterProducer(name, pair);
    this.activations.set(name, { scale, zeroPoint, scales: Float32Array.of(params.scale), output });
  }

  private quantizeWeight(name: string, axis: number): Params & { output: string } {
    const known = this.weights.get(name);
    if (known !== undefined) return known;
    const tensor = this.editor.constant(name)!;
    const dims = tensor.dims.map(Number);
    const options = { type: 'int8' as const, symmetric: true, reduceRange: this.reduceRange };
    const weight: QuantizedWeight = this.perChannel ? quantizeWeightPerChannel(readFloats(tensor), dims, axis, options) : quantizeWeightPerTensor(readFloats(tensor), options);
    const paramDims = weight.axis === undefined ? [] : [weight.scales.length];
    const quantized = this.editor.addInitializer(makeTensor.int8(this.editor.uniqueName(`${name}_quantized`), dims, weight.values as Int8Array));
    const scale = this.editor.addInitializer(makeTensor.float(this.editor.uniqueName(`${name}_scale`), paramDims, weight.scales));
    const zeroPoint = this.editor.addInitializer(makeTensor.int8(this.editor.uniqueName(`${name}_zero_point`), paramDims, Int8Array.from(weight.zeroPoints)));
    const output = this.editor.uniqueName(`${name}_DequantizeLinear_Output`);
    const attributes: Record<string, AttributeValue> = weight.axis === undefined ? {} : { axis: weight.axis };
    this.editor.graph.node.unshift(makeNode('DequantizeLinear', [quantized, scale, zeroPoint], [output], this.editor.uniqueName(`${name}_DequantizeLinear`), attributes));
    const params = { scale, zeroPoint, scales: weight.scales, output };
    this.weights.set(name, params);
    return params;
  }

  /** int32 bias at scale input_scale × weight_scale, zero point 0 (onnxruntime's quantize_bias_static_impl). */
  private quantizeBias(name: string, inputScales: Float32Array, weightScales: Float32Array): string {
    const tensor = this.editor.constant(name)!;
    const data = readFloats(tensor);
    const perChannel = weightScales.length > 1;
    const scales = new Float32Array(perChannel ? weightScales.length : 1);
    for (let i = 0; i < scales.length; i++) scales[i] = Math.fround(inputScales[0]! * weightScales[i]!);
    const values = new Int32Array(data.length);
    for (let i = 0; i < data.length; i++) values[i] = roundHalfEven(Math.fround(data[i]! / scales[perChannel ? i : 0]!));
    const quantized = this.editor.addInitializer(makeTensor.int32(this.editor.uniqueName(`${name}_quantized`), tensor.dims.map(Number), values));
    const scale = this.editor.addInitializer(makeTensor.float(this.editor.uniqueName(`${name}_quantized_scale`), perChannel ? [scales.length] : [], scales));
    const zeroPoint = this.editor.addInitializer(makeTensor.int32(this.editor.uniqueName(`${name}_quantized_zero_point`), perChannel ? [scales.length] : [], new Int32Array(scales.length)));
    const output = this.editor.uniqueName(`${name}_DequantizeLinear_Output`);
    this.editor.graph.node.unshift(makeNode('DequantizeLinear', [quantized, scale, zeroPoint], [output], this.editor.uniqueName(`${name}_DequantizeLinear`), perChannel ? { axis: 0 } : {}));
    return output;
  }
}

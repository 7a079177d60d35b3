import { ServingError } from '../errors/serving-error.js';
import { describeNode, floatAttribute, GraphEditor, intAttribute, makeNode } from './graph-editor.js';
import { DataType, dataTypeName, makeTensor, readFloats } from './onnx-tensors.js';
import type { ModelProto, NodeProto, TensorProto } from './proto/onnx-ml_pb.js';
import { ensureOpset } from './opset-upgrade.js';
import { quantizeWeightPerChannel, quantizeWeightPerTensor, type QuantizedWeight, type QuantType } from './quant-params.js';

/** Ops `quantizeDynamic` knows how to rewrite. */
export const DYNAMIC_OP_TYPES = ['MatMul', 'Gemm', 'Conv'] as const;
export type DynamicOpType = (typeof DYNAMIC_OP_TYPES)[number];

export interface DynamicInt8Options {
  /** Default MatMul and Gemm. Conv is opt-in: it pays only on some models, and ConvInteger on onnxruntime's CPU provider needs uint8 weights (used for Conv whatever `weightType` says). */
  opTypes?: readonly string[];
  /** onnxruntime's `weight_type`, default int8 (QInt8). */
  weightType?: QuantType;
  /** One scale per output channel instead of one per tensor (default false, as onnxruntime). */
  perChannel?: boolean;
  /** 7-bit weights (onnxruntime's `reduce_range`), for CPUs without VNNI; default false. */
  reduceRange?: boolean;
  /** Node names to leave in float. */
  nodesToExclude?: readonly string[];
}

export interface QuantizeSummary {
  /** Nodes rewritten, by name (or op and output). */
  quantized: string[];
  /** Nodes of a quantizable type left in float, with the reason. */
  skipped: Array<{ node: string; reason: string }>;
  /** The ai.onnx opset before and after (the model is moved up when quantized ops need it). */
  opset: { from: number; to: number };
}

interface QuantizedInput {
  name: string;
  scale: string;
  zeroPoint: string;
}

/**
 * Dynamic int8 quantization as onnxruntime's `quantize_dynamic` (IntegerOps mode) does it: constant
 * weights are quantized ahead of time (int8, symmetric, per tensor by default), activations at run
 * time by `DynamicQuantizeLinear` (uint8), and `MatMul` becomes `MatMulInteger` → `Cast` → `Mul` by
 * the product of the two scales, with onnxruntime's node and tensor names. Like onnxruntime's
 * default (`MatMulConstBOnly`), a MatMul whose B is not a constant stays in float. Gemm (which
 * onnxruntime's IntegerOps mode leaves alone, but PyTorch exports every `nn.Linear` as) is rewritten
 * the same way: B transposed if `transB`, alpha folded into the weights, beta·C added after.
 *
 * @example
 * const summary = quantizeDynamic(model.proto, { perChannel: false });
 */
export function quantizeDynamic(model: ModelProto, options: DynamicInt8Options = {}): QuantizeSummary {
  const opTypes = options.opTypes ?? ['MatMul', 'Gemm'];
  for (const op of opTypes) {
    if (!(DYNAMIC_OP_TYPES as readonly string[]).includes(op)) {
      throw new ServingError('OPTIMIZE_UNSUPPORTED', `dynamic int8 cannot quantize op type '${op}'; it handles ${DYNAMIC_OP_TYPES.join(', ')}`);
    }
  }
  const graph = model.graph;
  if (graph === undefined) throw new ServingError('MODEL_LOAD_FAILED', 'the model has no graph');
  const editor = new GraphEditor(graph);
  editor.constantsToInitializers();
  const targets = graph.node.filter((n) => opTypes.includes(n.opType) && (n.domain === '' || n.domain === 'ai.onnx') && !(options.nodesToExclude ?? []).includes(n.name));
  const summary: QuantizeSummary = { quantized: [], skipped: [], opset: { from: 0, to: 0 } };
  const plans = targets.map((node) => ({ node, reason: whyNot(editor, node) }));
  for (const { node, reason } of plans) if (reason !== undefined) summary.skipped.push({ node: describeNode(node), reason });
  const chosen = plans.filter((p) => p.reason === undefined).map((p) => p.node);
  // DynamicQuantizeLinear exists from opset 11; older models are moved up first (or refused, naming the op that blocks it).
  summary.opset = chosen.length > 0 ? ensureOpset(model, 11) : { from: 0, to: 0 };

  const weightType = options.weightType ?? 'int8';
  const quantizer = new DynamicRewriter(editor, weightType, options.perChannel ?? false, options.reduceRange ?? false);
  for (const node of chosen) {
    quantizer.rewrite(node);
    summary.quantized.push(describeNode(node));
  }
  editor.removeUnusedInitializers();
  return summary;
}

function whyNot(editor: GraphEditor, node: NodeProto): string | undefined {
  const weight = editor.constant(node.input[1] ?? '');
  if (weight === undefined) return 'its weight (input 1) is not a constant initializer';
  if (weight.dataType !== DataType.FLOAT) return `its weight is ${dataTypeName(weight.dataType)}, not FLOAT`;
  if (node.opType === 'Gemm') {
    if (intAttribute(node, 'transA', 0) !== 0) return 'Gemm with transA=1';
    if (weight.dims.length !== 2) return 'Gemm weight is not 2-D';
  }
  if (node.opType === 'MatMul' && weight.dims.length < 2) return 'MatMul weight of rank < 2';
  if (node.opType === 'Conv' && node.input[2] !== undefined && node.input[2] !== '' && editor.constant(node.input[2]) === undefined) return 'its bias is not a constant';
  return undefined;
}

class DynamicRewriter {
  private readonly inputs = new Map<string, QuantizedInput>();
  private readonly weights = new Map<string, QuantizedInput>();

  constructor(
    private readonly editor: GraphEditor,
    private readonly weightType: QuantType,
    private readonly perChannel: boolean,
    private readonly reduceRange: boolean,
  ) {}

  rewrite(node: NodeProto): void {
    const nodes: NodeProto[] = [];
    const input = this.quantizeActivation(node.input[0]!, nodes);
    if (node.opType === 'Conv') return this.rewriteConv(node, input, nodes);
    const weight = this.quantizeMatMulWeight(node);
    const output = node.output[0]!;
    const base = node.name !== '' ? `${node.name}_quant` : '';
    const integerOutput = this.editor.uniqueName(`${output}_output_quantized`);
    nodes.push(makeNode('MatMulInteger', [input.name, weight.name, input.zeroPoint, weight.zeroPoint], [integerOutput], base === '' ? '' : this.editor.uniqueName(base)));
    const floatOutput = this.castToFloat(integerOutput, nodes);
    const scalesMul = this.editor.uniqueName(base !== '' ? `${base}_scales_mul` : `${input.scale}_${weight.scale}_mul`);
    nodes.push(makeNode('Mul', [input.scale, weight.scale], [`${scalesMul}:0`], scalesMul));
    if (node.opType === 'MatMul') {
      nodes.push(makeNode('Mul', [floatOutput, `${scalesMul}:0`], [output], base === '' ? '' : this.editor.uniqueName(`${base}_output_scale_mul`)));
    } else {
      const scaled = this.editor.uniqueName(`${output}_scaled`);
      nodes.push(makeNode('Mul', [floatOutput, `${scalesMul}:0`], [scaled], this.editor.uniqueName(`${base || output}_output_scale_mul`)));
      this.addGemmBias(node, scaled, output, nodes);
    }
    this.editor.replaceNode(node, nodes);
  }

  /** uint8 activations through DynamicQuantizeLinear, shared by every node reading the same value. */
  private quantizeActivation(name: string, nodes: NodeProto[]): QuantizedInput {
    const known = this.inputs.get(name);
    if (known !== undefined) return known;
    const quantized: QuantizedInput = {
      name: this.editor.uniqueName(`${name}_quantized`),
      scale: this.editor.uniqueName(`${name}_scale`),
      zeroPoint: this.editor.uniqueName(`${name}_zero_point`),
    };
    nodes.push(makeNode('DynamicQuantizeLinear', [name], [quantized.name, quantized.scale, quantized.zeroPoint], this.editor.uniqueName(`${name}_QuantizeLinear`)));
    this.inputs.set(name, quantized);
    return quantized;
  }

  private castToFloat(name: string, nodes: NodeProto[]): string {
    const output = this.editor.uniqueName(`${name}_cast_output`);
    nodes.push(makeNode('Cast', [name], [output], this.editor.uniqueName(`${name}_cast`), { to: DataType.FLOAT }));
    return output;
  }

  /** The weight as MatMulInteger's B ([K, N]); Gemm's is transposed and scaled by alpha first. */
  private quantizeMatMulWeight(node: NodeProto): QuantizedInput {
    const tensor = this.editor.constant(node.input[1]!)!;
    let dims = tensor.dims.map(Number);
    let data = readFloats(tensor);
    let key = tensor.name;
    if (node.opType === 'Gemm') {
      const alpha = floatAttribute(node, 'alpha', 1);
      const transB = intAttribute(node, 'transB', 0) === 1;
      if (transB || alpha !== 1) {
        key = `${tensor.name}${transB ? '_transposed' : ''}${alpha !== 1 ? `_x${alpha}` : ''}`;
        if (transB) {
          const [n, k] = dims as [number, number];
          const t = new Float32Array(data.length);
          for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) t[j * n + i] = data[i * k + j]!;
          data = t;
          dims = [k, n];
        }
        if (alpha !== 1) data = data.map((v) => Math.fround(v * alpha));
      }
    }
    const known = this.weights.get(key);
    if (known !== undefined) return known;
    const options = { type: this.weightType, symmetric: this.weightType === 'int8', reduceRange: this.reduceRange };
    // onnxruntime's per-channel axis for MatMulInteger's B is its last (one scale per output column).
    const weight = this.perChannel && dims.length === 2 ? quantizeWeightPerChannel(data, dims, -1, options) : quantizeWeightPerTensor(data, options);
    const result = this.storeWeight(key, dims, weight, this.weightType);
    this.weights.set(key, result);
    return result;
  }

  private storeWeight(name: string, dims: number[], weight: QuantizedWeight, type: QuantType): QuantizedInput {
    const quantizedName = this.editor.uniqueName(`${name}_quantized`);
    const scaleName = this.editor.uniqueName(`${name}_scale`);
    const zeroPointName = this.editor.uniqueName(`${name}_zero_point`);
    const paramDims = weight.axis === undefined ? [] : [weight.scales.length];
    this.editor.addInitializer(type === 'int8' ? makeTensor.int8(quantizedName, dims, weight.values as Int8Array) : makeTensor.uint8(quantizedName, dims, weight.values as Uint8Array));
    this.editor.addInitializer(makeTensor.float(scaleName, paramDims, weight.scales));
    this.editor.addInitializer(
      type === 'int8' ? makeTensor.int8(zeroPointName, paramDims, Int8Array.from(weight.zeroPoints)) : makeTensor.uint8(zeroPointName, paramDims, Uint8Array.from(weight.zeroPoints)),
    );
    return { name: quantizedName, scale: scaleName, zeroPoint: zeroPointName };
  }

  /** Y = MatMul(...)·scales (+ beta·C), with C folded ahead of time when it is a constant. */
  private addGemmBias(node: NodeProto, scaled: string, output: string, nodes: NodeProto[]): void {
    const c = node.input[2];
    if (c === undefined || c === '') {
      nodes.push(makeNode('Identity', [scaled], [output], this.editor.uniqueName(`${output}_identity`)));
      return;
    }
    const beta = floatAttribute(node, 'beta', 1);
    let bias = c;
    if (beta !== 1) {
      const constant = this.editor.constant(c);
      if (constant !== undefined && constant.dataType === DataType.FLOAT) {
        bias = this.editor.addInitializer(makeTensor.float(this.editor.uniqueName(`${c}_x${beta}`), constant.dims.map(Number), readFloats(constant).map((v) => Math.fround(v * beta))));
      } else {
        const betaName = this.editor.addInitializer(makeTensor.float(this.editor.uniqueName(`${node.name || output}_beta`), [], Float32Array.of(beta)));
        bias = this.editor.uniqueName(`${c}_scaled_by_beta`);
        nodes.push(makeNode('Mul', [c, betaName], [bias], this.editor.uniqueName(`${bias}_mul`)));
      }
    }
    nodes.push(makeNode('Add', [scaled, bias], [output], this.editor.uniqueName(`${node.name || output}_bias_add`)));
  }

  /**
   * ConvInteger(x_q, w_q, x_zp, w_zp) → Cast → Mul by the scales → + bias, as onnxruntime's
   * ConvInteger quantizer writes it. Weights are uint8: onnxruntime's CPU provider has no
   * ConvInteger kernel for int8 weights.
   */
  private rewriteConv(node: NodeProto, input: QuantizedInput, nodes: NodeProto[]): void {
    const tensor = this.editor.constant(node.input[1]!)!;
    const dims = tensor.dims.map(Number);
    let weight = this.weights.get(`${tensor.name}#conv`);
    if (weight === undefined) {
      const q = quantizeWeightPerTensor(readFloats(tensor), { type: 'uint8', symmetric: false, reduceRange: this.reduceRange });
      weight = this.storeWeight(tensor.name, dims, q, 'uint8');
      this.weights.set(`${tensor.name}#conv`, weight);
    }
    const output = node.output[0]!;
    const base = node.name !== '' ? `${node.name}_quant` : this.editor.uniqueName(`${output}_conv_quant`);
    const integerOutput = this.editor.uniqueName(`${output}_output_quantized`);
    nodes.push(makeNode('ConvInteger', [input.name, weight.name, input.zeroPoint, weight.zeroPoint], [integerOutput], this.editor.uniqueName(base)));
    nodes[nodes.length - 1]!.attribute = node.attribute.map((a) => a);
    const floatOutput = this.castToFloat(integerOutput, nodes);
    const scalesMul = this.editor.uniqueName(`${base}_scales_mul`);
    nodes.push(makeNode('Mul', [input.scale, weight.scale], [`${scalesMul}:0`], scalesMul));
    const bias = node.input[2];
    const scaledName = bias === undefined || bias === '' ? output : this.editor.uniqueName(`${output}_scaled`);
    nodes.push(makeNode('Mul', [floatOutput, `${scalesMul}:0`], [scaledName], this.editor.uniqueName(`${base}_output_scale_mul`)));
    if (scaledName !== output) {
      const reshaped = this.reshapedBias(bias!, dims.length);
      nodes.push(makeNode('Add', [scaledName, reshaped], [output], this.editor.uniqueName(`${base}_bias_add`)));
    }
    this.editor.replaceNode(node, nodes);
  }

  /** Conv's bias [C] as [1, C, 1, …] so it broadcasts over the output. */
  private reshapedBias(bias: string, rank: number): string {
    const tensor: TensorProto | undefined = this.editor.constant(bias);
    if (tensor === undefined) throw new ServingError('OPTIMIZE_UNSUPPORTED', `Conv bias '${bias}' is not a constant initializer`);
    const channels = Number(tensor.dims[0] ?? 1);
    return this.editor.addInitializer(makeTensor.float(this.editor.uniqueName(`${bias}_reshaped`), [1, channels, ...Array<number>(rank - 2).fill(1)], readFloats(tensor)));
  }
}

// Scale, zero point and quantized values exactly as onnxruntime's quantization tool computes them
// (onnxruntime/python/tools/quantization/quant_utils.py: get_qmin_qmax_for_qType, compute_scale_zp,
// quantize_nparray; base_quantizer.py: quantize_initializer_impl, quantize_weight_per_channel_impl).
// numpy's float32/float64 steps are reproduced with Math.fround, and its rounding (half to even).

/** The integer types weights and activations are quantized to. */
export type QuantType = 'int8' | 'uint8';

export interface QuantRange {
  qmin: number;
  qmax: number;
}

/**
 * get_qmin_qmax_for_qType: reduce_range wins over symmetric (int8 [-64, 64], uint8 [0, 127]); a
 * symmetric range drops one code (int8 [-127, 127], uint8 [0, 254]) so that zero sits in the middle.
 */
export function quantRange(type: QuantType, options: { reduceRange?: boolean; symmetric?: boolean } = {}): QuantRange {
  if (options.reduceRange === true) return type === 'int8' ? { qmin: -64, qmax: 64 } : { qmin: 0, qmax: 127 };
  if (options.symmetric === true) return type === 'int8' ? { qmin: -127, qmax: 127 } : { qmin: 0, qmax: 254 };
  return type === 'int8' ? { qmin: -128, qmax: 127 } : { qmin: 0, qmax: 255 };
}

/** numpy.round: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** numpy.finfo(numpy.float32).tiny: a scale below it is treated as a zero range. */
const FLOAT32_TINY = 1.1754943508222875e-38;

export interface QuantParams {
  /** float32, as stored in the model. */
  scale: number;
  zeroPoint: number;
}

/**
 * compute_scale_zp: the range is widened to include 0 (so zero is exact), made symmetric if asked,
 * scale = (rmax − rmin) / (qmax − qmin) in float64 then stored as float32; a range of zero width
 * gets scale 1 and zero point 0.
 */
export function computeScaleZeroPoint(rmin: number, rmax: number, range: QuantRange, symmetric: boolean, minRealRange?: number): QuantParams {
  let lo = Math.fround(Math.min(Math.fround(rmin), 0));
  let hi = Math.fround(Math.max(Math.fround(rmax), 0));
  if (minRealRange !== undefined) hi = Math.max(hi, Math.fround(lo + minRealRange));
  if (symmetric) {
    const absmax = Math.max(Math.abs(lo), Math.abs(hi));
    lo = -absmax;
    hi = absmax;
  }
  const scale = Math.fround(hi - lo) / (range.qmax - range.qmin);
  if (scale < FLOAT32_TINY) return { scale: 1, zeroPoint: 0 };
  const zeroPoint = symmetric ? roundHalfEven((range.qmin + range.qmax) / 2) : roundHalfEven(range.qmin - lo / scale);
  return { scale: Math.fround(scale), zeroPoint };
}

/**
 * quantize_nparray: q = clip(round(x / scale) + zero_point) over the type's full range, the division
 * in float32.
 */
export function quantizeValues(data: Float32Array, params: QuantParams, type: QuantType, out?: Int8Array | Uint8Array, offset = 0, stride = 1): Int8Array | Uint8Array {
  const { qmin, qmax } = quantRange(type);
  const target = out ?? (type === 'int8' ? new Int8Array(data.length) : new Uint8Array(data.length));
  const scale = Math.fround(params.scale);
  for (let i = 0; i < data.length; i++) {
    const q = roundHalfEven(Math.fround(data[i]! / scale)) + params.zeroPoint;
    target[offset + i * stride] = q < qmin ? qmin : q > qmax ? qmax : q;
  }
  return target;
}

function minMax(data: Float32Array): [number, number] {
  if (data.length === 0) return [0, 0];
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

export interface WeightQuantOptions {
  type: QuantType;
  symmetric: boolean;
  reduceRange: boolean;
}

export interface QuantizedWeight {
  values: Int8Array | Uint8Array;
  /** One per channel (length 1 per tensor). */
  scales: Float32Array;
  zeroPoints: number[];
  /** The channel axis, or undefined for per-tensor. */
  axis: number | undefined;
}

/** quantize_data over the whole tensor (quantize_initializer_impl). */
export function quantizeWeightPerTensor(data: Float32Array, options: WeightQuantOptions): QuantizedWeight {
  const [rmin, rmax] = minMax(data);
  const params =
    data.length === 0
      ? { scale: 1, zeroPoint: 0 }
      : computeScaleZeroPoint(rmin, rmax, quantRange(options.type, { reduceRange: options.reduceRange, symmetric: options.symmetric }), options.symmetric);
  return { values: quantizeValues(data, params, options.type), scales: Float32Array.of(params.scale), zeroPoints: [params.zeroPoint], axis: undefined };
}

/**
 * quantize_weight_per_channel_impl: each slice along `axis` gets its own range; int8 weights are
 * always symmetric per channel (onnxruntime forces it for INT8).
 */
export function quantizeWeightPerChannel(data: Float32Array, dims: readonly number[], axis: number, options: WeightQuantOptions): QuantizedWeight {
  const rank = dims.length;
  const a = axis < 0 ? axis + rank : axis;
  const channels = dims[a]!;
  const inner = dims.slice(a + 1).reduce((x, y) => x * y, 1);
  const outer = dims.slice(0, a).reduce((x, y) => x * y, 1);
  const symmetric = options.symmetric || options.type === 'int8';
  const values = options.type === 'int8' ? new Int8Array(data.length) : new Uint8Array(data.length);
  const scales = new Float32Array(channels);
  const zeroPoints: number[] = [];
  const slice = new Float32Array(outer * inner);
  for (let c = 0; c < channels; c++) {
    // numpy's take(c, axis).flatten(): outer index major, inner minor.
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) slice[o * inner + i] = data[(o * channels + c) * inner + i]!;
    const [rmin, rmax] = minMax(slice);
    const params = computeScaleZeroPoint(rmin, rmax, quantRange(options.type, { reduceRange: options.reduceRange, symmetric }), symmetric);
    scales[c] = params.scale;
    zeroPoints.push(params.zeroPoint);
    const q = quantizeValues(slice, params, options.type);
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) values[(o * channels + c) * inner + i] = q[o * inner + i]!;
  }
  return { values, scales, zeroPoints, axis: a };
}

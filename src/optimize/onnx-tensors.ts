import { create } from '@bufbuild/protobuf';
import { ServingError } from '../errors/serving-error.js';
import { TensorProto_DataLocation, TensorProto_DataType, TensorProtoSchema, type TensorProto } from './proto/onnx-ml_pb.js';

export { TensorProto_DataType as DataType };

const NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(TensorProto_DataType).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]),
);

/** `FLOAT`, `INT8`, … for messages. */
export function dataTypeName(type: number): string {
  return NAMES[type] ?? `data type ${type}`;
}

/** Elements in a tensor of these dims. */
export function elementCount(dims: readonly (number | bigint)[]): number {
  let n = 1;
  for (const d of dims) n *= Number(d);
  return n;
}

function rawView(tensor: TensorProto): DataView {
  if (tensor.dataLocation === TensorProto_DataLocation.EXTERNAL) {
    throw new ServingError('INTERNAL', `tensor '${tensor.name}' is still external; inline the model's external data first`);
  }
  const raw = tensor.rawData;
  return new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
}

/**
 * A floating-point tensor's values as float32 (FLOAT, FLOAT16 and DOUBLE; raw or typed fields),
 * whichever field the writer used.
 */
export function readFloats(tensor: TensorProto): Float32Array {
  const count = elementCount(tensor.dims);
  const out = new Float32Array(count);
  const view = rawView(tensor);
  const raw = view.byteLength > 0;
  switch (tensor.dataType) {
    case TensorProto_DataType.FLOAT:
      if (raw) for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      else out.set(tensor.floatData);
      break;
    case TensorProto_DataType.DOUBLE:
      if (raw) for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      else out.set(tensor.doubleData);
      break;
    case TensorProto_DataType.FLOAT16:
      // float16 values travel as their bit patterns: raw little-endian, or one per int32_data entry.
      for (let i = 0; i < count; i++) out[i] = float16ToNumber(raw ? view.getUint16(i * 2, true) : tensor.int32Data[i]!);
      break;
    default:
      throw new ServingError('INTERNAL', `tensor '${tensor.name}' is ${dataTypeName(tensor.dataType)}, not a floating-point type`);
  }
  if (!raw && count > 0 && tensor.floatData.length + tensor.doubleData.length + tensor.int32Data.length === 0) {
    throw new ServingError('MODEL_LOAD_FAILED', `tensor '${tensor.name}' has ${count} elements but no data`);
  }
  return out;
}

/** An integer tensor's values as numbers (INT8 … INT64, UINT8 … UINT64 within ±2^53, BOOL). */
export function readIntegers(tensor: TensorProto): number[] {
  const count = elementCount(tensor.dims);
  const view = rawView(tensor);
  const out: number[] = new Array<number>(count);
  if (view.byteLength === 0) {
    const source: ArrayLike<number | bigint> =
      tensor.dataType === TensorProto_DataType.INT64 ? tensor.int64Data : tensor.dataType === TensorProto_DataType.UINT64 || tensor.dataType === TensorProto_DataType.UINT32 ? tensor.uint64Data : tensor.int32Data;
    for (let i = 0; i < count; i++) out[i] = Number(source[i]);
    return out;
  }
  const read: Partial<Record<number, (i: number) => number>> = {
    [TensorProto_DataType.INT8]: (i) => view.getInt8(i),
    [TensorProto_DataType.UINT8]: (i) => view.getUint8(i),
    [TensorProto_DataType.BOOL]: (i) => view.getUint8(i),
    [TensorProto_DataType.INT16]: (i) => view.getInt16(i * 2, true),
    [TensorProto_DataType.UINT16]: (i) => view.getUint16(i * 2, true),
    [TensorProto_DataType.INT32]: (i) => view.getInt32(i * 4, true),
    [TensorProto_DataType.UINT32]: (i) => view.getUint32(i * 4, true),
    [TensorProto_DataType.INT64]: (i) => Number(view.getBigInt64(i * 8, true)),
    [TensorProto_DataType.UINT64]: (i) => Number(view.getBigUint64(i * 8, true)),
  };
  const reader = read[tensor.dataType];
  if (reader === undefined) throw new ServingError('INTERNAL', `tensor '${tensor.name}' is ${dataTypeName(tensor.dataType)}, not an integer type`);
  for (let i = 0; i < count; i++) out[i] = reader(i);
  return out;
}

function tensor(name: string, dims: readonly number[], dataType: TensorProto_DataType, raw: ArrayBufferView): TensorProto {
  return create(TensorProtoSchema, {
    name,
    dims: dims.map((d) => BigInt(d)),
    dataType,
    rawData: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength).slice(),
  });
}

/** Tensor constructors; values are stored as raw little-endian bytes, as onnx's numpy_helper does. */
export const makeTensor = {
  float: (name: string, dims: readonly number[], data: Float32Array): TensorProto => tensor(name, dims, TensorProto_DataType.FLOAT, data),
  int8: (name: string, dims: readonly number[], data: Int8Array): TensorProto => tensor(name, dims, TensorProto_DataType.INT8, data),
  uint8: (name: string, dims: readonly number[], data: Uint8Array): TensorProto => tensor(name, dims, TensorProto_DataType.UINT8, data),
  int32: (name: string, dims: readonly number[], data: Int32Array): TensorProto => tensor(name, dims, TensorProto_DataType.INT32, data),
  int64: (name: string, dims: readonly number[], data: BigInt64Array): TensorProto => tensor(name, dims, TensorProto_DataType.INT64, data),
  /** `bits`: float16 bit patterns (see `toFloat16Bits`). */
  float16: (name: string, dims: readonly number[], bits: Uint16Array): TensorProto => tensor(name, dims, TensorProto_DataType.FLOAT16, bits),
};

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * IEEE 754 binary16 bits of a number, rounded to nearest even (numpy's `astype(np.float16)`):
 * beyond ±65504 it becomes ±Infinity, below 2^-24 it flushes towards 0.
 */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let bits = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    if (rest > half || (rest === half && (bits & 1) === 1)) bits++;
    return sign | bits;
  }
  let bits = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa rounds up into the exponent (and to Infinity past 65504), as it should.
  if (rest > 0x1000 || (rest === 0x1000 && (bits & 1) === 1)) bits++;
  return sign | bits;
}

/** The number a float16 bit pattern stands for. */
export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/**
 * Open Inference Protocol datatypes and how each one lives in memory. One table, so that JSON
 * decoding, binary decoding, the engine and the metadata endpoints agree on every type.
 */
export const DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;

export type Datatype = (typeof DATATYPES)[number];

/** Datatypes the protocol names but Slipway cannot carry yet; refused with a clear message. */
export const UNSUPPORTED_DATATYPES: ReadonlySet<string> = new Set(['BF16']);

export type NumericTypedArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

/** Tensor payload: a typed array for numeric types (FP16 as raw IEEE half bits, BOOL as 0/1 bytes), strings for BYTES. */
export type TensorData = NumericTypedArray | string[];

type TypedArrayConstructor = {
  new (length: number): NumericTypedArray;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): NumericTypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

export interface DatatypeInfo {
  /** Bytes per element in the binary/raw encoding; 0 for BYTES (variable length). */
  readonly byteSize: number;
  /** onnxruntime's name for the type (also ONNX's TensorProto name, lower-cased). */
  readonly onnxType: string;
  readonly kind: 'bool' | 'int' | 'bigint' | 'float' | 'bytes';
  /** Inclusive range for integer kinds. */
  readonly min?: number | bigint;
  readonly max?: number | bigint;
  readonly arrayType?: TypedArrayConstructor;
}

export const DATATYPE_INFO: Readonly<Record<Datatype, DatatypeInfo>> = {
  BOOL: { byteSize: 1, onnxType: 'bool', kind: 'bool', arrayType: Uint8Array },
  UINT8: { byteSize: 1, onnxType: 'uint8', kind: 'int', min: 0, max: 0xff, arrayType: Uint8Array },
  UINT16: { byteSize: 2, onnxType: 'uint16', kind: 'int', min: 0, max: 0xffff, arrayType: Uint16Array },
  UINT32: { byteSize: 4, onnxType: 'uint32', kind: 'int', min: 0, max: 0xffffffff, arrayType: Uint32Array },
  UINT64: { byteSize: 8, onnxType: 'uint64', kind: 'bigint', min: 0n, max: 2n ** 64n - 1n, arrayType: BigUint64Array },
  INT8: { byteSize: 1, onnxType: 'int8', kind: 'int', min: -0x80, max: 0x7f, arrayType: Int8Array },
  INT16: { byteSize: 2, onnxType: 'int16', kind: 'int', min: -0x8000, max: 0x7fff, arrayType: Int16Array },
  INT32: { byteSize: 4, onnxType: 'int32', kind: 'int', min: -0x80000000, max: 0x7fffffff, arrayType: Int32Array },
  INT64: { byteSize: 8, onnxType: 'int64', kind: 'bigint', min: -(2n ** 63n), max: 2n ** 63n - 1n, arrayType: BigInt64Array },
  FP16: { byteSize: 2, onnxType: 'float16', kind: 'float', max: 65504, arrayType: Uint16Array },
  FP32: { byteSize: 4, onnxType: 'float32', kind: 'float', max: 3.4028234663852886e38, arrayType: Float32Array },
  FP64: { byteSize: 8, onnxType: 'float64', kind: 'float', arrayType: Float64Array },
  BYTES: { byteSize: 0, onnxType: 'string', kind: 'bytes' },
};

const BY_ONNX_TYPE: ReadonlyMap<string, Datatype> = new Map(
  DATATYPES.map((d) => [DATATYPE_INFO[d].onnxType, d] as const),
);

export function isDatatype(value: unknown): value is Datatype {
  return typeof value === 'string' && (DATATYPES as readonly string[]).includes(value);
}

/** Maps onnxruntime's element type name to the OIP datatype, or undefined for types OIP cannot carry. */
export function datatypeFromOnnx(onnxType: string): Datatype | undefined {
  return BY_ONNX_TYPE.get(onnxType);
}

/** Allocates zeroed storage for `count` elements of `datatype`. */
export function allocateData(datatype: Datatype, count: number): TensorData {
  const ctor = DATATYPE_INFO[datatype].arrayType;
  return ctor ? new ctor(count) : new Array<string>(count).fill('');
}

import { ServingError } from '../errors/serving-error.js';
import {
  DATATYPE_INFO,
  UNSUPPORTED_DATATYPES,
  allocateData,
  isDatatype,
  type Datatype,
  type TensorData,
} from './datatypes.js';
import { toHalfBits } from './fp16.js';
import { elementCount, formatShape, type Parameters, type Tensor } from './tensor.js';

const invalid = (message: string): ServingError => new ServingError('INVALID_INPUT', message);

/** Checks an OIP `datatype` field, refusing unknown and not-yet-supported types by name. */
export function parseDatatype(value: unknown, what: string): Datatype {
  if (isDatatype(value)) return value;
  if (typeof value === 'string' && UNSUPPORTED_DATATYPES.has(value)) {
    throw new ServingError('UNSUPPORTED_DATATYPE', `${what}: datatype ${value} is not supported yet`);
  }
  throw invalid(`${what}: unknown datatype ${JSON.stringify(value)}; expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES`);
}

/** Checks an OIP `shape` field: an array of non-negative integers. */
export function parseShape(value: unknown, what: string): number[] {
  if (!Array.isArray(value)) throw invalid(`${what}: 'shape' must be an array of non-negative integers`);
  for (const dim of value) {
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0) {
      throw invalid(`${what}: 'shape' must be an array of non-negative integers, got ${JSON.stringify(value)}`);
    }
  }
  return value as number[];
}

/** Checks an OIP `parameters` object: string keys, bool/number/string values. */
export function parseParameters(value: unknown, what: string): Parameters | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`${what}: 'parameters' must be an object`);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'boolean' && typeof v !== 'number' && typeof v !== 'string') {
      throw invalid(`${what}: parameter '${key}' must be a bool, number or string`);
    }
  }
  return value as Parameters;
}

/**
 * Decodes one OIP JSON input tensor (`{name, datatype, shape, data, parameters?}`) into a Tensor whose
 * data is a typed array of exactly `product(shape)` elements. `data` may be flat or nested (row-major);
 * every value is checked against the datatype, and the first bad one is named with its flat index.
 */
export function tensorFromJson(value: unknown, role = 'input'): Tensor {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`each ${role} must be an object with name, datatype, shape and data`);
  }
  const raw = value as Record<string, unknown>;
  if (typeof raw.name !== 'string' || raw.name === '') throw invalid(`${role} is missing a string 'name'`);
  const what = `${role} '${raw.name}'`;
  const datatype = parseDatatype(raw.datatype, what);
  const shape = parseShape(raw.shape, what);
  if (raw.data === undefined) throw invalid(`${what}: 'data' is missing`);
  const data = decodeData(raw.data, datatype, shape, what);
  const parameters = parseParameters(raw.parameters, what);
  return parameters ? { name: raw.name, datatype, shape, data, parameters } : { name: raw.name, datatype, shape, data };
}

function decodeData(data: unknown, datatype: Datatype, shape: number[], what: string): TensorData {
  const expected = elementCount(shape);
  // Count before allocating: a hostile shape ([2^40]) with a tiny body must not reserve memory.
  const actual = Array.isArray(data) ? countAll(data) : 1;
  if (actual !== expected) throw invalid(`${what}: shape ${formatShape(shape)} has ${expected} elements but 'data' has ${actual}`);
  const out = allocateData(datatype, expected);
  const write = writerFor(datatype, out, what);
  if (!Array.isArray(data)) {
    write(0, data);
    return out;
  }
  let count = 0;
  // Iterative walk: nested arrays may be deep, and recursion would let a hostile body blow the stack.
  const stack: unknown[][] = [data];
  const indices: number[] = [0];
  while (stack.length > 0) {
    const top = stack.length - 1;
    const array = stack[top]!;
    const i = indices[top]!;
    if (i >= array.length) {
      stack.pop();
      indices.pop();
      continue;
    }
    indices[top] = i + 1;
    const item = array[i];
    if (Array.isArray(item)) {
      stack.push(item);
      indices.push(0);
      continue;
    }
    write(count++, item);
  }
  return out;
}

/** Leaf count of (possibly nested) data; rows of scalars are counted by length, not walked. */
function countAll(data: unknown[]): number {
  let n = 0;
  const stack: unknown[] = [data];
  while (stack.length > 0) {
    const item = stack.pop();
    if (!Array.isArray(item)) n++;
    else if (!item.some(Array.isArray)) n += item.length;
    else for (const x of item) stack.push(x);
  }
  return n;
}

type Writer = (index: number, value: unknown) => void;

function writerFor(datatype: Datatype, out: TensorData, what: string): Writer {
  const info = DATATYPE_INFO[datatype];
  const bad = (index: number, value: unknown, expected: string): ServingError =>
    invalid(`${what}: element ${index} is ${JSON.stringify(value) ?? String(value)}, expected ${expected} for ${datatype}`);
  switch (info.kind) {
    case 'bool': {
      const a = out as Uint8Array;
      return (i, v) => {
        if (typeof v !== 'boolean') throw bad(i, v, 'true or false');
        a[i] = v ? 1 : 0;
      };
    }
    case 'int': {
      const a = out as Int32Array;
      const min = info.min as number;
      const max = info.max as number;
      return (i, v) => {
        if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(i, v, 'an integer');
        if (v < min || v > max) throw bad(i, v, `an integer in [${min}, ${max}]`);
        a[i] = v;
      };
    }
    case 'bigint': {
      const a = out as BigInt64Array;
      const min = info.min as bigint;
      const max = info.max as bigint;
      return (i, v) => {
        if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(i, v, 'an integer');
        // JSON numbers are doubles: past 2^53 the value the client meant is already lost, so refuse it
        // rather than compute on a neighbour. Binary tensor data carries the full 64 bits.
        if (!Number.isSafeInteger(v)) throw bad(i, v, 'an integer within ±(2^53-1) in JSON (send larger values as binary data)');
        const b = BigInt(v);
        if (b < min || b > max) throw bad(i, v, `an integer in [${min}, ${max}]`);
        a[i] = b;
      };
    }
    case 'float': {
      const limit = info.max;
      if (datatype === 'FP16') {
        const a = out as Uint16Array;
        return (i, v) => {
          if (typeof v !== 'number') throw bad(i, v, 'a number');
          if (Math.abs(v) > (limit as number)) throw bad(i, v, `a number within ±${limit}`);
          a[i] = toHalfBits(v);
        };
      }
      const a = out as Float32Array;
      if (limit === undefined) {
        return (i, v) => {
          if (typeof v !== 'number') throw bad(i, v, 'a number');
          a[i] = v;
        };
      }
      return (i, v) => {
        if (typeof v !== 'number') throw bad(i, v, 'a number');
        if (v > (limit as number) || v < -(limit as number)) throw bad(i, v, `a number within ±${limit}`);
        a[i] = v;
      };
    }
    case 'bytes': {
      const a = out as string[];
      return (i, v) => {
        if (typeof v !== 'string') throw bad(i, v, 'a string');
        a[i] = v;
      };
    }
  }
}

import { quoteValue } from '../errors/quote-value.js';
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
  throw invalid(`${what}: unknown datatype ${quoteValue(value)}; expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES`);
}

/** Checks an OIP `shape` field: an array of non-negative integers. */
export function parseShape(value: unknown, what: string): number[] {
  if (!Array.isArray(value)) throw invalid(`${what}: 'shape' must be an array of non-negative integers`);
  for (let i = 0; i < value.length; i++) {
    const dim: unknown = value[i];
    if (Array.isArray(dim)) {
      throw invalid(`${what}: 'shape' must be a flat array of non-negative integers (nesting depth limit 1), but shape[${i}] is an array`);
    }
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0) {
      throw invalid(`${what}: 'shape' must be an array of non-negative integers, got ${quoteValue(value)}`);
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
  if (!Array.isArray(data)) {
    if (expected !== 1) throw invalid(`${what}: shape ${formatShape(shape)} has ${expected} elements but 'data' has 1`);
    const out = allocateData(datatype, 1);
    writerFor(datatype, out, what)(0, data);
    return out;
  }
  // Check the nesting before allocating: a hostile shape ([2^40]) with a tiny body must not reserve
  // memory, and ragged rows must not be flattened into a shape they do not have.
  checkNesting(data, shape, expected, what);
  const out = allocateData(datatype, expected);
  const write = writerFor(datatype, out, what);
  let count = 0;
  // Iterative walk: checkNesting bounded the depth by the shape's rank, but the rank is the client's.
  const stack: unknown[][] = [data];
  while (stack.length > 0) {
    const array = stack.pop()!;
    if (array.length > 0 && Array.isArray(array[0])) {
      for (let i = array.length - 1; i >= 0; i--) stack.push(array[i] as unknown[]);
    } else {
      // A row of scalars: an array hidden in it is refused by the writer, never descended into.
      for (let i = 0; i < array.length; i++) write(count++, array[i]);
    }
  }
  return out;
}

interface Row {
  array: unknown[];
  depth: number;
  parent: Row | undefined;
  index: number;
}

function rowPath(row: Row): string {
  const parts: number[] = [];
  for (let r: Row | undefined = row; r?.parent !== undefined; r = r.parent) parts.push(r.index);
  return parts.reverse().map((i) => `[${i}]`).join('');
}

/**
 * Data may be flat (row-major) or nested, and nested data must be rectangular: every array at one
 * depth has the same length and holds the same kind (arrays or scalars), at most as deep as the
 * shape's rank, with product(shape) elements in all. Ragged rows (`[[1],[2,3,4]]` for [2,2]) are
 * refused by position instead of being flattened into a shape they do not have. Leading
 * dimensions may be left flat (`[1][8][8]` for [1,1,8,8]), as clients commonly send.
 */
function checkNesting(data: unknown[], shape: number[], expected: number, what: string): void {
  const depthLimit = Math.max(shape.length, 1);
  // The first row seen at each depth: every other row at that depth must look like it.
  const first: Row[] = [];
  const nestedAt: boolean[] = [];
  const stack: Row[] = [{ array: data, depth: 0, parent: undefined, index: 0 }];
  while (stack.length > 0) {
    const row = stack.pop()!;
    const { array, depth } = row;
    const nested = array.length > 0 && Array.isArray(array[0]);
    const model = first[depth];
    if (model === undefined) {
      if (depth >= depthLimit) {
        throw invalid(`${what}: 'data'${rowPath(row)} nests arrays deeper than shape ${formatShape(shape)} allows (nesting depth limit ${depthLimit}, the shape's rank)`);
      }
      first[depth] = row;
      nestedAt[depth] = nested;
    } else if (array.length !== model.array.length || nested !== nestedAt[depth]) {
      const kind = (n: boolean | undefined): string => (n ? 'arrays' : 'values');
      throw invalid(
        `${what}: 'data'${rowPath(row)} has ${array.length} ${kind(nested)} but 'data'${rowPath(model)} has ${model.array.length} ${kind(nestedAt[depth])} (ragged data; shape ${formatShape(shape)})`,
      );
    }
    if (!nested) continue;
    for (let i = array.length - 1; i >= 0; i--) {
      const item = array[i];
      if (!Array.isArray(item)) throw invalid(`${what}: 'data'${rowPath(row)}[${i}] is ${quoteValue(item, 40)} but its siblings are arrays (ragged data)`);
      stack.push({ array: item, depth: depth + 1, parent: row, index: i });
    }
  }
  let count = 1;
  for (const row of first) count *= row.array.length;
  if (count !== expected) throw invalid(`${what}: shape ${formatShape(shape)} has ${expected} elements but 'data' has ${count}`);
}

type Writer = (index: number, value: unknown) => void;

function writerFor(datatype: Datatype, out: TensorData, what: string): Writer {
  const info = DATATYPE_INFO[datatype];
  const bad = (index: number, value: unknown, expected: string): ServingError =>
    invalid(`${what}: element ${index} is ${typeof value === 'number' && !Number.isFinite(value) ? `${value} (beyond the range of a double)` : quoteValue(value, 40)}, expected ${expected} for ${datatype}`);
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
          // JSON.parse turns 1e309 into Infinity; JSON has no Infinity, so the client did not mean it.
          if (typeof v !== 'number') throw bad(i, v, 'a number');
          if (!Number.isFinite(v)) throw bad(i, v, 'a finite number');
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

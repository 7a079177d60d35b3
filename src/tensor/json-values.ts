import { fromHalfBits } from './fp16.js';
import { elementCount, type Tensor } from './tensor.js';

/**
 * A tensor's elements as JSON values: numbers (64-bit integers as doubles, as JSON has them),
 * booleans, strings.
 *
 * @example
 * tensorJsonValues({ name: 'b', datatype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) }); // [true, false]
 */
export function tensorJsonValues(tensor: Tensor): unknown[] {
  const data = tensor.data;
  if (Array.isArray(data)) return data;
  if (tensor.datatype === 'BOOL') return Array.from(data as Uint8Array, (v) => v !== 0);
  if (tensor.datatype === 'FP16') return Array.from(data as Uint16Array, fromHalfBits);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, Number);
  return Array.from(data as ArrayLike<number>);
}

/**
 * Row-major flat values as nested arrays of `shape` (from `offset`); a scalar shape gives the value itself.
 *
 * @example
 * nestValues([1, 2, 3, 4], [2, 2]); // [[1, 2], [3, 4]]
 */
export function nestValues(flat: readonly unknown[], shape: readonly number[], offset = 0): unknown {
  if (shape.length === 0) return flat[offset];
  const size = elementCount(shape.slice(1));
  return Array.from({ length: shape[0]! }, (_, i) => nestValues(flat, shape.slice(1), offset + i * size));
}

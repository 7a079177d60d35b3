import { DATATYPE_INFO, type Datatype, type TensorData } from '../../tensor/datatypes.js';
import { toHalfBits } from '../../tensor/fp16.js';

/**
 * Turning one field value (a CSV string, a JSON value, a database value) into one tensor element, with
 * a reason when it cannot be: the reason ends up in the rejects table, next to the row.
 */

/** Thrown for a value that cannot feed the tensor; the job turns it into a reject. */
export class RowError extends Error {}

function describe(value: unknown): string {
  if (typeof value === 'string') return value.length > 40 ? `'${value.slice(0, 40)}…'` : `'${value}'`;
  if (value === undefined) return 'nothing';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : value === null ? 'null' : 'an object';
  return String(value);
}

/** A number from a string, refusing what `Number()` would quietly accept ("" is 0, "0x10" is 16). */
export function parseNumberText(text: string): number {
  const t = text.trim();
  if (t === '') return Number.NaN;
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return Number(t);
  if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(t)) return Number.NaN;
  return Number.NaN;
}

const isNaNText = (value: unknown): boolean => typeof value === 'string' && /^\s*nan\s*$/i.test(value);

/** Writes `value` as element `index` of `target` (a tensor of `datatype`); throws RowError naming `field`. */
export function writeElement(datatype: Datatype, target: TensorData, index: number, value: unknown, field: string): void {
  const info = DATATYPE_INFO[datatype];
  if (value === undefined || value === null) throw new RowError(`${field} is missing`);
  switch (info.kind) {
    case 'float': {
      let n: number;
      if (typeof value === 'number') n = value;
      else if (typeof value === 'string') {
        n = parseNumberText(value);
        if (Number.isNaN(n) && !isNaNText(value)) {
          throw new RowError(value.trim() === '' ? `${field} is empty` : `${field}: ${describe(value)} is not a number (${datatype})`);
        }
      } else if (typeof value === 'bigint') n = Number(value);
      else throw new RowError(`${field}: expected a number (${datatype}), got ${describe(value)}`);
      if (datatype === 'FP16') {
        if (Math.abs(n) > (info.max as number) && Number.isFinite(n)) throw new RowError(`${field}: ${n} is out of range for FP16`);
        (target as Uint16Array)[index] = toHalfBits(n);
      } else if (datatype === 'FP32') {
        if (Math.abs(n) > (info.max as number) && Number.isFinite(n)) throw new RowError(`${field}: ${n} is out of range for FP32`);
        (target as Float32Array)[index] = n;
      } else (target as Float64Array)[index] = n;
      return;
    }
    case 'int': {
      let n: number;
      if (typeof value === 'number') n = value;
      else if (typeof value === 'string') n = parseNumberText(value);
      else if (typeof value === 'bigint') n = Number(value);
      else if (typeof value === 'boolean') n = value ? 1 : 0;
      else throw new RowError(`${field}: expected an integer (${datatype}), got ${describe(value)}`);
      if (!Number.isInteger(n)) throw new RowError(`${field}: ${describe(value)} is not an integer (${datatype})`);
      if (n < (info.min as number) || n > (info.max as number)) throw new RowError(`${field}: ${n} is out of range for ${datatype} (${info.min}..${info.max})`);
      (target as Int32Array)[index] = n;
      return;
    }
    case 'bigint': {
      let n: bigint;
      if (typeof value === 'bigint') n = value;
      else if (typeof value === 'number') {
        if (!Number.isSafeInteger(value)) throw new RowError(`${field}: ${value} is not an integer exactly representable here (${datatype}); write it as a string`);
        n = BigInt(value);
      } else if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) n = BigInt(value.trim());
      else throw new RowError(`${field}: ${describe(value)} is not an integer (${datatype})`);
      if (n < (info.min as bigint) || n > (info.max as bigint)) throw new RowError(`${field}: ${n} is out of range for ${datatype}`);
      (target as BigInt64Array)[index] = n;
      return;
    }
    case 'bool': {
      let b: boolean;
      if (typeof value === 'boolean') b = value;
      else if (value === 0 || value === 1) b = value === 1;
      else if (typeof value === 'string' && /^\s*(true|false|1|0)\s*$/i.test(value)) b = /^\s*(true|1)\s*$/i.test(value);
      else throw new RowError(`${field}: ${describe(value)} is not a boolean (true/false/1/0)`);
      (target as Uint8Array)[index] = b ? 1 : 0;
      return;
    }
    case 'bytes': {
      (target as string[])[index] =
        typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
      return;
    }
  }
}

/**
 * Flattens a (possibly nested) array value, checking that it is rectangular, and returns its
 * elements and shape. A string holding a JSON array (a CSV cell, a SQLite text column) is parsed first.
 */
export function flattenArray(value: unknown, field: string): { elements: unknown[]; shape: number[] } {
  let array = value;
  if (typeof array === 'string') {
    const text = array.trim();
    if (!text.startsWith('[')) throw new RowError(`${field}: expected an array, got ${describe(value)}`);
    try {
      array = JSON.parse(text);
    } catch (error) {
      throw new RowError(`${field}: not a valid JSON array (${(error as Error).message})`);
    }
  }
  if (!Array.isArray(array)) throw new RowError(`${field}: expected an array, got ${describe(value)}`);
  const shape: number[] = [];
  for (let node: unknown = array; Array.isArray(node); node = node[0]) {
    shape.push(node.length);
    if (node.length === 0) break;
  }
  const elements: unknown[] = [];
  const walk = (node: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(node)) throw new RowError(`${field}: the nested arrays are not rectangular (too deep at depth ${depth})`);
      elements.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw new RowError(`${field}: the nested arrays are not rectangular (expected ${shape[depth]} elements at depth ${depth + 1})`);
    }
    for (const child of node) walk(child, depth + 1);
  };
  walk(array, 0);
  return { elements, shape };
}

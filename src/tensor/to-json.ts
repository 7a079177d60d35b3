import type { Datatype, TensorData } from './datatypes.js';
import { fromHalfBits } from './fp16.js';

/**
 * Writes tensor data as the text of a flat JSON array. Done by hand rather than with JSON.stringify
 * because 64-bit integers must come out exact (BigInt has no JSON form) and typed arrays would
 * otherwise be copied into a plain array first. Non-finite floats become null, as JSON.stringify does.
 */
export function dataToJsonText(datatype: Datatype, data: TensorData): string {
  switch (datatype) {
    case 'BYTES':
      return JSON.stringify(data);
    case 'BOOL': {
      const a = data as Uint8Array;
      const parts = new Array<string>(a.length);
      for (let i = 0; i < a.length; i++) parts[i] = a[i] ? 'true' : 'false';
      return `[${parts.join(',')}]`;
    }
    case 'FP16': {
      const a = data as Uint16Array;
      const parts = new Array<string>(a.length);
      for (let i = 0; i < a.length; i++) parts[i] = finite(fromHalfBits(a[i]!));
      return `[${parts.join(',')}]`;
    }
    case 'FP32':
    case 'FP64': {
      const a = data as Float32Array;
      for (let i = 0; i < a.length; i++) {
        if (!Number.isFinite(a[i]!)) {
          const parts = new Array<string>(a.length);
          for (let j = 0; j < a.length; j++) parts[j] = finite(a[j]!);
          return `[${parts.join(',')}]`;
        }
      }
      return `[${a.join(',')}]`;
    }
    default:
      // Integer typed arrays (BigInt ones included) print exact decimal digits with join().
      return `[${(data as Int32Array).join(',')}]`;
  }
}

function finite(v: number): string {
  return Number.isFinite(v) ? String(v) : 'null';
}

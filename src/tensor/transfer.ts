import type { TensorData } from './datatypes.js';
import type { Tensor } from './tensor.js';

/**
 * Prepares tensors to cross a thread boundary with at most one copy each. A typed array that covers
 * its whole ArrayBuffer is moved when `move` is set (zero copies; it is detached here) or cloned
 * (one copy). A view into a larger buffer (a batch's output slice, a binary request body, Node's
 * Buffer pool) is first compacted into its own buffer, which is then moved: the structured clone
 * would otherwise copy the whole underlying buffer, once per view.
 */
export function forTransfer(tensors: readonly Tensor[], move: boolean): { tensors: Tensor[]; transfer: ArrayBuffer[] } {
  const transfer = new Set<ArrayBuffer>();
  const prepared = tensors.map((t) => {
    const data = t.data;
    if (Array.isArray(data)) return t;
    const buffer = data.buffer;
    const whole = buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength;
    if (whole) {
      if (move) transfer.add(buffer);
      return t;
    }
    const compact = data.slice() as Exclude<TensorData, string[]>;
    transfer.add(compact.buffer as ArrayBuffer);
    return { ...t, data: compact };
  });
  return { tensors: prepared, transfer: [...transfer] };
}

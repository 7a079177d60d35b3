import type { ErrorCode } from '../errors/codes.js';
import type { Tensor } from '../tensor/tensor.js';
import type { EngineSignature } from './engine.js';

/** What a model instance's worker is started with. */
export interface InstanceWorkerData {
  platform: 'onnxruntime_onnx';
  modelPath: string;
  intraOpThreads: number;
}

export type ToWorker =
  | { type: 'infer'; id: number; inputs: Tensor[]; outputNames: string[] }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; signature: EngineSignature }
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; outputs: Tensor[]; computeNs: number }
  | { type: 'error'; id: number; code: ErrorCode; message: string };

/**
 * Buffers that can be moved to the other thread instead of copied: only an ArrayBuffer that the
 * tensor's view covers whole. A view into a larger buffer (Node's Buffer pool, a batch slice) would
 * detach memory that other views still use, so those are left to the structured clone.
 */
export function transferableBuffers(tensors: readonly Tensor[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const t of tensors) {
    const data = t.data;
    if (Array.isArray(data)) continue;
    const buffer = data.buffer;
    if (buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength) {
      buffers.add(buffer);
    }
  }
  return [...buffers];
}

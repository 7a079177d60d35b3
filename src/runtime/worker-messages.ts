import type { ErrorCode } from '../errors/codes.js';
import type { Tensor } from '../tensor/tensor.js';
import type { EngineSignature } from './engine.js';

/** What a model instance's worker is started with. */
export interface InstanceWorkerData {
  platform: 'onnxruntime_onnx';
  modelPath: string;
  intraOpThreads: number;
  /**
   * How batches cross to the worker and back: `message` (a postMessage each way) or `shared`
   * (slots in a SharedArrayBuffer, woken with Atomics; batches that outgrow a slot go by message).
   * Default: `message`, see DEFAULT_HANDOFF.
   */
  handoff?: Handoff;
  /** Bytes of tensor data one shared slot holds (default DEFAULT_SLOT_BYTES). */
  slotBytes?: number;
}

export type Handoff = 'message' | 'shared';

/** What the worker is actually started with: the shared slots, made by the main thread. */
export interface InstanceWorkerStart extends InstanceWorkerData {
  slots?: { buffer: SharedArrayBuffer; count: number; dataBytes: number };
}

export type ToWorker =
  | { type: 'infer'; id: number; inputs: Tensor[]; outputNames: string[] }
  | { type: 'close' }
  /** Exit at once, as a crash would (chaos drills, recovery tests). */
  | { type: 'crash' };

export type FromWorker =
  | { type: 'ready'; signature: EngineSignature }
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; outputs: Tensor[]; startedMs: number; endedMs: number }
  | { type: 'error'; id: number; code: ErrorCode; message: string };

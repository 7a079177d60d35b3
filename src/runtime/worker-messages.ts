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
  | { type: 'close' }
  /** Exit at once, as a crash would (chaos drills, recovery tests). */
  | { type: 'crash' };

export type FromWorker =
  | { type: 'ready'; signature: EngineSignature }
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; outputs: Tensor[]; startedMs: number; endedMs: number }
  | { type: 'error'; id: number; code: ErrorCode; message: string };

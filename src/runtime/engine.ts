import type { Tensor } from '../tensor/tensor.js';

/** A tensor as the model graph declares it. */
export interface GraphTensor {
  name: string;
  /** onnxruntime's element type name (`float32`, `int64`, `string`, …). */
  onnxType: string;
  /** -1 for symbolic or unnamed dimensions. */
  dims: number[];
}

export interface EngineSignature {
  inputs: GraphTensor[];
  outputs: GraphTensor[];
}

export interface EngineOptions {
  intraOpThreads: number;
}

/**
 * One loaded model instance. Implementations are synchronous-hearted (onnxruntime blocks its
 * thread), so they only ever run inside a worker thread; the main thread talks to them through
 * `ModelInstance`.
 */
export interface Engine {
  readonly signature: EngineSignature;
  run(inputs: Tensor[], outputNames: string[]): Promise<Tensor[]>;
  close(): Promise<void>;
}

export type EngineFactory = (modelPath: string, options: EngineOptions) => Promise<Engine>;

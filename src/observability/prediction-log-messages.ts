import type { Tensor } from '../tensor/tensor.js';

/** One sampled prediction, as the writer thread receives it. */
export interface PredictionRecord {
  time: number;
  model: string;
  version: string;
  requestId?: string;
  latencyMs: number;
  inputs: Tensor[];
  outputs: Tensor[];
}

export interface PredictionLogWorkerData {
  /** `sqlite:PATH`, `postgres://…` or `jsonl:PATH`. */
  store: string;
  /** Rows kept (oldest deleted beyond); for JSONL, the file is rotated past maxRows lines. */
  maxRows: number;
  flushIntervalMs: number;
}

export type ToPredictionWriter = { type: 'record'; record: PredictionRecord } | { type: 'close' };
export type FromPredictionWriter =
  | { type: 'ready' }
  | { type: 'written'; count: number }
  | { type: 'failed'; count: number; message: string }
  | { type: 'closed' };

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
  /** When the request was also sent to a shadow version: what it answered and whether it agreed. */
  shadow?: ShadowRecord;
}

/** A shadow copy's result beside the primary answer it was compared with. */
export interface ShadowRecord {
  version: string;
  outcome: 'agree' | 'disagree' | 'error' | 'shed';
  maxAbsDiff: number | null;
  latencyMs: number;
  /** What disagreed, or why the shadow failed. */
  detail?: string;
  outputs?: Tensor[];
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

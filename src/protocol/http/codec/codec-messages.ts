import type { ErrorCode } from '../../../errors/codes.js';
import type { InferenceRequest, InferenceResponse } from '../../../tensor/inference.js';

export type ToCodec =
  | { type: 'decode'; id: number; body: Uint8Array; model: string; version?: string }
  | { type: 'encode'; id: number; response: InferenceResponse };

export type FromCodec =
  | { type: 'decoded'; id: number; request: InferenceRequest }
  | { type: 'encoded'; id: number; body: Uint8Array }
  /** `stack`: the codec thread's own stack when the failure was not a client's (INTERNAL), for the log. */
  | { type: 'failed'; id: number; code: ErrorCode; message: string; stack?: string };

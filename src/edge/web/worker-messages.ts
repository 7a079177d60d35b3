// Messages between the page's API (slipway.ts, main thread) and the on-device runtime
// (device-worker.ts), which holds onnxruntime-web and the handler off the page's thread.
import type { ErrorCode } from '../../errors/codes.js';
import type { EdgeManifest } from '../edge-manifest.js';

export type Backend = 'webgpu' | 'wasm';

/** An OIP request body (`POST /v2/models/{m}/infer`); `data` may also be a typed array. */
export interface InferBody {
  id?: string;
  inputs: Array<{ name: string; datatype: string; shape: number[]; data: unknown; parameters?: Record<string, unknown> }>;
  outputs?: Array<{ name: string; parameters?: Record<string, unknown> }>;
  parameters?: Record<string, unknown>;
}

/** An OIP response body, as the server sends it. */
export interface InferAnswer {
  model_name: string;
  model_version?: string;
  id?: string;
  outputs: Array<{ name: string; datatype: string; shape: number[]; data: unknown[] }>;
}

/** A handler request: values as given (Blobs and bytes become uploaded files), or a multipart form (the UI's). */
export type PredictInput =
  | { kind: 'values'; values: Record<string, unknown> }
  | { kind: 'form'; fields: Array<{ name: string; value: string }>; files: Array<{ name: string; file: Blob; filename?: string }> };

export type ToDevice =
  | { type: 'load'; baseUrl: string; manifest: EdgeManifest; backend: 'auto' | Backend; threads: number }
  | { type: 'predict'; id: number; input: PredictInput }
  | { type: 'infer'; id: number; body: InferBody };

export type FromDevice =
  | { type: 'loaded'; backend: Backend; threads: number; adapter?: string }
  | { type: 'load-failed'; reason: string }
  | { type: 'result'; id: number; output: unknown }
  | {
      type: 'error';
      id: number;
      code: ErrorCode;
      message: string;
      /** False for the caller's own mistakes (the server would refuse them too); true when the device could not do it. */
      deviceFault: boolean;
    };

import type { ErrorCode } from '../../errors/codes.js';
import type { Parameters, Tensor } from '../../tensor/tensor.js';
import type { TensorSignature } from './define-handler.js';
import type { UploadedFile } from './file-schema.js';

/** What a handler worker is started with. */
export interface HandlerWorkerData {
  model: string;
  /** Absolute path of handler.ts / handler.js. */
  file: string;
  dir: string;
  hasGraph: boolean;
  parameters: Record<string, string | number | boolean>;
}

/** A request body as the HTTP layer hands it over; the worker turns it into the schema's input. */
export type PredictPayload =
  | { kind: 'json'; body: Uint8Array }
  | { kind: 'multipart'; fields: Array<{ name: string; value: string }>; files: Array<{ name: string; file: UploadedFile }> }
  /** A raw upload (`content-type: image/png`, …) for the schema's one file field. */
  | { kind: 'file'; field: string; file: UploadedFile };

/** What the main thread knows of a loaded handler (the schemas drive validation docs, OpenAPI and the UI). */
export interface HandlerDescription {
  description?: string;
  /**
   * `predict`: the handler calls models itself; `graph`: preprocess → the model's graph →
   * postprocess; `tensor`: a tensor handler (defineTensorHandler), served as a model over OIP.
   */
  mode: 'predict' | 'graph' | 'tensor';
  /** JSON Schema (draft 2020-12) of the request body. */
  inputSchema: Record<string, unknown>;
  outputSchema: Record<string, unknown>;
  /** Top-level input fields that take uploaded files. */
  fileFields: string[];
  /** The handler judges shadow answers itself (`compare`). */
  compares: boolean;
  /** A tensor handler's signature (its declared inputs and outputs, resolved against the model's parameters). */
  signature?: TensorHandlerSignature;
}

export interface TensorHandlerSignature {
  maxBatchSize: number;
  inputs: TensorSignature[];
  outputs: TensorSignature[];
}

/** One request to a tensor handler: tensors the router has validated against its signature. */
export interface TensorRequest {
  inputs: Tensor[];
  /** The outputs to answer. */
  outputs: string[];
  parameters?: Parameters;
  requestId?: string;
  routing?: PredictRouting;
}

/**
 * How the model calls of one predict request are routed: one sticky key for all of them (so one
 * request sees one version of each model), and a version a tester forced for the handler's own model.
 */
export interface PredictRouting {
  key: string;
  version?: string;
}

/** A model call a handler makes through `ctx.infer`. */
export interface HandlerInferRequest {
  model: string;
  version?: string;
  routingKey?: string;
  inputs: Tensor[];
  outputs?: string[];
  parameters?: Parameters;
}

export type ToHandlerWorker =
  | { type: 'predict'; id: number; payload: PredictPayload; requestId?: string; routing?: PredictRouting }
  | { type: 'tensors'; id: number; request: TensorRequest }
  | { type: 'cancel'; id: number }
  | { type: 'infer-result'; callId: number; outputs: Tensor[] }
  | { type: 'infer-error'; callId: number; code: ErrorCode; message: string }
  | { type: 'ping'; seq: number }
  | { type: 'compare'; id: number; primary: Tensor[]; shadow: Tensor[] }
  | { type: 'close' };

export type FromHandlerWorker =
  | { type: 'ready'; description: HandlerDescription }
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; body: Uint8Array }
  | { type: 'tensor-result'; id: number; outputs: Tensor[] }
  | { type: 'error'; id: number; code: ErrorCode; message: string; stack?: string }
  | { type: 'infer'; callId: number; request: HandlerInferRequest }
  | { type: 'pong'; seq: number }
  | { type: 'compared'; id: number; agree: boolean; difference?: number }
  | { type: 'compare-error'; id: number; message: string };

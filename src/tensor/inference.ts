import type { Parameters, Tensor } from './tensor.js';

/** An output the client asked for by name (OIP `outputs[]`). */
export interface RequestedOutput {
  name: string;
  parameters?: Parameters;
}

/**
 * The one request every way in decodes into (OIP REST/gRPC, dialects, UI, library, batch jobs).
 *
 * @example
 * const request: InferenceRequest = {
 *   model: 'digits',
 *   inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: new Float32Array(64) }],
 * };
 */
export interface InferenceRequest {
  model: string;
  /**
   * A version number as a string: the request is pinned to it (from the URL, or a tester's
   * `x-slipway-version` header). Absent: the model's traffic policy picks one (the newest READY
   * version when it has none).
   */
  version?: string;
  /**
   * A sticky routing key (the `x-slipway-key` header or gRPC metadata, or the `routing_key`
   * parameter): the same key keeps the same version while the model's traffic weights hold.
   */
  routingKey?: string;
  /** OIP's request `id` (in the body): echoed in the response's `id`. */
  id?: string;
  /**
   * The transport's request id (HTTP `x-request-id`, gRPC metadata `x-request-id`), for logs: a
   * graph forwards it to its steps (remote ones get it as `x-request-id`), a handler sees it as
   * `ctx.requestId`. Unlike `id`, it is never part of the OIP body.
   */
  requestId?: string;
  parameters?: Parameters;
  inputs: Tensor[];
  /** Subset of outputs to return; all of the model's outputs when absent or empty. */
  outputs?: RequestedOutput[];
  /**
   * True when the caller gives up ownership of the inputs' buffers, so they can be moved to the
   * worker thread instead of copied. The protocol adapters set it for the buffers they decoded;
   * library callers keep the default (copied) so their arrays stay usable.
   */
  transferInputs?: boolean;
}

export interface InferenceResponse {
  model_name: string;
  model_version: string;
  id?: string;
  parameters?: Parameters;
  outputs: Tensor[];
  /** Where the time went (not part of the OIP body; HTTP sends it as a Server-Timing header). */
  timing?: {
    queueNs: number;
    computeNs: number;
    cacheHit?: boolean;
    batchSize?: number;
    /** A graph's steps, each with its wall time (`step.<label>;dur=…` in Server-Timing). */
    steps?: Array<{ label: string; ns: number; outcome: 'success' | 'error' }>;
  };
}

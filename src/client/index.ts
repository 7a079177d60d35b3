/**
 * Slipway's typed client (`slipway/client`): the Open Inference Protocol over REST (JSON or binary
 * tensors) and gRPC, for Slipway or any OIP server such as Triton. Tensors go in and come out as
 * typed arrays (strings for BYTES); UNAVAILABLE answers are retried with backoff.
 *
 * @example
 * import { SlipwayHttpClient, SlipwayGrpcClient } from 'slipway/client';
 * const http = new SlipwayHttpClient('http://127.0.0.1:8000');
 * const grpc = new SlipwayGrpcClient('127.0.0.1:8001');
 * const input = { name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: new Float32Array(64) } as const;
 * const a = await http.infer('digits', [input]);
 * const b = await grpc.infer('digits', [input]);
 */
export {
  SlipwayHttpClient,
  type HttpClientOptions,
  type InferOptions,
  type InferResult,
  type ModelMetadata,
  type RepositoryEntry,
  type TensorMetadata,
  type RolloutStatus,
  type TrafficStatus,
  type TrafficReply,
  type RolloutConfig,
  type TrafficConfigInput,
} from './http-client.js';
export { startRollout, followRollout, type RolloutTarget, type FollowOptions } from './rollout.js';
export { SlipwayGrpcClient, type GrpcClientOptions } from './grpc-client.js';
export { SlipwayClientError } from './client-error.js';
export type { RetryOptions } from './retry.js';
export type { Tensor, Parameters } from '../tensor/tensor.js';
export type { Datatype, TensorData } from '../tensor/datatypes.js';

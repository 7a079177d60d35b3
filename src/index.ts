/**
 * Slipway's library API: everything an existing Node server needs to serve models in-process
 * (model-in-service) or to mount the Open Inference Protocol routes on its own Fastify app.
 *
 * @example
 * import Fastify from 'fastify';
 * import { Slipway, oipRoutes } from 'slipway';
 *
 * const slipway = await Slipway.open({ models: './models' });
 * const { outputs } = await slipway.infer({
 *   model: 'digits',
 *   inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: new Float32Array(64) }],
 * });
 *
 * const app = Fastify();
 * await app.register(oipRoutes, { slipway, prefix: '/ml' });
 */
export { Slipway, type SlipwayOptions } from './slipway.js';
export { createHttpServer, type HttpServerOptions } from './protocol/http/http-server.js';
export { oipRoutes, type OipRoutesOptions } from './protocol/http/oip-routes.js';
export { ServingError, isServingError } from './errors/serving-error.js';
export { ERROR_CODES, type ErrorCode, type ErrorCategory } from './errors/codes.js';
export { httpStatusOf } from './errors/to-http.js';
export type { InferenceRequest, InferenceResponse, RequestedOutput } from './tensor/inference.js';
export type { Tensor, Parameters, ParameterValue } from './tensor/tensor.js';
export { DATATYPES, type Datatype, type TensorData } from './tensor/datatypes.js';
export type { ModelConfig, TensorSpec } from './config/model-config.js';
export type { ModelState, RepositoryIndexEntry } from './repository/model-repository.js';

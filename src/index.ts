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
export { Slipway, type SlipwayOptions, type RolloutOptions } from './slipway.js';
export { responseCacheKey, type ResponseCache, type CacheTarget } from './scheduler/response-cache.js';
export { MemoryResponseCache } from './scheduler/memory-response-cache.js';
export { RedisResponseCache } from './scheduler/redis-response-cache.js';
export { createHttpServer, type HttpServerOptions } from './server/http-server.js';
export { oipRoutes, type OipRoutesOptions } from './protocol/http/oip-routes.js';
// Access control: API keys per route group, the hook that guards an app (createHttpServer installs it), rate limits.
export { AccessKeys, type AccessGroup, type AccessKeysOptions, type KeyIdentity } from './protocol/access/access-keys.js';
export { installHttpAccess, type HttpAccessOptions } from './protocol/access/http-access.js';
export { readKeysFile } from './protocol/access/keys-file.js';
export { RateLimiter, type RateLimit, type RateDecision } from './protocol/access/rate-limiter.js';
export { ServingError, isServingError } from './errors/serving-error.js';
export { ERROR_CODES, type ErrorCode, type ErrorCategory } from './errors/codes.js';
export { httpStatusOf } from './errors/to-http.js';
export type { InferenceRequest, InferenceResponse, RequestedOutput } from './tensor/inference.js';
export type { Tensor, Parameters, ParameterValue } from './tensor/tensor.js';
export { DATATYPES, type Datatype, type TensorData } from './tensor/datatypes.js';
export type { ModelConfig, TensorSpec } from './config/model-config.js';
export type { ModelState, RepositoryIndexEntry } from './repository/model-repository.js';
// Handlers: the TypeScript around a model (handler.ts in its folder), served at /api/models/{m}/predict.
export * from './runtime/handler/handler-api.js';
export { predictRoutes, type PredictRoutesOptions } from './protocol/http/predict-routes.js';
export { GrpcServer, type GrpcServerOptions } from './protocol/grpc/grpc-server.js';
export { dialectRoutes, type DialectRoutesOptions } from './protocol/http/dialects/dialect-routes.js';
export { openApiDocument, openApiRoutes } from './protocol/http/openapi/openapi.js';
export { SlipwayHttpClient, SlipwayGrpcClient, SlipwayClientError } from './client/index.js';
export { runBatchJob, type BatchJobOptions, type BatchRunSummary } from './batch/batch-job.js';
export { BatchSchedule } from './batch/batch-schedule.js';
export { openStore } from './batch/sinks/open-store.js';
export { tableHealth, type TableHealth } from './batch/staleness.js';
export { batchStatusRoutes, type BatchStatusRoutesOptions } from './protocol/http/batch-status-routes.js';
// The prototype web UI (`slipway serve` mounts it at /) and its feedback store, for apps that embed Slipway.
export { uiRoutes, type UiRoutesOptions } from './ui/ui-routes.js';
export { openFeedbackStore } from './ui/feedback/open-feedback-store.js';
export type { FeedbackStore, FeedbackBlob, NewFlag, StoredFlag, FlagLabel, FlagApi } from './ui/feedback/feedback-store.js';
// Traffic policies, shadow traffic and canary rollouts (`Slipway.rollouts`), and where their state lives.
export { RolloutController, type RolloutStatus, type TrafficStatus, type VersionShare, type RolloutModels } from './router/rollout-controller.js';
export type { RolloutStore, RolloutRecord, RolloutDecision, RolloutSpec, RolloutState, ModelRolloutDocument } from './router/rollout-store.js';
export { openRolloutStore, defaultRolloutDb } from './router/open-rollout-store.js';
export { MemoryRolloutStore } from './router/memory-rollout-store.js';
export type { TrafficPolicy, ShadowPolicy } from './router/traffic-policy.js';
export type { TrafficConfig, RolloutConfig } from './config/traffic-config.js';

import {
  DEFAULT_MAX_QUEUE_SIZE,
  toVersionPolicy,
  type ModelConfig,
  type ModelConfigFile,
  type ModelPlatform,
  type TensorSpec,
} from '../../config/model-config.js';
import type { Signature } from './tensor-types.js';

/**
 * A graph's config as a model's: the signature derived from its steps, so metadata, validation,
 * the dialects, the UI and batch jobs treat it like any model.
 */
export function graphModelConfig(
  name: string,
  platform: Exclude<ModelPlatform, 'onnxruntime_onnx'>,
  file: ModelConfigFile,
  inputs: Signature,
  outputs: Signature,
  maxBatchSize: number,
): ModelConfig {
  const spec = ([tensor, type]: [string, { datatype: TensorSpec['datatype']; shape: number[] }]): TensorSpec => ({
    name: tensor,
    datatype: type.datatype,
    dims: maxBatchSize > 0 ? type.shape.slice(1) : type.shape,
  });
  return signatureConfig(name, platform, [...inputs].map(spec), [...outputs].map(spec), maxBatchSize, file);
}

/**
 * The config of something known only by its signature (a graph, a remote model): no queue or
 * instances of its own (a graph's steps have theirs), so those knobs are zero.
 */
export function signatureConfig(
  name: string,
  platform: ModelPlatform,
  inputs: TensorSpec[],
  outputs: TensorSpec[],
  maxBatchSize: number,
  file: ModelConfigFile = {},
): ModelConfig {
  return {
    name,
    platform,
    maxBatchSize,
    inputs,
    outputs,
    versionPolicy: toVersionPolicy(file.version_policy),
    instanceCount: 0,
    intraOpThreads: 0,
    scheduling: {
      dynamicBatching: false,
      preferredBatchSizes: [],
      maxQueueDelayUs: 0,
      maxQueueSize: DEFAULT_MAX_QUEUE_SIZE,
      defaultTimeoutUs: file.dynamic_batching?.default_timeout_microseconds ?? 0,
      // A graph has no queue of its own: its steps' schedulers admit.
      maxQueueWaitUs: 0,
      priorityLevels: 0,
      defaultPriorityLevel: 0,
    },
    responseCache: file.response_cache?.enable ?? false,
    responseCacheRawBody: file.response_cache?.raw_body ?? true,
    defaultModelFilename: '',
    parameters: file.parameters ?? {},
  };
}

/** A graph batches when every input and output has a variable first dimension and every step batches: up to the smallest step limit. */
export function graphBatchSize(inputs: Signature, outputs: Signature, stepLimits: readonly number[]): number {
  const all = [...inputs.values(), ...outputs.values()];
  const variable = all.length > 0 && all.every((t) => t.shape.length > 0 && t.shape[0] === -1);
  if (!variable || stepLimits.length === 0 || stepLimits.some((n) => n === 0)) return 0;
  return Math.min(...stepLimits);
}

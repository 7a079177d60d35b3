import { z } from 'zod';
import { DATATYPES, type Datatype } from '../tensor/datatypes.js';
import { handlerConfigFileSchema } from './handler-config.js';
import { batchMappingSchema } from './batch-mapping-config.js';
import { rolloutConfigSchema, trafficConfigSchema } from './traffic-config.js';
import { edgeConfigFileSchema } from './edge-config.js';

// Triton spells datatypes TYPE_FP32 in model configs and FP32 on the wire; accept both so a
// config.pbtxt translated to YAML works as is.
const datatype = z
  .string()
  .transform((s) => s.replace(/^TYPE_/, '').replace(/^STRING$/, 'BYTES'))
  .pipe(z.enum(DATATYPES, { error: () => `expected one of ${DATATYPES.join(', ')} (optionally prefixed TYPE_)` }));

const dim = z.number().int().min(-1, 'a dimension is a non-negative integer, or -1 for variable');

const tensorSpec = z.strictObject({
  name: z.string().min(1),
  data_type: datatype.optional(),
  /** Dimensions without the batch dimension (as in Triton); -1 for variable. */
  dims: z.array(dim).optional(),
});

const versionPolicy = z.union([
  z.strictObject({ latest: z.strictObject({ num_versions: z.number().int().positive() }) }),
  z.strictObject({ all: z.strictObject({}) }),
  z.strictObject({ specific: z.strictObject({ versions: z.array(z.number().int().positive()).min(1) }) }),
]);

const instanceGroup = z.strictObject({
  count: z.number().int().positive().max(64).optional(),
  intra_op_threads: z.number().int().positive().max(256).optional(),
  kind: z.enum(['KIND_CPU', 'KIND_AUTO']).optional(),
  /**
   * Slipway's addition: where instances run. `worker` (default): worker threads; `inline`: on the
   * main thread (one instance; for microsecond models, no thread hop); `auto`: measured at load.
   */
  placement: z.enum(['auto', 'worker', 'inline']).optional(),
  /**
   * Slipway's addition: how batches cross to worker instances. `message` (default): a postMessage
   * each way; `shared`: SharedArrayBuffer slots woken with Atomics (batches over 1 MiB go by message).
   */
  handoff: z.enum(['message', 'shared']).optional(),
});

const dynamicBatching = z.strictObject({
  /** Slipway's addition: batching is on by default for models with a batch dimension; `false` turns it off. */
  enable: z.boolean().optional(),
  preferred_batch_size: z.array(z.number().int().positive()).optional(),
  max_queue_delay_microseconds: z.number().int().min(0).optional(),
  /** 0 = unbounded, as in Triton; unset = DEFAULT_MAX_QUEUE_SIZE, so overload cannot grow memory without bound. */
  max_queue_size: z.number().int().min(0).optional(),
  default_timeout_microseconds: z.number().int().min(0).optional(),
  /**
   * Slipway's addition, beside max_queue_size in Triton's queue policy: a request whose expected wait
   * in the queue (the work ahead of it at the measured service time) is longer is refused at once
   * with 429 + Retry-After. 0 = no bound; `auto` = one full batch's measured run time on an instance (at least 10 ms);
   * unset = the server's --max-queue-wait.
   */
  max_queue_wait_microseconds: z.union([z.number().int().min(0), z.literal('auto')]).optional(),
  priority_levels: z.number().int().min(0).max(1000).optional(),
  default_priority_level: z.number().int().min(0).optional(),
});

// Triton's protobuf text has `input_map { key: "a" value: "b" }`; translated to YAML that is a list
// of {key, value} pairs, while Triton's JSON form is a map. Both are accepted.
const tensorMap = z.preprocess(
  (v) =>
    Array.isArray(v) && v.every((e) => typeof e === 'object' && e !== null && 'key' in e && 'value' in e)
      ? Object.fromEntries((v as Array<{ key: unknown; value: unknown }>).map((e) => [e.key, e.value]))
      : v,
  z.record(z.string().min(1), z.string().min(1)),
);

/** One step of a Triton ensemble: a model, and how its tensors map to the ensemble's. */
const ensembleStep = z.strictObject({
  model_name: z.string().min(1),
  /** -1 (Triton's default) = the newest ready version under the model's version policy. */
  model_version: z.number().int().min(-1).optional(),
  /** The step model's input name → the ensemble tensor that feeds it. */
  input_map: tensorMap.optional(),
  /** The step model's output name → the ensemble tensor it produces. */
  output_map: tensorMap.optional(),
  /** Slipway's addition: the step must answer within this time, or the request fails naming it. */
  timeout_microseconds: z.number().int().positive().optional(),
});

export type EnsembleStepFile = z.infer<typeof ensembleStep>;

/** The `config.yaml` beside a model's version folders. Every field is optional: the graph fills the rest. */
export const modelConfigFileSchema = z.strictObject({
  name: z.string().min(1).optional(),
  /** `ensemble`: the folder is a Triton ensemble (a graph of other models), with `ensemble_scheduling`. */
  platform: z
    .enum(['onnxruntime_onnx', 'ensemble'], {
      error: () => 'expected onnxruntime_onnx (a model file) or ensemble (a Triton ensemble), or put a KServe InferenceGraph in inference-graph.yaml',
    })
    .optional(),
  backend: z.literal('onnxruntime').optional(),
  max_batch_size: z.number().int().min(0).optional(),
  input: z.array(tensorSpec).optional(),
  output: z.array(tensorSpec).optional(),
  version_policy: versionPolicy.optional(),
  // Triton takes a list of groups; with one engine kind on CPU one group says everything. Unwrapping
  // a one-element list before validation keeps errors pointing at the field (instance_group.count).
  instance_group: z
    .preprocess((v) => (Array.isArray(v) && v.length === 1 ? v[0] : v), instanceGroup)
    .optional(),
  dynamic_batching: dynamicBatching.optional(),
  response_cache: z
    .strictObject({
      enable: z.boolean(),
      /** Slipway's addition: also answer byte-identical requests with the stored answer bytes, before decoding (default true). */
      raw_body: z.boolean().optional(),
    })
    .optional(),
  default_model_filename: z.string().min(1).optional(),
  parameters: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  /** The steps of an ensemble (`platform: ensemble`), in Triton's form. */
  ensemble_scheduling: z.strictObject({ step: z.array(ensembleStep).min(1) }).optional(),
  /** How the folder's handler.ts runs (see handler-config.ts). */
  handler: handlerConfigFileSchema.optional(),
  /** How `slipway batch run` maps rows to inputs and outputs to columns (see batch-mapping-config.ts). */
  batch: batchMappingSchema.optional(),
  /** How requests that name no version split across the loaded versions, and which are mirrored (see traffic-config.ts). */
  traffic: trafficConfigSchema.optional(),
  /** A canary rollout to run once its `to` version is READY (once per version; see traffic-config.ts). */
  rollout: rolloutConfigSchema.optional(),
  /** What `slipway edge` ships to the browser and when its page falls back to the server (see edge-config.ts). */
  edge: edgeConfigFileSchema.optional(),
});

export type ModelConfigFile = z.infer<typeof modelConfigFileSchema>;

export type VersionPolicy =
  | { kind: 'latest'; numVersions: number }
  | { kind: 'all' }
  | { kind: 'specific'; versions: number[] };

export interface TensorSpec {
  name: string;
  datatype: Datatype;
  /** Without the batch dimension when the model batches (Triton's convention); -1 = variable. */
  dims: number[];
}

/** Requests a model may hold queued when its config does not say (Triton's default is unbounded). */
export const DEFAULT_MAX_QUEUE_SIZE = 1024;

/**
 * The server-wide max_queue_wait when neither the model nor `--max-queue-wait` says: no bound, so
 * requests queue (up to max_queue_size) as they do in Triton, whose queue policy is opt-in. A slow
 * model with a few more concurrent clients than instances should make them wait, not refuse them;
 * servers that must shed under overload turn on `auto`.
 */
export const DEFAULT_MAX_QUEUE_WAIT: number | 'auto' = 0;

/** How a model version's requests are queued and grouped (Triton's dynamic_batching, resolved). */
export interface SchedulingConfig {
  /** Concatenate queued requests along dim 0; only for models with max_batch_size > 0. */
  dynamicBatching: boolean;
  preferredBatchSizes: number[];
  maxQueueDelayUs: number;
  /** 0 = unbounded. */
  maxQueueSize: number;
  /** 0 = no deadline unless the request sets `timeout`. */
  defaultTimeoutUs: number;
  /**
   * Admission by expected queue wait: refuse a request (QUEUE_WAIT_EXCEEDED) when the rows queued
   * ahead of it would take longer than this to start. 0 = no bound; `auto` = one batch's measured
   * run time on an instance, at least AUTO_MIN_QUEUE_WAIT_US (scheduler/queue-wait-estimator.ts).
   */
  maxQueueWaitUs: number | 'auto';
  /** 0 = one level. Otherwise requests carry `priority` 1..N, 1 the highest. */
  priorityLevels: number;
  defaultPriorityLevel: number;
}

/**
 * What serves a model: onnxruntime, or a graph of other models (`ensemble`: Triton's form;
 * `inference_graph`: KServe's InferenceGraph form).
 */
/** `handler`: a tensor handler (defineTensorHandler), TypeScript served as a model. */
export type ModelPlatform = 'onnxruntime_onnx' | 'ensemble' | 'inference_graph' | 'handler';

/** A model's configuration once the file and the graph are merged: what the server enforces. */
export interface ModelConfig {
  name: string;
  platform: ModelPlatform;
  /** 0: the model has no batch dimension. N > 0: dim 0 is the batch, at most N. */
  maxBatchSize: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  versionPolicy: VersionPolicy;
  instanceCount: number;
  intraOpThreads: number;
  scheduling: SchedulingConfig;
  responseCache: boolean;
  /** With `responseCache`: byte-identical HTTP requests are answered from the stored answer bytes before decoding. */
  responseCacheRawBody: boolean;
  defaultModelFilename: string;
  parameters: Record<string, string | number | boolean>;
}

export function toVersionPolicy(file: ModelConfigFile['version_policy']): VersionPolicy {
  if (file === undefined) return { kind: 'latest', numVersions: 1 };
  if ('latest' in file) return { kind: 'latest', numVersions: file.latest.num_versions };
  if ('all' in file) return { kind: 'all' };
  return { kind: 'specific', versions: file.specific.versions };
}

/** The full shape a client sends: `[-1, ...dims]` for batching models. */
export function fullShape(config: Pick<ModelConfig, 'maxBatchSize'>, spec: TensorSpec): number[] {
  return config.maxBatchSize > 0 ? [-1, ...spec.dims] : spec.dims;
}

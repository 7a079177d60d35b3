import { z } from 'zod';
import { DATATYPES, type Datatype } from '../tensor/datatypes.js';

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
});

/** The `config.yaml` beside a model's version folders. Every field is optional: the graph fills the rest. */
export const modelConfigFileSchema = z.strictObject({
  name: z.string().min(1).optional(),
  platform: z.literal('onnxruntime_onnx').optional(),
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
  default_model_filename: z.string().min(1).optional(),
  parameters: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
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

/** A model's configuration once the file and the graph are merged: what the server enforces. */
export interface ModelConfig {
  name: string;
  platform: 'onnxruntime_onnx';
  /** 0: the model has no batch dimension. N > 0: dim 0 is the batch, at most N. */
  maxBatchSize: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  versionPolicy: VersionPolicy;
  instanceCount: number;
  intraOpThreads: number;
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

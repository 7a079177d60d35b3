import type { ModelConfig, TensorSpec, VersionPolicy } from '../../config/model-config.js';

/** A resolved config in Triton's JSON form (`GET /v2/models/{m}/config`), so Triton tooling can read it. */
export function modelConfigJson(config: ModelConfig): Record<string, unknown> {
  const tensor = (t: TensorSpec) => ({ name: t.name, data_type: `TYPE_${t.datatype === 'BYTES' ? 'STRING' : t.datatype}`, dims: t.dims });
  // A graph has no backend, instances or file of its own (Triton's ensembles neither): its steps do.
  const engine = config.platform === 'onnxruntime_onnx';
  return {
    name: config.name,
    platform: config.platform,
    ...(engine && { backend: 'onnxruntime' }),
    max_batch_size: config.maxBatchSize,
    input: config.inputs.map(tensor),
    output: config.outputs.map(tensor),
    version_policy: versionPolicyJson(config.versionPolicy),
    ...(engine && {
      instance_group: [{ name: config.name, kind: 'KIND_CPU', count: config.instanceCount, intra_op_threads: config.intraOpThreads }],
      default_model_filename: config.defaultModelFilename,
    }),
    parameters: config.parameters,
  };
}

function versionPolicyJson(policy: VersionPolicy): Record<string, unknown> {
  switch (policy.kind) {
    case 'latest':
      return { latest: { num_versions: policy.numVersions } };
    case 'all':
      return { all: {} };
    case 'specific':
      return { specific: { versions: policy.versions } };
  }
}

import type { ModelMetadata } from '../../client/http-client.js';
import { DATATYPES, type Datatype } from '../../tensor/datatypes.js';
import { ServingError } from '../../errors/serving-error.js';
import type { ModelConfig, TensorSpec } from '../../config/model-config.js';
import { signatureConfig } from '../../repository/graph/graph-model-config.js';
import type { RemoteEndpoint } from '../../repository/graph/step-catalog.js';

/**
 * A remote model's signature as a config, from its OIP metadata (and max_batch_size from Triton's
 * config extension, when the server has it), so a graph checks remote steps like local ones.
 */
export function remoteModelConfig(endpoint: RemoteEndpoint, metadata: ModelMetadata, maxBatchSize: unknown): ModelConfig {
  const all = [...metadata.inputs, ...metadata.outputs];
  const batches = typeof maxBatchSize === 'number' && maxBatchSize > 0 && all.every((t) => t.shape[0] === -1);
  const spec = (t: { name: string; datatype: string; shape: number[] }): TensorSpec => {
    if (!(DATATYPES as readonly string[]).includes(t.datatype)) {
      throw new ServingError('CONFIG_INVALID', `remote model '${endpoint.model}' at ${endpoint.baseUrl}: tensor '${t.name}' has datatype ${t.datatype}, which Slipway cannot carry`);
    }
    return { name: t.name, datatype: t.datatype as Datatype, dims: batches ? t.shape.slice(1) : t.shape };
  };
  // Typed as onnxruntime: to a graph's planner it is one model, whatever serves it over there.
  return signatureConfig(endpoint.model, 'onnxruntime_onnx', metadata.inputs.map(spec), metadata.outputs.map(spec), batches ? (maxBatchSize as number) : 0);
}

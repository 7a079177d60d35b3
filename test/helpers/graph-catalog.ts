import type { ModelConfig } from '../../src/config/model-config.js';
import { ServingError } from '../../src/errors/serving-error.js';
import { signatureConfig } from '../../src/repository/graph/graph-model-config.js';
import type { StepCatalog } from '../../src/repository/graph/step-catalog.js';
import type { Datatype } from '../../src/tensor/datatypes.js';

type Spec = [name: string, datatype: Datatype, dims: number[]];

/** A model config as a graph planner sees it (only the signature matters to it). */
export function modelConfig(name: string, inputs: Spec[], outputs: Spec[], maxBatchSize = 8): ModelConfig {
  const spec = ([n, datatype, dims]: Spec) => ({ name: n, datatype, dims });
  return signatureConfig(name, 'onnxruntime_onnx', inputs.map(spec), outputs.map(spec), maxBatchSize);
}

/** A catalog over fixed configs; `unavailable` models answer MODEL_NOT_READY with a reason, as the router would. */
export function catalog(models: ModelConfig[], options: { unavailable?: Record<string, string>; remote?: Record<string, ModelConfig> } = {}): StepCatalog {
  return {
    model: (name) => {
      const reason = options.unavailable?.[name];
      if (reason !== undefined) throw new ServingError('MODEL_NOT_READY', `model '${name}' version 1 is UNAVAILABLE: ${reason}`);
      const found = models.find((m) => m.name === name);
      if (found === undefined) throw new ServingError('CONFIG_INVALID', `unknown model '${name}'; serving: ${models.map((m) => m.name).join(', ')}`);
      return found;
    },
    remote: (url) => {
      const found = options.remote?.[url];
      if (found === undefined) throw new ServingError('MODEL_NOT_READY', `no metadata for ${url}`);
      return found;
    },
  };
}

import { ServingError } from '../errors/serving-error.js';
import {
  DEFAULT_MAX_QUEUE_SIZE,
  toVersionPolicy,
  type SchedulingConfig,
  type ModelConfig,
  type ModelConfigFile,
  type TensorSpec,
} from '../config/model-config.js';
import { datatypeFromOnnx } from '../tensor/datatypes.js';
import type { EngineSignature, GraphTensor } from '../runtime/engine.js';

export interface AutocompleteDefaults {
  /** Used when the graph can batch and the config does not say max_batch_size (Triton's default-max-batch-size). */
  defaultMaxBatchSize: number;
  /** Cores available to this process; the default instance layout keeps instances × threads ≤ cores. */
  cores: number;
  /** max_queue_wait_microseconds for models whose config does not say (`--max-queue-wait`). */
  defaultMaxQueueWaitUs: number | 'auto';
}

/** Default instance layout: two single-threaded instances beat one two-threaded one on small CPUs. */
export function defaultInstanceLayout(
  cores: number,
  count?: number,
  threads?: number,
): { instanceCount: number; intraOpThreads: number } {
  const instanceCount = count ?? Math.max(1, Math.min(2, cores));
  const intraOpThreads = threads ?? Math.max(1, Math.floor(cores / instanceCount));
  return { instanceCount, intraOpThreads };
}

/**
 * Merges a model's config file with what its graph declares, as Triton's autocomplete does: names,
 * datatypes and dims come from the graph unless the file narrows them; dim 0 is the batch dimension
 * when every input and output has a variable first dimension. Contradictions are CONFIG_INVALID.
 */
export function autocompleteConfig(
  name: string,
  file: ModelConfigFile,
  signature: EngineSignature,
  defaults: AutocompleteDefaults,
): ModelConfig {
  const problems: string[] = [];
  const all = [...signature.inputs, ...signature.outputs];
  const canBatch = all.length > 0 && all.every((t) => t.dims.length > 0 && t.dims[0] === -1);
  let maxBatchSize: number;
  if (file.max_batch_size === undefined) {
    maxBatchSize = canBatch ? defaults.defaultMaxBatchSize : 0;
  } else {
    maxBatchSize = file.max_batch_size;
    if (maxBatchSize > 0 && !canBatch) {
      const fixed = all.find((t) => t.dims.length === 0 || t.dims[0] !== -1);
      problems.push(
        `max_batch_size: ${maxBatchSize} needs a variable first dimension on every input and output, but '${fixed?.name}' has shape [${fixed?.dims.join(',')}]`,
      );
    }
  }
  const batched = maxBatchSize > 0;
  const scheduling = resolveScheduling(file.dynamic_batching, maxBatchSize, defaults.defaultMaxQueueWaitUs, problems);
  const inputs = mergeSpecs('input', signature.inputs, file.input, batched, problems);
  const outputs = mergeSpecs('output', signature.outputs, file.output, batched, problems);
  if (problems.length > 0) throw new ServingError('CONFIG_INVALID', problems.join('; '));
  const layout = defaultInstanceLayout(defaults.cores, file.instance_group?.count, file.instance_group?.intra_op_threads);
  return {
    name,
    platform: 'onnxruntime_onnx',
    maxBatchSize,
    inputs,
    outputs,
    versionPolicy: toVersionPolicy(file.version_policy),
    ...layout,
    scheduling,
    responseCache: file.response_cache?.enable ?? false,
    responseCacheRawBody: file.response_cache?.raw_body ?? true,
    defaultModelFilename: file.default_model_filename ?? 'model.onnx',
    parameters: file.parameters ?? {},
  };
}

/**
 * Triton's autocomplete turns dynamic batching on for models that can batch; so do we, with no
 * added delay (max_queue_delay 0 batches only what is already waiting, so it costs no latency).
 */
function resolveScheduling(
  file: ModelConfigFile['dynamic_batching'],
  maxBatchSize: number,
  defaultMaxQueueWaitUs: number | 'auto',
  problems: string[],
): SchedulingConfig {
  const enabled = file?.enable ?? maxBatchSize > 0;
  if (enabled && maxBatchSize === 0 && file?.enable === true) {
    problems.push('dynamic_batching.enable: batching needs max_batch_size > 0 (the model has no batch dimension)');
  }
  const preferred = [...(file?.preferred_batch_size ?? [])].sort((a, b) => a - b);
  preferred.forEach((size, i) => {
    if (maxBatchSize > 0 && size > maxBatchSize) {
      problems.push(`dynamic_batching.preferred_batch_size.${i}: ${size} exceeds max_batch_size ${maxBatchSize}`);
    }
  });
  const levels = file?.priority_levels ?? 0;
  const defaultLevel = file?.default_priority_level ?? (levels > 0 ? Math.ceil(levels / 2) : 0);
  if (levels > 0 && (defaultLevel < 1 || defaultLevel > levels)) {
    problems.push(`dynamic_batching.default_priority_level: ${defaultLevel} must be within 1..priority_levels (${levels})`);
  }
  if (levels === 0 && defaultLevel !== 0) {
    problems.push('dynamic_batching.default_priority_level: set priority_levels first');
  }
  return {
    dynamicBatching: enabled && maxBatchSize > 0,
    preferredBatchSizes: preferred,
    maxQueueDelayUs: file?.max_queue_delay_microseconds ?? 0,
    maxQueueSize: file?.max_queue_size ?? DEFAULT_MAX_QUEUE_SIZE,
    defaultTimeoutUs: file?.default_timeout_microseconds ?? 0,
    maxQueueWaitUs: file?.max_queue_wait_microseconds ?? defaultMaxQueueWaitUs,
    priorityLevels: levels,
    defaultPriorityLevel: defaultLevel,
  };
}

function mergeSpecs(
  role: 'input' | 'output',
  graph: GraphTensor[],
  configured: ModelConfigFile['input'],
  batched: boolean,
  problems: string[],
): TensorSpec[] {
  const byName = new Map<string, { c: NonNullable<ModelConfigFile['input']>[number]; i: number }>();
  (configured ?? []).forEach((c, i) => {
    if (byName.has(c.name)) problems.push(`${role}[${i}].name: '${c.name}' is listed more than once`);
    else byName.set(c.name, { c, i });
  });
  for (const [name, { i }] of byName) {
    if (!graph.some((g) => g.name === name)) {
      problems.push(`${role}[${i}].name: '${name}' is not an ${role} of the graph (graph ${role}s: ${graph.map((g) => g.name).join(', ')})`);
    }
  }
  const specs: TensorSpec[] = [];
  for (const g of graph) {
    const datatype = datatypeFromOnnx(g.onnxType);
    if (datatype === undefined) {
      problems.push(`${role} '${g.name}': graph element type '${g.onnxType}' has no Open Inference Protocol datatype`);
      continue;
    }
    const graphDims = batched ? g.dims.slice(1) : g.dims;
    const entry = byName.get(g.name);
    if (entry === undefined) {
      specs.push({ name: g.name, datatype, dims: graphDims });
      continue;
    }
    const { c, i } = entry;
    const path = `${role}[${i}]`;
    if (c.data_type !== undefined && c.data_type !== datatype) {
      problems.push(`${path}.data_type: config says ${c.data_type} but the graph's '${g.name}' is ${datatype}`);
    }
    let dims = graphDims;
    if (c.dims !== undefined) {
      const compatible =
        c.dims.length === graphDims.length && c.dims.every((d, k) => graphDims[k] === -1 || d === graphDims[k]);
      if (compatible) dims = c.dims;
      else {
        problems.push(
          `${path}.dims: [${c.dims.join(',')}] does not fit the graph's '${g.name}' dims [${graphDims.join(',')}]${batched ? ' (batch dimension excluded)' : ''}`,
        );
      }
    }
    specs.push({ name: g.name, datatype, dims });
  }
  return specs;
}

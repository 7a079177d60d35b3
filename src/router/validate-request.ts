import { fullShape, type ModelConfig, type TensorSpec } from '../config/model-config.js';
import { ServingError } from '../errors/serving-error.js';
import type { InferenceRequest } from '../tensor/inference.js';
import { elementCount, formatShape, type Tensor } from '../tensor/tensor.js';

const invalid = (message: string): ServingError => new ServingError('INVALID_INPUT', message);

/**
 * Checks a request against the model's signature and returns the output names to compute. Each
 * error names the tensor and says what was expected, so a client can fix its request from the
 * message alone.
 */
export function validateRequest(config: ModelConfig, request: InferenceRequest): string[] {
  const specs = new Map(config.inputs.map((s) => [s.name, s] as const));
  const seen = new Set<string>();
  let batch: { size: number; from: string } | undefined;
  for (const tensor of request.inputs) {
    if (seen.has(tensor.name)) throw invalid(`input '${tensor.name}' is given more than once`);
    seen.add(tensor.name);
    const spec = specs.get(tensor.name);
    if (spec === undefined) {
      throw invalid(`unknown input '${tensor.name}'; model '${config.name}' expects ${describe(config, config.inputs)}`);
    }
    checkTensor(config, spec, tensor);
    if (config.maxBatchSize > 0) {
      const size = tensor.shape[0]!;
      if (size > config.maxBatchSize) {
        throw invalid(`input '${tensor.name}': batch size ${size} exceeds the model's max_batch_size ${config.maxBatchSize}`);
      }
      if (batch !== undefined && batch.size !== size) {
        throw invalid(`input '${tensor.name}' has batch size ${size} but input '${batch.from}' has ${batch.size}; all inputs must share dim 0`);
      }
      batch ??= { size, from: tensor.name };
    }
  }
  const missing = config.inputs.filter((s) => !seen.has(s.name));
  if (missing.length > 0) throw invalid(`missing input ${describe(config, missing)} for model '${config.name}'`);
  return outputNames(config, request);
}

function checkTensor(config: ModelConfig, spec: TensorSpec, tensor: Tensor): void {
  if (tensor.datatype !== spec.datatype) {
    throw invalid(`input '${tensor.name}': expected datatype ${spec.datatype}, got ${tensor.datatype}`);
  }
  const expected = fullShape(config, spec);
  const shape = tensor.shape;
  const fits = shape.length === expected.length && expected.every((d, i) => d === -1 || d === shape[i]);
  if (!fits) {
    throw invalid(
      `input '${tensor.name}': shape ${formatShape(shape)} does not match the model's ${formatShape(expected)} (-1 = any size)`,
    );
  }
  const count = elementCount(shape);
  if (tensor.data.length !== count) {
    throw invalid(`input '${tensor.name}': shape ${formatShape(shape)} has ${count} elements but data has ${tensor.data.length}`);
  }
  if (config.platform === 'onnxruntime_onnx' && Array.isArray(tensor.data)) checkNoNul(tensor.name, tensor.data);
}

/**
 * onnxruntime takes string tensor elements as C strings: an element holding U+0000 would reach the
 * model cut at it ("ab\0cd" runs as "ab") and the answer would be silently wrong. Every protocol
 * carries such strings exactly; the engine cannot, so the request is refused by element.
 */
function checkNoNul(name: string, elements: readonly string[]): void {
  for (let i = 0; i < elements.length; i++) {
    const at = elements[i]!.indexOf('\0');
    if (at >= 0) {
      throw invalid(
        `input '${name}': BYTES element ${i} contains a NUL character (U+0000) at offset ${at}; onnxruntime reads string elements as C strings and would cut it there, so ONNX models cannot take it`,
      );
    }
  }
}

function outputNames(config: ModelConfig, request: InferenceRequest): string[] {
  const requested = request.outputs ?? [];
  if (requested.length === 0) return config.outputs.map((o) => o.name);
  const known = new Set(config.outputs.map((o) => o.name));
  const names: string[] = [];
  for (const { name } of requested) {
    if (!known.has(name)) {
      throw invalid(`unknown output '${name}'; model '${config.name}' has outputs ${config.outputs.map((o) => `'${o.name}'`).join(', ')}`);
    }
    if (names.includes(name)) throw invalid(`output '${name}' is requested more than once`);
    names.push(name);
  }
  return names;
}

function describe(config: ModelConfig, specs: TensorSpec[]): string {
  return specs.map((s) => `'${s.name}' (${s.datatype} ${formatShape(fullShape(config, s))})`).join(', ');
}

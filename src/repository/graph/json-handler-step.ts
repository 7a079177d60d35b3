import type { ModelConfig, TensorSpec } from '../../config/model-config.js';
import { ServingError } from '../../errors/serving-error.js';
import { FILE_FIELD_KEYWORD } from '../../runtime/handler/file-schema.js';
import type { HandlerDescription } from '../../runtime/handler/handler-messages.js';
import type { Datatype } from '../../tensor/datatypes.js';
import { signatureConfig } from './graph-model-config.js';

/** One top-level field of a JSON handler's request or response, as the tensor a graph passes. */
export interface JsonStepField {
  name: string;
  datatype: Datatype;
  /** Tensor shape: [1] for a scalar field, one dimension per array level (-1 unless the length is fixed). */
  shape: number[];
  /** A single value (not an array): sent as the tensor's one element. */
  scalar: boolean;
}

/** How a JSON handler's request and response map onto tensors. */
export interface JsonStepFields {
  inputs: JsonStepField[];
  outputs: JsonStepField[];
}

type JsonSchema = Record<string, unknown>;

const SCALARS: Record<string, Datatype> = { number: 'FP64', integer: 'INT64', boolean: 'BOOL', string: 'BYTES' };

/** A field's tensor form, or why it has none. */
function fieldOf(name: string, schema: JsonSchema): JsonStepField | string {
  if (schema[FILE_FIELD_KEYWORD] !== undefined) return `field '${name}' is a file, which has no tensor form`;
  const shape: number[] = [];
  let current = schema;
  while (current.type === 'array') {
    const items = current.items;
    if (typeof items !== 'object' || items === null || Array.isArray(items)) return `field '${name}' is an array without one item schema`;
    const fixed = typeof current.minItems === 'number' && current.minItems === current.maxItems;
    shape.push(fixed ? (current.minItems as number) : -1);
    current = items as JsonSchema;
    if (current[FILE_FIELD_KEYWORD] !== undefined) return `field '${name}' holds files, which have no tensor form`;
  }
  const datatype = typeof current.type === 'string' ? SCALARS[current.type] : undefined;
  if (datatype === undefined) {
    return `field '${name}' is ${current.type === 'object' ? 'an object' : current.type === undefined ? 'of no single JSON type' : `of type ${JSON.stringify(current.type)}`}`;
  }
  return { name, datatype, shape: shape.length === 0 ? [1] : shape, scalar: shape.length === 0 };
}

/** Required fields of an object schema, as tensors; optional ones are left to the handler's defaults. */
function fieldsOf(schema: JsonSchema, side: 'request' | 'response'): JsonStepField[] | string {
  if (schema.type !== 'object' || typeof schema.properties !== 'object' || schema.properties === null) {
    return `its ${side} is not a JSON object of named fields, so its fields cannot be tensors`;
  }
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  const fields: JsonStepField[] = [];
  const problems: string[] = [];
  for (const [name, field] of Object.entries(schema.properties as Record<string, JsonSchema>)) {
    if (!required.has(name)) continue;
    const found = fieldOf(name, field);
    if (typeof found === 'string') problems.push(found);
    else fields.push(found);
  }
  if (problems.length > 0) return `its ${side} ${problems.join('; ')}`;
  if (fields.length === 0) return `its ${side} has no required field to carry a tensor`;
  return fields;
}

/**
 * A JSON handler (defineHandler with `predict`, no graph of its own) as an InferenceGraph step: each
 * required field of its request is an input tensor of that name, each required field of its response
 * an output tensor. Numbers are FP64, integers INT64, booleans BOOL, strings BYTES; an array adds a
 * dimension (fixed when its length is), a single value is a tensor of shape [1]. Throws
 * CONFIG_INVALID naming what has no tensor form (files, nested objects, unions).
 *
 * @example
 * jsonHandlerStep('stats', description).config.inputs; // [{ name: 'rows', datatype: 'FP64', dims: [-1, -1] }]
 */
export function jsonHandlerStep(model: string, description: HandlerDescription): { config: ModelConfig; fields: JsonStepFields } {
  const inputs = fieldsOf(description.inputSchema, 'request');
  const outputs = fieldsOf(description.outputSchema, 'response');
  const problems = [inputs, outputs].filter((p): p is string => typeof p === 'string');
  if (problems.length > 0) {
    throw new ServingError(
      'CONFIG_INVALID',
      `model '${model}' is a JSON handler (defineHandler) that cannot be a graph step: ${problems.join('; ')} ` +
        `(a tensor holds numbers, integers, booleans or strings, in arrays); declare it with defineTensorHandler instead`,
    );
  }
  const spec = (f: JsonStepField): TensorSpec => ({ name: f.name, datatype: f.datatype, dims: f.shape });
  const fields = { inputs: inputs as JsonStepField[], outputs: outputs as JsonStepField[] };
  return { config: signatureConfig(model, 'handler', fields.inputs.map(spec), fields.outputs.map(spec), 0), fields };
}

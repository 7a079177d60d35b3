// A JSON handler as a graph step: the step's tensors become the fields of its request body, and the
// fields of its answer become tensors again, as the step's plan (JsonStepFields) says.
import { ServingError } from '../../errors/serving-error.js';
import type { JsonStepField, JsonStepFields } from '../../repository/graph/json-handler-step.js';
import { nestValues, tensorJsonValues } from '../../tensor/json-values.js';
import { formatShape, type Tensor } from '../../tensor/tensor.js';

/** The request body a JSON handler step sends: each input field from the tensor of its name. */
export function jsonStepBody(fields: JsonStepFields, inputs: readonly Tensor[], model: string): Uint8Array {
  const body: Record<string, unknown> = {};
  for (const field of fields.inputs) {
    const tensor = inputs.find((t) => t.name === field.name);
    if (tensor === undefined) throw new ServingError('INFERENCE_FAILED', `handler '${model}': no tensor for its field '${field.name}'`);
    const flat = tensorJsonValues(tensor);
    if (field.scalar) {
      if (flat.length !== 1) {
        throw new ServingError('INVALID_INPUT', `handler '${model}': field '${field.name}' takes one value, and tensor '${tensor.name}' ${formatShape(tensor.shape)} holds ${flat.length}`);
      }
      body[field.name] = flat[0];
    } else {
      body[field.name] = nestValues(flat, tensor.shape);
    }
  }
  return new TextEncoder().encode(JSON.stringify(body));
}

/** The shape of a nested JSON array, or why it is not a rectangular one of scalars. */
function shapeOf(value: unknown, depth: number, where: string): number[] {
  if (depth === 0) {
    if (Array.isArray(value)) throw new Error(`${where} has more array levels than its schema`);
    return [];
  }
  if (!Array.isArray(value)) throw new Error(`${where} is not an array`);
  const inner = value.map((v, i) => shapeOf(v, depth - 1, `${where}[${i}]`));
  const first = inner[0] ?? Array.from({ length: depth - 1 }, () => 0);
  const ragged = inner.findIndex((s) => s.join(',') !== first.join(','));
  if (ragged >= 0) throw new Error(`${where} is ragged: item ${ragged} is ${formatShape(inner[ragged]!)} and item 0 is ${formatShape(first)}`);
  return [value.length, ...first];
}

function typed(field: JsonStepField, flat: unknown[]): Tensor['data'] {
  switch (field.datatype) {
    case 'FP64':
      return Float64Array.from(flat as number[]);
    case 'INT64':
      return BigInt64Array.from(flat as number[], (v) => BigInt(Math.trunc(v)));
    case 'BOOL':
      return Uint8Array.from(flat as boolean[], (v) => (v ? 1 : 0));
    default:
      return flat.map(String);
  }
}

/** A JSON handler step's answer as tensors: one per output field (its schema has validated the types). */
export function jsonStepOutputs(fields: JsonStepFields, body: Uint8Array, model: string): Tensor[] {
  const answer = JSON.parse(new TextDecoder().decode(body)) as Record<string, unknown>;
  return fields.outputs.map((field) => {
    const value = answer[field.name];
    if (value === undefined) throw new ServingError('HANDLER_FAILED', `handler '${model}' answered no field '${field.name}'`);
    if (field.scalar) return { name: field.name, datatype: field.datatype, shape: [1], data: typed(field, [value]) };
    let shape: number[];
    try {
      shape = shapeOf(value, field.shape.length, `field '${field.name}'`);
    } catch (error) {
      throw new ServingError('HANDLER_FAILED', `handler '${model}' answered a ${(error as Error).message}, which is no tensor`);
    }
    const flat = (value as unknown[]).flat(field.shape.length - 1);
    return { name: field.name, datatype: field.datatype, shape, data: typed(field, flat) };
  });
}

import { fullShape, type ModelConfig } from '../../config/model-config.js';
import { ServingError } from '../../errors/serving-error.js';
import { formatShape } from '../../tensor/tensor.js';
import type { TensorType } from './graph-plan.js';

/** The tensors a message carries at one point of a graph, by name. */
export type Signature = Map<string, TensorType>;

export const invalidGraph = (message: string): ServingError => new ServingError('CONFIG_INVALID', message);

export function describeType(type: TensorType): string {
  return `${type.datatype} ${formatShape(type.shape)}`;
}

/** A model's inputs or outputs as full-shape types (the batch dimension included). */
export function signatureOf(config: ModelConfig, side: 'inputs' | 'outputs'): Signature {
  return new Map(config[side].map((spec) => [spec.name, { datatype: spec.datatype, shape: fullShape(config, spec) }]));
}

/**
 * Whether a tensor of type `given` can feed an input of type `wanted`: the same datatype and rank,
 * and no dimension fixed to two different sizes (-1 matches anything; the request decides).
 */
export function mismatch(given: TensorType, wanted: TensorType): string | undefined {
  if (given.datatype !== wanted.datatype) return `datatype ${given.datatype} does not match the ${wanted.datatype} it expects`;
  const fits = given.shape.length === wanted.shape.length && given.shape.every((d, i) => d === -1 || wanted.shape[i] === -1 || d === wanted.shape[i]);
  if (!fits) return `shape ${formatShape(given.shape)} does not match the ${formatShape(wanted.shape)} it expects`;
  return undefined;
}

/** The type two paths agree on (a dimension they size differently becomes -1), or why they cannot agree. */
export function common(a: TensorType, b: TensorType): TensorType | string {
  if (a.datatype !== b.datatype) return `${describeType(a)} and ${describeType(b)} have different datatypes`;
  if (a.shape.length !== b.shape.length) return `${describeType(a)} and ${describeType(b)} have different ranks`;
  return { datatype: a.datatype, shape: a.shape.map((d, i) => (d === b.shape[i] ? d : -1)) };
}

/** What a node answers when it may answer with any of `alternatives`: every tensor any of them has. */
export function union(alternatives: readonly Signature[], where: string): Signature {
  const out: Signature = new Map();
  for (const alternative of alternatives) {
    for (const [name, type] of alternative) {
      const before = out.get(name);
      if (before === undefined) {
        out.set(name, type);
        continue;
      }
      const merged = common(before, type);
      if (typeof merged === 'string') throw invalidGraph(`${where}: tensor '${name}' may be answered as ${merged}`);
      out.set(name, merged);
    }
  }
  return out;
}

export function names(signature: Signature): string {
  return signature.size === 0 ? 'none' : [...signature.keys()].map((n) => `'${n}'`).join(', ');
}

import type { Datatype, TensorData } from './datatypes.js';

/** A parameter value as OIP carries it (bool, number, string). */
export type ParameterValue = boolean | number | string;
export type Parameters = Record<string, ParameterValue>;

/**
 * The one tensor shape every layer speaks. `data` is row-major and never copied in the middle:
 * the protocol edge decodes into it once and the engine reads it as is.
 */
export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: TensorData;
  parameters?: Parameters;
}

/** Number of elements a shape holds (1 for a scalar shape `[]`). */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

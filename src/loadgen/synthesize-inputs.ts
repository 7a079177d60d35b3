import type { Datatype } from '../tensor/datatypes.js';

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

/**
 * A JSON OIP request body built from a model's metadata, as perf_analyzer does: variable dims take
 * `--shape` overrides (`name:1,3,48,320`), else the batch dim becomes `batchSize` and other
 * variable dims 16; values are random within each datatype's everyday range.
 */
export function synthesizeRequest(
  inputs: TensorMetadata[],
  options: { batchSize: number; shapes: Record<string, number[]>; seed?: number },
): { body: Buffer; shapes: Record<string, number[]> } {
  let seed = options.seed ?? 1;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const shapes: Record<string, number[]> = {};
  const tensors = inputs.map((input) => {
    const override = options.shapes[input.name];
    const shape = override ?? input.shape.map((d, i) => (d >= 0 ? d : i === 0 ? options.batchSize : 16));
    if (override !== undefined && override.length !== input.shape.length) {
      throw new Error(`--shape ${input.name}: model input has rank ${input.shape.length}, got [${override.join(',')}]`);
    }
    shapes[input.name] = shape;
    const count = shape.reduce((a, b) => a * b, 1);
    const data = Array.from({ length: count }, () => valueFor(input.datatype as Datatype, random));
    return { name: input.name, datatype: input.datatype, shape, data };
  });
  return { body: Buffer.from(JSON.stringify({ inputs: tensors })), shapes };
}

function valueFor(datatype: Datatype, random: () => number): number | boolean | string {
  switch (datatype) {
    case 'BOOL':
      return random() < 0.5;
    case 'BYTES':
      return Math.floor(random() * 1e9).toString(36);
    case 'FP16':
    case 'FP32':
    case 'FP64':
      return Math.round(random() * 1e6) / 1e6;
    case 'INT8':
    case 'UINT8':
      return Math.floor(random() * 100);
    default:
      return Math.floor(random() * 1000);
  }
}

import { allocateData, type TensorData } from '../tensor/datatypes.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Concatenates the requests' inputs along dim 0 into one buffer per input (the one copy batching
 * needs; the result is owned by the batch, so it moves to the worker without another). Inputs are
 * matched by name, so requests may list them in any order.
 */
export function concatInputs(requests: ReadonlyArray<{ inputs: Tensor[]; batchSize: number }>): Tensor[] {
  const first = requests[0]!;
  const rows = requests.reduce((sum, r) => sum + r.batchSize, 0);
  return first.inputs.map((template) => {
    const perRow = rowElements(template);
    const data = allocateData(template.datatype, rows * perRow);
    let offset = 0;
    for (const request of requests) {
      const source = request.inputs.find((t) => t.name === template.name)!.data;
      if (Array.isArray(data)) {
        const strings = source as string[];
        for (let i = 0; i < strings.length; i++) data[offset + i] = strings[i]!;
      } else {
        (data as Float32Array).set(source as Float32Array, offset);
      }
      offset += source.length;
    }
    return { name: template.name, datatype: template.datatype, shape: [rows, ...template.shape.slice(1)], data };
  });
}

/** Gives each request its rows of the batch's outputs: views into the batch buffer, no copies. */
export function sliceOutputs(outputs: Tensor[], batchSizes: readonly number[]): Tensor[][] {
  const perRequest: Tensor[][] = batchSizes.map(() => []);
  for (const output of outputs) {
    const perRow = rowElements(output);
    let row = 0;
    batchSizes.forEach((rows, i) => {
      const start = row * perRow;
      const end = (row + rows) * perRow;
      const data: TensorData = Array.isArray(output.data)
        ? output.data.slice(start, end)
        : (output.data as Float32Array).subarray(start, end);
      perRequest[i]!.push({ name: output.name, datatype: output.datatype, shape: [rows, ...output.shape.slice(1)], data });
      row += rows;
    });
  }
  return perRequest;
}

function rowElements(t: Tensor): number {
  let n = 1;
  for (let i = 1; i < t.shape.length; i++) n *= t.shape[i]!;
  return n;
}

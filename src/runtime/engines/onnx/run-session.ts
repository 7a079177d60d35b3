// Running an onnxruntime session on OIP tensors, shared by onnxruntime-node (the server's engine)
// and onnxruntime-web (the browser bundle): both expose onnxruntime-common's API, so one function
// decides how tensors go in and come out, and both report failures alike.
import { ServingError } from '../../../errors/serving-error.js';
import { DATATYPE_INFO, datatypeFromOnnx } from '../../../tensor/datatypes.js';
import type { Tensor } from '../../../tensor/tensor.js';

/** An onnxruntime tensor, as far as reading results needs. */
export interface OrtTensorLike {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
}

/** The part of an onnxruntime module (node or web) that builds input tensors. */
export interface OrtTensorFactory {
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensorLike;
}

/** An onnxruntime InferenceSession (node or web), as far as running it needs. */
export interface OrtSessionLike {
  run(feeds: Record<string, OrtTensorLike>, fetches: readonly string[]): Promise<Record<string, OrtTensorLike>>;
}

/**
 * Runs `session` on `inputs` and returns the named outputs as OIP tensors. onnxruntime's own
 * message (it names the node and the shapes) becomes INFERENCE_FAILED.
 */
export async function runOrtSession(ort: OrtTensorFactory, session: OrtSessionLike, inputs: readonly Tensor[], outputNames: readonly string[]): Promise<Tensor[]> {
  const feeds: Record<string, OrtTensorLike> = {};
  for (const t of inputs) {
    // The cast only quiets ort's overloads: DATATYPE_INFO pairs each onnx type with the array it needs.
    feeds[t.name] = new ort.Tensor(DATATYPE_INFO[t.datatype].onnxType as 'float32', t.data as Float32Array, t.shape);
  }
  let results: Record<string, OrtTensorLike>;
  try {
    results = await session.run(feeds, outputNames);
  } catch (error) {
    throw new ServingError('INFERENCE_FAILED', `onnxruntime failed: ${(error as Error).message}`);
  }
  return outputNames.map((name) => {
    const value = results[name];
    if (value === undefined) throw new ServingError('INFERENCE_FAILED', `onnxruntime returned no output '${name}'`);
    const datatype = datatypeFromOnnx(value.type);
    if (datatype === undefined) {
      throw new ServingError('INFERENCE_FAILED', `output '${name}' has element type '${value.type}' which OIP cannot carry`);
    }
    return { name, datatype, shape: value.dims.slice(), data: value.data as Tensor['data'] };
  });
}

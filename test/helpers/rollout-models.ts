// Model versions for rollout tests, written with onnx-proto like the test-model generator: a lookup
// table read with Gather, so a "buggy" version (a shorter table) fails exactly the requests whose
// index falls past its end, while the good versions answer every request the same way.
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

/**
 * idx INT64[-1] → value FP32[-1] = table[idx], with table[i] = i / 2 + offset for i < size. Indices
 * ≥ size fail (onnxruntime bounds-checks Gather); `offset` tells versions apart by their answers.
 */
export function lookupModel(size: number, offset = 0): Uint8Array {
  const view = new DataView(new ArrayBuffer(size * 4));
  for (let i = 0; i < size; i++) view.setFloat32(i * 4, i / 2 + offset, true);
  const proto: Onnx.IModelProto = {
    irVersion: 8,
    producerName: 'slipway tests',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: `lookup_${size}`,
      node: [{ opType: 'Gather', input: ['table', 'idx'], output: ['value'], name: 'gather', attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] }],
      input: [{ name: 'idx', type: { tensorType: { elemType: T.INT64, shape: { dim: [{ dimParam: 'batch' }] } } } }],
      output: [{ name: 'value', type: { tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimParam: 'batch' }] } } } }],
      initializer: [{ name: 'table', dataType: T.FLOAT, dims: [size], rawData: new Uint8Array(view.buffer) }],
    },
  };
  const problem = onnx.ModelProto.verify(proto);
  if (problem !== null) throw new Error(problem);
  return onnx.ModelProto.encode(proto).finish();
}

/** Indices clients draw from: 0..99, so a 90-entry table fails about 10% of requests. */
export const INDEX_RANGE = 100;

export interface LookupRepository {
  /** The repository folder (inside a temporary folder of its own). */
  dir: string;
  /** Adds a version folder whole (built aside and renamed in, so a poll never sees half of one). */
  addVersion: (version: number, size: number, offset?: number, model?: string) => Promise<void>;
  remove: () => Promise<void>;
}

/**
 * A repository with model `lookup`: each version a table of the given size (100: good, 90: fails
 * 10% of requests), or `[size, offset]`. One instance per version, every version loaded;
 * `config` is appended to the model's config.yaml. `parent` puts it somewhere else than the system
 * temp folder (inside the project, for handlers that import 'slipway').
 */
export async function lookupRepository(versions: Record<number, number | [number, number]>, config = '', parent = tmpdir()): Promise<LookupRepository> {
  await mkdir(parent, { recursive: true });
  // The repository is a folder inside the temporary one, so the default rollouts.db (beside the
  // repository) lands in it too, and goes with it.
  const root = await mkdtemp(join(parent, 'slipway-rollout-'));
  const dir = join(root, 'models');
  let staged = 0;
  const addVersion = async (version: number, size: number, offset = 0, model = 'lookup') => {
    const staging = join(dir, `.staging-${staged++}`);
    await mkdir(staging, { recursive: true });
    await writeFile(join(staging, 'model.onnx'), lookupModel(size, offset));
    await mkdir(join(dir, model), { recursive: true });
    await rename(staging, join(dir, model, String(version)));
  };
  for (const [version, spec] of Object.entries(versions)) {
    const [size, offset] = Array.isArray(spec) ? spec : [spec, 0];
    await addVersion(Number(version), size, offset);
  }
  await writeFile(join(dir, 'lookup', 'config.yaml'), `${ONE_INSTANCE}version_policy: { all: {} }\n${config}`);
  return { dir, remove: () => rm(root, { recursive: true, force: true }), addVersion };
}

export const ONE_INSTANCE = 'instance_group:\n  count: 1\n  intra_op_threads: 1\n';

/** The OIP JSON body for one lookup of `index`. */
export function lookupBody(index: number): string {
  return `{"inputs":[{"name":"idx","datatype":"INT64","shape":[1],"data":[${index}]}]}`;
}

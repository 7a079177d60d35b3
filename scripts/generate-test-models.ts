/**
 * Writes the tiny ONNX models that Slipway's tests run against (test/fixtures/models).
 *
 * Usage: node dist/scripts/generate-test-models.js [outDir] [--verify]
 *
 * outDir defaults to test/fixtures/models in the package root (not the working
 * directory), so the script behaves the same from any cwd. Each model lands in
 * <outDir>/<name>/1/model.onnx with a <outDir>/<name>/config.yaml beside it.
 *
 * The models are built from protobuf messages rather than exported from a
 * training framework so that the repository needs no Python and no binary
 * fixtures: the bytes are a pure function of this file. Files are rewritten
 * only when their bytes differ, so running this before every test is cheap
 * and leaves mtimes alone.
 *
 * --verify loads every model with onnxruntime-node and checks one inference
 * against values computed here.
 */
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';
// Type-only: onnxruntime-node is loaded lazily so that generating models
// does not pay for (or depend on) the native runtime.
import type { Tensor as OrtTensor } from 'onnxruntime-node';

// onnx-proto is a CommonJS bundle whose module.exports is protobufjs's root
// object; Node exposes that only as the default export, not as named exports.
const { onnx } = onnxProto;
const DataType = onnx.TensorProto.DataType;

const IR_VERSION = 8;
const OPSET = 17;

const CONFIG_YAML = 'instance_group:\n  count: 1\n  intra_op_threads: 1\n';

/** A dimension: fixed size, symbolic name, or null for "unknown" (neither set). */
type Dim = number | string | null;

/** A tensor as onnxruntime-node sees it, used for verification feeds and expectations. */
export interface TensorCase {
  type: OrtTensor.Type;
  dims: readonly number[];
  data: OrtTensor.DataType;
}

export interface VerifyCase {
  feeds: Record<string, TensorCase>;
  expected: Record<string, TensorCase>;
}

export interface ModelSpec {
  name: string;
  model: Onnx.IModelProto;
  verify: VerifyCase;
}

function dimProto(d: Dim): Onnx.TensorShapeProto.IDimension {
  if (d === null) return {};
  return typeof d === 'number' ? { dimValue: d } : { dimParam: d };
}

function valueInfo(name: string, elemType: Onnx.TensorProto.DataType, dims: readonly Dim[]): Onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map(dimProto) } } },
  };
}

function node(opType: string, inputs: string[], outputs: string[]): Onnx.INodeProto {
  return { opType, input: inputs, output: outputs, name: `${opType.toLowerCase()}_${outputs.join('_')}` };
}

// Explicit little-endian writes: raw_data is little-endian by spec, and typed
// array views would follow host byte order.
function float32Initializer(name: string, dims: number[], values: readonly number[]): Onnx.ITensorProto {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return { name, dataType: DataType.FLOAT, dims, rawData: new Uint8Array(view.buffer) };
}

function int64Initializer(name: string, dims: number[], values: readonly bigint[]): Onnx.ITensorProto {
  const view = new DataView(new ArrayBuffer(values.length * 8));
  values.forEach((v, i) => view.setBigInt64(i * 8, v, true));
  return { name, dataType: DataType.INT64, dims, rawData: new Uint8Array(view.buffer) };
}

function modelProto(
  graphName: string,
  nodes: Onnx.INodeProto[],
  inputs: Onnx.IValueInfoProto[],
  outputs: Onnx.IValueInfoProto[],
  initializer: Onnx.ITensorProto[] = [],
): Onnx.IModelProto {
  return {
    irVersion: IR_VERSION,
    // No version string: bumping Slipway's version must not change the bytes.
    producerName: 'slipway generate-test-models',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: { name: graphName, node: nodes, input: inputs, output: outputs, initializer },
  };
}

/** OIP datatype name → ONNX element type, onnxruntime-node tensor type, and a 2×3 sample. */
interface IdentityType {
  oip: string;
  onnxType: Onnx.TensorProto.DataType;
  ortType: OrtTensor.Type;
  sample: OrtTensor.DataType;
}

const IDENTITY_TYPES: readonly IdentityType[] = [
  { oip: 'bool', onnxType: DataType.BOOL, ortType: 'bool', sample: Uint8Array.from([1, 0, 1, 1, 0, 0]) },
  { oip: 'uint8', onnxType: DataType.UINT8, ortType: 'uint8', sample: Uint8Array.from([0, 1, 2, 127, 128, 255]) },
  { oip: 'uint16', onnxType: DataType.UINT16, ortType: 'uint16', sample: Uint16Array.from([0, 1, 2, 32767, 32768, 65535]) },
  {
    oip: 'uint32',
    onnxType: DataType.UINT32,
    ortType: 'uint32',
    sample: Uint32Array.from([0, 1, 2, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1]),
  },
  {
    oip: 'uint64',
    onnxType: DataType.UINT64,
    ortType: 'uint64',
    sample: BigUint64Array.from([0n, 1n, 2n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]),
  },
  { oip: 'int8', onnxType: DataType.INT8, ortType: 'int8', sample: Int8Array.from([-128, -1, 0, 1, 2, 127]) },
  { oip: 'int16', onnxType: DataType.INT16, ortType: 'int16', sample: Int16Array.from([-32768, -1, 0, 1, 2, 32767]) },
  {
    oip: 'int32',
    onnxType: DataType.INT32,
    ortType: 'int32',
    sample: Int32Array.from([-(2 ** 31), -1, 0, 1, 2, 2 ** 31 - 1]),
  },
  {
    oip: 'int64',
    onnxType: DataType.INT64,
    ortType: 'int64',
    // 2^53 + 1 is not representable as a double: catches accidental Number round-trips.
    sample: BigInt64Array.from([-(2n ** 63n), -1n, 0n, 1n, 2n ** 53n + 1n, 2n ** 63n - 1n]),
  },
  {
    oip: 'fp16',
    onnxType: DataType.FLOAT16,
    ortType: 'float16',
    // IEEE half bit patterns: 0, 1, -2, 0.5, 65504 (max), +inf.
    sample: Uint16Array.from([0x0000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0x7c00]),
  },
  { oip: 'fp32', onnxType: DataType.FLOAT, ortType: 'float32', sample: Float32Array.from([0, 1, -2, 0.5, 3.25, -1e30]) },
  { oip: 'fp64', onnxType: DataType.DOUBLE, ortType: 'float64', sample: Float64Array.from([0, 1, -2, 0.1, Math.PI, -1e300]) },
  {
    oip: 'bytes',
    onnxType: DataType.STRING,
    ortType: 'string',
    // No NUL in the sample: onnxruntime-node 1.30 truncates string elements at
    // the first NUL (and replaces lone surrogates with U+FFFD), so arbitrary
    // binary BYTES cannot round-trip through it unchanged.
    sample: ['', 'a', 'hello', 'ünïcødé', 'with space', 'tab\there'],
  },
];

function identityModel(t: IdentityType): ModelSpec {
  const name = `identity_${t.oip}`;
  const sample: TensorCase = { type: t.ortType, dims: [2, 3], data: t.sample };
  return {
    name,
    model: modelProto(
      name,
      [node('Identity', ['INPUT0'], ['OUTPUT0'])],
      [valueInfo('INPUT0', t.onnxType, ['batch', 'n'])],
      [valueInfo('OUTPUT0', t.onnxType, ['batch', 'n'])],
    ),
    verify: { feeds: { INPUT0: sample }, expected: { OUTPUT0: sample } },
  };
}

function simpleModel(): ModelSpec {
  const a = Int32Array.from({ length: 32 }, (_, i) => i);
  const b = Int32Array.from({ length: 32 }, (_, i) => 1 - i * 3);
  const dims = [2, 16];
  return {
    name: 'simple',
    model: modelProto(
      'simple',
      [node('Add', ['INPUT0', 'INPUT1'], ['OUTPUT0']), node('Sub', ['INPUT0', 'INPUT1'], ['OUTPUT1'])],
      [valueInfo('INPUT0', DataType.INT32, ['batch', 16]), valueInfo('INPUT1', DataType.INT32, ['batch', 16])],
      [valueInfo('OUTPUT0', DataType.INT32, ['batch', 16]), valueInfo('OUTPUT1', DataType.INT32, ['batch', 16])],
    ),
    verify: {
      feeds: { INPUT0: { type: 'int32', dims, data: a }, INPUT1: { type: 'int32', dims, data: b } },
      expected: {
        OUTPUT0: { type: 'int32', dims, data: a.map((v, i) => v + (b[i] ?? 0)) },
        OUTPUT1: { type: 'int32', dims, data: a.map((v, i) => v - (b[i] ?? 0)) },
      },
    },
  };
}

function fixedMatmulModel(): ModelSpec {
  const w = Array.from({ length: 12 }, (_, i) => i);
  const x = [1, 2, 3, -1, 0, 0.5];
  // y[r][c] = sum_k x[r][k] * W[k][c], W row-major 3×4.
  const y = Array.from({ length: 8 }, (_, idx) => {
    const r = Math.floor(idx / 4);
    const c = idx % 4;
    let sum = 0;
    for (let k = 0; k < 3; k++) sum += (x[r * 3 + k] ?? 0) * (w[k * 4 + c] ?? 0);
    return sum;
  });
  return {
    name: 'fixed_matmul',
    model: modelProto(
      'fixed_matmul',
      [node('MatMul', ['x', 'W'], ['y'])],
      [valueInfo('x', DataType.FLOAT, [2, 3])],
      [valueInfo('y', DataType.FLOAT, [2, 4])],
      // W is deliberately not a graph input, so clients cannot override it.
      [float32Initializer('W', [3, 4], w)],
    ),
    verify: {
      feeds: { x: { type: 'float32', dims: [2, 3], data: Float32Array.from(x) } },
      expected: { y: { type: 'float32', dims: [2, 4], data: Float32Array.from(y) } },
    },
  };
}

function dynamicNamedModel(): ModelSpec {
  const tokens = BigInt64Array.from([1n, -2n, 3n, 2n ** 40n, 0n, -(2n ** 40n)]);
  return {
    name: 'dynamic_named',
    model: modelProto(
      'dynamic_named',
      [node('Mul', ['tokens', 'two'], ['doubled'])],
      [valueInfo('tokens', DataType.INT64, ['batch', 'seq'])],
      [valueInfo('doubled', DataType.INT64, ['batch', 'seq'])],
      [int64Initializer('two', [], [2n])],
    ),
    verify: {
      feeds: { tokens: { type: 'int64', dims: [3, 2], data: tokens } },
      expected: { doubled: { type: 'int64', dims: [3, 2], data: tokens.map((v) => v * 2n) } },
    },
  };
}

function unnamedDimsModel(): ModelSpec {
  const x = Float32Array.from([-1, 0, 1, 2, -0.5, 0.25, -3, 4]);
  return {
    name: 'unnamed_dims',
    model: modelProto(
      'unnamed_dims',
      [node('Relu', ['x'], ['y'])],
      [valueInfo('x', DataType.FLOAT, [null, 4])],
      [valueInfo('y', DataType.FLOAT, [null, 4])],
    ),
    verify: {
      feeds: { x: { type: 'float32', dims: [2, 4], data: x } },
      expected: { y: { type: 'float32', dims: [2, 4], data: x.map((v) => Math.max(v, 0)) } },
    },
  };
}

export function buildModelSpecs(): ModelSpec[] {
  return [
    ...IDENTITY_TYPES.map(identityModel),
    simpleModel(),
    fixedMatmulModel(),
    dynamicNamedModel(),
    unnamedDimsModel(),
  ];
}

export function encodeModel(model: Onnx.IModelProto): Uint8Array {
  // encode() skips validation; a malformed message would otherwise only
  // surface as an opaque onnxruntime load error.
  const problem = onnx.ModelProto.verify(model);
  if (problem !== null) throw new Error(`invalid ModelProto: ${problem}`);
  return onnx.ModelProto.encode(model).finish();
}

/** Returns true when the file was (re)written. */
async function writeIfChanged(file: string, bytes: Uint8Array): Promise<boolean> {
  try {
    const existing = await readFile(file);
    if (Buffer.compare(existing, bytes) === 0) return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(path.dirname(file), { recursive: true });
  // Write-then-rename so a test reading the model concurrently never sees a
  // half-written file.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return true;
}

function sameData(type: OrtTensor.Type, actual: OrtTensor.DataType, expected: OrtTensor.DataType): boolean {
  const a: unknown[] = Array.from(actual as ArrayLike<unknown>);
  const e: unknown[] = Array.from(expected as ArrayLike<unknown>);
  if (a.length !== e.length) return false;
  return a.every((v, i) => {
    const w = e[i];
    // Float results are compared with a tolerance so that a different
    // summation order in a future runtime does not fail verification.
    if ((type === 'float32' || type === 'float64') && typeof v === 'number' && typeof w === 'number') {
      return Object.is(v, w) || Math.abs(v - w) <= 1e-6 * Math.max(1, Math.abs(w));
    }
    return Object.is(v, w);
  });
}

async function verifyModels(specs: readonly ModelSpec[], outDir: string): Promise<number> {
  const ort = await import('onnxruntime-node');
  let failures = 0;
  for (const spec of specs) {
    const file = path.join(outDir, spec.name, '1', 'model.onnx');
    const problems: string[] = [];
    try {
      const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
      try {
        const feeds: Record<string, OrtTensor> = {};
        for (const [name, t] of Object.entries(spec.verify.feeds)) {
          feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
        }
        const results = await session.run(feeds);
        for (const [name, want] of Object.entries(spec.verify.expected)) {
          const got = results[name];
          if (got === undefined) {
            problems.push(`missing output ${name}`);
            continue;
          }
          if (got.type !== want.type) problems.push(`${name}: type ${got.type}, want ${want.type}`);
          if (got.dims.join(',') !== want.dims.join(',')) {
            problems.push(`${name}: dims [${got.dims.join(',')}], want [${want.dims.join(',')}]`);
          }
          if (!sameData(want.type, got.data, want.data)) {
            problems.push(`${name}: data ${String(Array.from(got.data as ArrayLike<unknown>))}, want ${String(Array.from(want.data as ArrayLike<unknown>))}`);
          }
        }
      } finally {
        await session.release();
      }
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
    if (problems.length === 0) {
      console.log(`  verified ${spec.name}`);
    } else {
      failures++;
      console.error(`  FAILED   ${spec.name}: ${problems.join('; ')}`);
    }
  }
  return failures;
}

function packageRoot(): string {
  // Compiled to dist/scripts/, so the package root is two levels up.
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

async function main(argv: readonly string[]): Promise<number> {
  const verify = argv.includes('--verify');
  const positional = argv.filter((a) => !a.startsWith('--'));
  const unknown = argv.filter((a) => a.startsWith('--') && a !== '--verify');
  if (unknown.length > 0 || positional.length > 1) {
    console.error('usage: generate-test-models [outDir] [--verify]');
    return 2;
  }
  const outDir = positional[0] !== undefined ? path.resolve(positional[0]) : path.join(packageRoot(), 'test', 'fixtures', 'models');

  const specs = buildModelSpecs();
  let written = 0;
  for (const spec of specs) {
    const dir = path.join(outDir, spec.name);
    const modelChanged = await writeIfChanged(path.join(dir, '1', 'model.onnx'), encodeModel(spec.model));
    const configChanged = await writeIfChanged(path.join(dir, 'config.yaml'), Buffer.from(CONFIG_YAML, 'utf8'));
    if (modelChanged || configChanged) written++;
  }
  console.log(`generate-test-models: ${specs.length} models in ${outDir} (${written} written, ${specs.length - written} unchanged)`);

  if (verify) {
    const failures = await verifyModels(specs, outDir);
    if (failures > 0) {
      console.error(`generate-test-models: ${failures} model(s) failed verification`);
      return 1;
    }
  }
  return 0;
}

// Only run when executed directly, so tests can import buildModelSpecs/encodeModel.
// argv[1] may be a symlink (npm bin shims) while import.meta.url is always the real path.
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}

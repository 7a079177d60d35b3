import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { create } from '@bufbuild/protobuf';
import { makeNode } from '../../src/optimize/graph-editor.js';
import { encodeOnnxModel } from '../../src/optimize/onnx-model.js';
import { makeTensor } from '../../src/optimize/onnx-tensors.js';
import type { OptimizeReport } from '../../src/optimize/optimize-report.js';
import { GraphProtoSchema, ModelProtoSchema, OperatorSetIdProtoSchema, TensorShapeProto_DimensionSchema, TensorShapeProtoSchema, TypeProto_TensorSchema, TypeProtoSchema, ValueInfoProtoSchema } from '../../src/optimize/proto/onnx-ml_pb.js';
import { startCliServer } from '../helpers/cli-server.js';
import { CLI, EXAMPLES } from '../helpers/paths.js';

const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const floatInput = (name: string, dims: number[]) =>
  create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: 1, shape: create(TensorShapeProtoSchema, { dim: dims.map((d) => create(TensorShapeProto_DimensionSchema, { value: { case: 'dimValue', value: BigInt(d) } })) }) }) },
    }),
  });

describe('slipway optimize', () => {
  test('--int8 on the MLP: writes version 2 with its report, leaves version 1 alone, prints the report', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-optimize-cli-'));
    try {
      const model = join(dir, 'digits_mlp');
      await cp(join(EXAMPLES, 'digits_mlp'), model, { recursive: true, filter: (src) => !/\/[2-9]\d*$/.test(src) });
      const source = await readFile(join(model, '1/model.onnx'));
      const result = await cli(['optimize', model, '--int8', '--eval', join(model, 'data/heldout.csv'), '--label', 'label', '--bench-seconds', '0.2', '--batch-sizes', '8', '--json']);
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout) as OptimizeReport;
      assert.equal(report.method, 'int8-dynamic');
      assert.deepEqual([report.sourceVersion, report.version], [1, 2]);
      assert.equal(report.transform.changed, 4);
      assert.ok(report.size.ratio < 0.3, `size ratio ${report.size.ratio}`);
      assert.equal(report.accuracy?.rows, 360);
      assert.ok(Math.abs(report.accuracy!.classifier!.deltaPoints!) <= 1, `accuracy change ${report.accuracy!.classifier!.deltaPoints}`);
      assert.ok(report.accuracy!.classifier!.top1Agreement >= 0.98);
      assert.ok(report.speed!.throughput[0]!.optimized.rowsPerSecond > 0);
      assert.match(report.speed!.measuredOn, /onnxruntime-node CPU/);
      assert.deepEqual(JSON.parse(await readFile(join(model, '2/optimize-report.json'), 'utf8')), report);
      assert.ok((await readFile(join(model, '1/model.onnx'))).equals(source), 'the source version is untouched');
      assert.deepEqual((await readdir(model)).filter((f) => f.startsWith('.')), [], 'no staging folder is left');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a graph with an op it cannot handle: the error names the op, exit code 2, nothing written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-optimize-cli-'));
    try {
      const model = join(dir, 'upsampler');
      await mkdir(join(model, '1'), { recursive: true });
      const graph = create(GraphProtoSchema, {
        name: 'g',
        node: [makeNode('Upsample', ['x', 'scales'], ['up'], 'grow', { mode: 'nearest' }), makeNode('MatMul', ['up', 'W'], ['y'], 'mm')],
        initializer: [makeTensor.float('scales', [4], Float32Array.of(1, 1, 2, 2)), makeTensor.float('W', [4, 3], new Float32Array(12).fill(0.5))],
        input: [floatInput('x', [1, 1, 2, 2])],
        output: [floatInput('y', [1, 1, 4, 3])],
      });
      const proto = create(ModelProtoSchema, { irVersion: 4n, graph, opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 9n })] });
      await writeFile(join(model, '1/model.onnx'), encodeOnnxModel(proto));
      const result = await cli(['optimize', model, '--int8', '--no-bench']);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /node 'grow' \(Upsample\) cannot be converted/);
      assert.deepEqual((await readdir(model)).sort(), ['1']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('--canary: the running server loads the new version beside the float one and a rollout to it starts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-optimize-canary-'));
    const model = join(dir, 'models', 'digits_mlp');
    await cp(join(EXAMPLES, 'digits_mlp'), model, { recursive: true, filter: (src) => !/\/[2-9]\d*$/.test(src) });
    await writeFile(join(model, 'config.yaml'), 'max_batch_size: 64\nversion_policy: { latest: { num_versions: 2 } }\n');
    const server = await startCliServer([join(dir, 'models'), '--no-grpc', '--no-ui', '--admin-token', 'open-sesame', '--rollout-db', `sqlite:${join(dir, 'rollouts.db')}`]);
    try {
      const result = await cli(['optimize', model, '--int8', '--no-bench', '--canary', '--url', server.url, '--token', 'open-sesame', '--canary-steps', '20,100', '--canary-interval', '1h']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /canary: rollout \S+ of 'digits_mlp' v1 → v2 started/);
      const status = (await (await fetch(`${server.url}/v2/models/digits_mlp/rollout`)).json()) as { rollout: { state: string; percent: number; spec: { from: number; to: number } } };
      assert.equal(status.rollout.state, 'progressing');
      assert.deepEqual([status.rollout.spec.from, status.rollout.spec.to, status.rollout.percent], [1, 2, 20]);
      assert.equal((await fetch(`${server.url}/v2/models/digits_mlp/versions/2/ready`)).status, 200);

      // Without the token the server refuses the load: the command says so (exit 1), the new version 3 stays on disk.
      const refused = await cli(['optimize', model, '--fp16', '--no-bench', '--canary', '--url', server.url]);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /HTTP 40[13]/);
    } finally {
      server.child.kill('SIGTERM');
      await new Promise((resolve) => server.child.once('exit', resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('flag mistakes are named before any work', async () => {
    const both = await cli(['optimize', join(EXAMPLES, 'digits_mlp'), '--int8', '--fp16']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /exactly one of --int8 or --fp16/);
    const noCalibration = await cli(['optimize', join(EXAMPLES, 'digits_mlp'), '--int8', '--static', '--no-bench']);
    assert.equal(noCalibration.code, 2);
    assert.match(noCalibration.stderr, /--static needs --calibration/);
    const canaryFlag = await cli(['optimize', join(EXAMPLES, 'digits_mlp'), '--int8', '--no-bench', '--canary-steps', '10,100']);
    assert.equal(canaryFlag.code, 2);
    assert.match(canaryFlag.stderr, /apply to --canary/);
  });
});

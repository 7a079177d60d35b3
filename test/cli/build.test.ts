import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BuildReport } from '../../src/cli/build.js';
import { CLI, ROOT } from '../helpers/paths.js';

async function slipway(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stdout, stderr };
}

// The repository packaging itself, as the container test does, but without an engine: this runs
// on every machine, podman or not.
describe("slipway build --engine none on this repository's slipway.yaml", () => {
  let out: string;
  let report: BuildReport;
  let stderr: string;

  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'slipway-cli-build-'));
    const result = await slipway(['build', '--engine', 'none', '--json', '--out', join(out, 'context')], ROOT);
    stderr = result.stderr;
    assert.equal(result.code, 0, result.stderr);
    report = JSON.parse(result.stdout) as BuildReport;
  });
  after(async () => rm(out, { recursive: true, force: true }));

  test('writes the context, prints the build command for the user, and says why it did not build', () => {
    assert.equal(report.notBuilt, '--engine none');
    assert.equal(report.image, undefined);
    assert.deepEqual(report.command.slice(0, 6), ['docker', 'build', '-f', join(out, 'context', 'Containerfile'), '-t', 'slipway-examples:latest']);
    assert.match(stderr, /Build context .*: \d+ files, [\d.]+ MB, sha256:[0-9a-f]{64}/);
    assert.match(stderr, /Not building: --engine none\. Build it with:\n {2}docker build /);
  });

  test("the app is slipway's compiled code and .proto files, without tests, declarations or maps", () => {
    const app = join(report.context.dir, 'app');
    assert.ok(existsSync(join(app, 'dist/src/cli/main.js')));
    assert.ok(existsSync(join(app, 'proto/grpc_predict_v2.proto')), 'the gRPC server reads proto/ at start');
    assert.ok(!existsSync(join(app, 'dist/test')));
    assert.ok(!existsSync(join(app, 'dist/src/cli/main.d.ts')));
    assert.ok(!existsSync(join(app, 'dist/src/cli/main.js.map')));
    assert.ok(!existsSync(join(report.context.dir, 'deps/node_modules/typescript')), 'typescript is a dev dependency');
    assert.ok(existsSync(join(report.context.dir, 'deps/node_modules/onnxruntime-node/package.json')));
  });

  test('every example model is in, the OCR weights as files rather than links into node_modules', async () => {
    const names = report.context.models.map((m) => m.name);
    for (const name of ['digits', 'ocr', 'ocr_det', 'ocr_cls', 'ocr_rec']) assert.ok(names.includes(name), name);
    assert.ok(!names.includes('simple'), 'the generated test models are fixtures, not examples');
    const weights = await lstat(join(report.context.dir, 'models/ocr_rec/1/model.onnx'));
    assert.ok(weights.isFile() && weights.size > 1_000_000);
    const sums = await readFile(join(report.context.dir, 'models/SHA256SUMS'), 'utf8');
    assert.match(sums, /^[0-9a-f]{64} {2}ocr_rec\/1\/model\.onnx$/m);
  });
});

describe('slipway build: mistakes are reported with what to fix, exit code 2', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-cli-build-errors-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test('no slipway.yaml here', async () => {
    const result = await slipway(['build', '--engine', 'none'], dir);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no slipway\.yaml in .*: write one .* or pass --config FILE/);
  });

  test('an invalid slipway.yaml: every field named', async () => {
    await writeFile(join(dir, 'slipway.yaml'), 'name: x\nmodels: [m]\nruntime: { ports: { http: 70000 }, resources: { memory: lots } }\n');
    const result = await slipway(['build', '--engine', 'none'], dir);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /runtime\.ports\.http: Too big/);
    assert.match(result.stderr, /runtime\.resources\.memory: expected a Kubernetes quantity/);
  });

  test('an unknown engine or dependency mode', async () => {
    const engine = await slipway(['build', '--engine', 'kaniko'], dir);
    assert.equal(engine.code, 2);
    assert.match(engine.stderr, /--engine: expected one of auto, docker, podman, none, got 'kaniko'/);
    const deps = await slipway(['build', '--dependencies', 'vendored'], dir);
    assert.equal(deps.code, 2);
    assert.match(deps.stderr, /--dependencies: expected one of staged, install, got 'vendored'/);
  });

  test('a project without package.json', async () => {
    await writeFile(join(dir, 'slipway.yaml'), 'name: x\nmodels: [m]\n');
    const result = await slipway(['build', '--engine', 'none'], dir);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /slipway build needs .*package\.json and its package-lock\.json/);
  });
});

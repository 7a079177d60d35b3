import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { credentials } from '@grpc/grpc-js';
import type { BuildReport } from '../../src/cli/build.js';
import { loadServices } from '../../src/protocol/grpc/proto.js';
import { requireCommand } from '../helpers/requirements.js';
import { freePort } from '../helpers/free-port.js';
import { EXAMPLES } from '../helpers/paths.js';
import { buildRepositoryImage, podman, podmanEnvironment, waitForReady, type Podman } from './podman.js';

// One image per run: built once from the repository's own slipway.yaml, run once, checked from the
// outside as a user would (HTTP, the engine's inspect and healthcheck), then removed with its base.
describe('slipway build: a real image, built and run with podman', requireCommand('podman'), () => {
  const suffix = `${process.pid}`;
  const baseTag = `localhost/slipway-test-base:${suffix}`;
  const appTag = `localhost/slipway-test-app:${suffix}`;
  const containerName = `slipway-test-${suffix}`;
  let work: string;
  let run: Podman;
  let report: BuildReport;
  let url: string;
  let grpcPort: number;
  let buildOutput = '';

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'slipway-container-'));
    const env = await podmanEnvironment(work);
    run = podman(env);
    ({ report, output: buildOutput } = await buildRepositoryImage(run, env, work, { base: baseTag, app: appTag }));

    const port = await freePort();
    grpcPort = await freePort();
    // SageMaker's way in: `<image> serve` with the port in SAGEMAKER_BIND_TO_PORT (the image sets
    // SLIPWAY_HTTP_PORT=8000, which this must win over). On the host network, ports are the host's:
    // free ones, on loopback only.
    run([
      'run', '-d', '--name', containerName, '--network=host',
      '-e', `SAGEMAKER_BIND_TO_PORT=${port}`, '-e', `SLIPWAY_GRPC_PORT=${grpcPort}`, '-e', 'SLIPWAY_HOST=127.0.0.1',
      appTag, 'serve',
    ]);
    url = `http://127.0.0.1:${port}`;
    await waitForReady(url, run, containerName);
  });

  after(async () => {
    // Whatever failed above, leave no container, image or layer behind.
    if (run !== undefined) {
      run(['rm', '-f', '-t', '0', containerName], { allowFailure: true });
      run(['rmi', '-f', appTag], { allowFailure: true });
      run(['rmi', '-f', baseTag], { allowFailure: true });
    }
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  test('slipway build reports the image it built, with its size', () => {
    assert.ok(report.image !== undefined, `no image in the report:\n${buildOutput}`);
    assert.equal(report.image.engine, 'podman');
    assert.equal(report.image.tag, appTag);
    const inspected = Number(run(['image', 'inspect', '--format', '{{.Size}}', appTag]).stdout.trim());
    assert.equal(report.image.sizeBytes, inspected);
    process.stderr.write(`\n  image ${appTag}: ${(inspected / 1e6).toFixed(1)} MB, context ${(report.context.sizeBytes / 1e6).toFixed(1)} MB\n`);
  });

  test('the server in the container is ready and serves every example model', async () => {
    assert.deepEqual(await (await fetch(`${url}/v2/health/ready`)).json(), { ready: true });
    const index = (await (await fetch(`${url}/v2/repository/index`, { method: 'POST', body: '{}' })).json()) as Array<{ name: string; state: string }>;
    const expected = report.context.models.map((m) => m.name).sort();
    assert.deepEqual(index.map((m) => m.name).sort(), expected);
    assert.deepEqual(index.filter((m) => m.state !== 'READY'), []);
  });

  test('digits inference over OIP from inside the container labels every sample correctly', async () => {
    const samples = JSON.parse(await readFile(join(EXAMPLES, 'digits', 'samples.json'), 'utf8')) as Array<{ label: number; image: number[][][] }>;
    const reply = await fetch(`${url}/v2/models/digits/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [{ name: 'image', datatype: 'FP32', shape: [samples.length, 1, 8, 8], data: samples.map((s) => s.image).flat(3) }],
      }),
    });
    assert.equal(reply.status, 200);
    const body = (await reply.json()) as { outputs: Array<{ name: string; shape: number[]; data: number[] }> };
    const probabilities = body.outputs.find((o) => o.name === 'probabilities')!;
    assert.deepEqual(probabilities.shape, [samples.length, 10]);
    const predicted = samples.map((_, i) => argmax(probabilities.data.slice(i * 10, i * 10 + 10)));
    assert.deepEqual(predicted, samples.map((s) => s.label));
  });

  test('the gRPC port answers ServerReady over OIP gRPC', async () => {
    const { inference } = loadServices();
    const client = new inference(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
    try {
      const reply = await new Promise<{ ready?: boolean }>((resolve, reject) =>
        client.ServerReady!({}, (error: Error | null, value: { ready?: boolean }) => (error ? reject(error) : resolve(value))),
      );
      assert.equal(reply.ready, true);
    } finally {
      client.close();
    }
  });

  test('a bad request gets the server\'s own error, naming the input', async () => {
    const reply = await fetch(`${url}/v2/models/digits/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(0) }] }),
    });
    assert.equal(reply.status, 400);
    assert.match(((await reply.json()) as { error: string }).error, /pixels/);
  });

  test('OCR through the handler from inside the container: a PNG upload reads back its text', async () => {
    // Rendered here, so the words are known; DejaVu is Debian's default font (fonts-dejavu-core).
    const lines = ['Container 2048 ready', 'slipway build ships models'];
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="720" height="200"><rect width="100%" height="100%" fill="white"/>${lines
      .map((line, i) => `<text x="30" y="${75 + i * 80}" font-family="DejaVu Sans" font-size="44" fill="black">${line}</text>`)
      .join('')}</svg>`;
    const png = await sharp(Buffer.from(svg)).png().toBuffer();
    const reply = await fetch(`${url}/api/models/ocr/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
    const body = (await reply.json()) as { width: number; height: number; lines: Array<{ text: string; confidence: number }>; error?: string };
    assert.equal(reply.status, 200, body.error);
    assert.deepEqual([body.width, body.height], [720, 200]);
    assert.deepEqual(body.lines.map((l) => l.text), lines);
    for (const line of body.lines) assert.ok(line.confidence > 0.8, `${line.text}: confidence ${line.confidence}`);
  });

  test('the image HEALTHCHECK runs and passes', () => {
    const config = JSON.parse(run(['image', 'inspect', '--format', '{{json .Config.Healthcheck}}', appTag]).stdout) as { Test: string[] };
    assert.deepEqual(config.Test, ['CMD', 'node', '/app/healthcheck.mjs']);
    const check = run(['healthcheck', 'run', containerName], { allowFailure: true });
    assert.equal(check.status, 0, `healthcheck failed: ${check.stdout}${check.stderr}`);
  });

  test('the image runs as a non-root user, exposes 8000 and 8001, and carries SageMaker\'s label and the context digest', () => {
    const config = JSON.parse(run(['image', 'inspect', '--format', '{{json .Config}}', appTag]).stdout) as {
      User: string;
      ExposedPorts: Record<string, unknown>;
      Labels: Record<string, string>;
      Entrypoint: string[];
      Cmd: string[];
    };
    assert.equal(config.User, '10001:10001');
    assert.deepEqual(Object.keys(config.ExposedPorts).sort(), ['8000/tcp', '8001/tcp']);
    assert.equal(config.Labels['com.amazonaws.sagemaker.capabilities.accept-bind-to-port'], 'true');
    assert.equal(config.Labels['io.slipway.context-digest'], report.context.digest);
    assert.deepEqual(config.Cmd, ['serve']);
    const uid = run(['exec', containerName, 'node', '-e', 'process.stdout.write(String(process.getuid()))']).stdout;
    assert.equal(uid, '10001');
  });

  test('the models in the image are real files that match their SHA-256 manifest', () => {
    const verify = `
      const { createHash } = require('node:crypto');
      const { readFileSync, lstatSync } = require('node:fs');
      const lines = readFileSync('/app/models/SHA256SUMS', 'utf8').trim().split('\\n');
      let bad = [];
      for (const line of lines) {
        const [sum, path] = line.split('  ');
        const file = '/app/models/' + path;
        if (!lstatSync(file).isFile()) bad.push(path + ' is not a file');
        else if (createHash('sha256').update(readFileSync(file)).digest('hex') !== sum) bad.push(path + ' differs');
      }
      process.stdout.write(JSON.stringify({ files: lines.length, bad }));`;
    const result = JSON.parse(run(['exec', containerName, 'node', '-e', verify]).stdout) as { files: number; bad: string[] };
    assert.deepEqual(result.bad, []);
    assert.ok(result.files >= report.context.models.length, `${result.files} files in the manifest`);
    // The OCR weights are symlinks into node_modules on the host; the image must hold the bytes.
    const size = run(['exec', containerName, 'node', '-e', "process.stdout.write(String(require('node:fs').lstatSync('/app/models/ocr_rec/1/model.onnx').size))"]).stdout;
    assert.ok(Number(size) > 1_000_000, `ocr_rec weights are ${size} bytes`);
  });

  test('the image holds production dependencies only, for its own platform', () => {
    const probe = (path: string): boolean =>
      run(['exec', containerName, 'node', '-e', `process.exit(require('node:fs').existsSync(${JSON.stringify(path)}) ? 0 : 1)`], {
        allowFailure: true,
      }).status === 0;
    assert.equal(probe('/app/node_modules/fastify/package.json'), true);
    assert.equal(probe('/app/node_modules/typescript'), false, 'typescript is a dev dependency');
    assert.equal(probe('/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1'), true);
    assert.equal(probe('/app/node_modules/onnxruntime-node/bin/napi-v6/win32'), false, 'other platforms are pruned');
    assert.equal(probe('/app/dist/src/cli/main.js'), true);
    assert.equal(probe('/app/dist/test'), false, 'tests stay out of the image');
  });
});

function argmax(values: number[]): number {
  return values.reduce((best, v, i) => (v > values[best]! ? i : best), 0);
}

import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { buildEdgeBundle, PHONE_DOWNLOAD_LIMIT_BYTES, phoneWarnings, type EdgeSizes } from '../../src/edge/edge-bundle.js';
import type { EdgeManifest } from '../../src/edge/edge-manifest.js';
import { describeModel } from '../../src/protocol/http/describe-model.js';
import { modelMetadata } from '../../src/protocol/model-metadata.js';
import { Slipway } from '../../src/slipway.js';
import { EXAMPLES, ROOT } from '../helpers/paths.js';
import { linkSlipwayPackage } from '../helpers/temp-repository.js';

// What `slipway edge` writes for the two examples, what it refuses, and its size arithmetic. The
// bundles running in a browser are tested in test/e2e/edge.test.ts.

/** A key someone put in config.yaml's edge section: it must appear in no file of a bundle. */
const BAKED_KEY = 'baked-into-the-page-0001';
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
let dir: string;
let slipway: Slipway;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slipway-edge-bundle-'));
  slipway = await Slipway.open({ models: ['digits', 'ocr', 'ocr_det', 'ocr_cls', 'ocr_rec'].map((m) => join(EXAMPLES, m)), cores: 1 });
});
after(async () => {
  await slipway?.close();
  await rm(dir, { recursive: true, force: true });
});

const readManifest = async (out: string): Promise<EdgeManifest> => JSON.parse(await readFile(join(out, 'slipway-edge.json'), 'utf8')) as EdgeManifest;

describe('buildEdgeBundle', () => {
  test('digits: its graph, its handler compiled for the browser, its examples, only the wasm build, and the sizes', async () => {
    const out = join(dir, 'digits');
    const bundle = await buildEdgeBundle(slipway, 'digits', { out, webgpu: false, latencyBudgetMs: 40 });
    const manifest = await readManifest(out);
    assert.deepEqual(manifest, bundle.manifest);
    assert.equal(manifest.model, 'digits');
    assert.deepEqual(manifest.graph?.metadata, modelMetadata(slipway, 'digits', '1'), 'the same signature the server announces');
    assert.deepEqual(Object.keys(manifest.graphs), ['digits']);
    assert.deepEqual(manifest.handler, { runs: 'device', file: 'handler.js', parameters: {} });
    assert.deepEqual(manifest.description, describeModel(slipway, 'digits', ''));
    assert.deepEqual(manifest.fallback, { server: null, latencyBudgetMs: 40, latencyWindow: 5 });
    assert.equal(manifest.runtime.webgpu, undefined);
    assert.deepEqual(
      manifest.examples.filter((e) => e.kind === 'image').map((e) => e.url),
      Array.from({ length: 10 }, (_, i) => `examples/${i}.png`),
    );
    assert.ok(manifest.examples.some((e) => e.kind === 'tensors'), "samples.json's entries travel inline");

    const files = await readdir(out, { recursive: true });
    for (const file of ['index.html', 'slipway.js', 'slipway.d.ts', 'device-worker.js', 'handler-api.js', 'handler.js', 'edge-page.js', 'edge-page.css', '_headers', 'models/digits.onnx', 'ort/ort.wasm.min.mjs', 'ort/ort-wasm-simd-threaded.mjs', 'ort/ort-wasm-simd-threaded.wasm', 'examples/3.png']) {
      assert.ok(files.includes(file), `${file} is in the bundle`);
    }
    assert.ok(!files.some((f) => f.includes('asyncify') || f.includes('jsep') || f.includes('jspi')), 'no build the bundle does not use');
    assert.deepEqual(await readFile(join(out, 'models/digits.onnx')), await readFile(join(EXAMPLES, 'digits/1/model.onnx')));
    const wasm = await readFile(join(out, 'ort/ort-wasm-simd-threaded.wasm'));
    assert.deepEqual(gunzipSync(await readFile(join(out, 'ort/ort-wasm-simd-threaded.wasm.gz'))), wasm, 'precompressed beside');
    assert.ok((await stat(join(out, 'ort/ort-wasm-simd-threaded.wasm.br'))).size < wasm.byteLength);

    const sizes = bundle.sizes!;
    assert.equal(sizes.runtime.wasm.bytes, (await Promise.all(manifest.runtime.wasm.files.map((f) => stat(join(out, f))))).reduce((n, s) => n + s.size, 0));
    assert.ok(sizes.runtime.wasm.brotli < sizes.runtime.wasm.gzip && sizes.runtime.wasm.gzip < sizes.runtime.wasm.bytes / 3);
    assert.equal(sizes.models.digits?.bytes, manifest.graph?.bytes);
    assert.equal(sizes.download.wasm.bytes, sizes.app.bytes + sizes.runtime.wasm.bytes + sizes.models.digits!.bytes);
    assert.deepEqual(bundle.warnings, [], 'digits fits a phone');
  });

  test('the API is typed: a TypeScript page using slipway.js type-checks against the bundle\'s slipway.d.ts, and a wrong call does not', async () => {
    const out = join(dir, 'digits');
    const page = (body: string) => `import slipway, { EdgeError, type Answer, type EdgeStatus } from './slipway.js';\n${body}\n`;
    await writeFile(
      join(out, 'page.ts'),
      page(`const status: EdgeStatus = await slipway.load({ latencyBudgetMs: 50, backend: 'wasm' });
const answer: Answer<{ label: number }> = await slipway.predict<{ label: number }>({ image: new Blob() });
const oip = await slipway.infer({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: new Float32Array(64) }] });
slipway.addEventListener('fallback', (e) => console.log((e as CustomEvent).detail));
console.log(status.mode, answer.ranOn, answer.output.label, oip.output.outputs[0]?.data, new EdgeError('x', 'INTERNAL', 'device').ranOn);`),
    );
    await writeFile(join(out, 'wrong.ts'), page(`await slipway.load({ backend: 'cuda' });`));
    // One compiler run for both (it is the slow part): page.ts must be clean, wrong.ts must not be.
    const output = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, [TSC, '--noEmit', '--strict', '--target', 'es2022', '--module', 'esnext', '--moduleResolution', 'bundler', '--lib', 'es2023,dom', 'page.ts', 'wrong.ts'], { cwd: out });
      let text = '';
      child.stdout.on('data', (c: Buffer) => (text += c.toString()));
      child.once('exit', () => resolve(text));
    });
    const errors = output.split('\n').filter((line) => /error TS\d+/.test(line));
    assert.equal(errors.length, 1, output);
    assert.match(errors[0]!, /^wrong\.ts\(2,.*Type '"cuda"' is not assignable/);
  });

  test('ocr: a pipeline ships the graphs it calls (edge.models) and the dictionary it reads (edge.files)', async () => {
    const out = join(dir, 'ocr');
    const { manifest } = await buildEdgeBundle(slipway, 'ocr', { out, compression: 'gzip', server: 'https://ml.example.com/' });
    assert.equal(manifest.graph, undefined);
    assert.deepEqual(Object.keys(manifest.graphs).sort(), ['ocr_cls', 'ocr_det', 'ocr_rec']);
    assert.deepEqual(manifest.files, ['ppocr_keys_v1.txt']);
    assert.deepEqual(await readFile(join(out, 'files/ppocr_keys_v1.txt')), await readFile(join(EXAMPLES, 'ocr/ppocr_keys_v1.txt')));
    assert.equal(manifest.handler?.runs, 'device');
    assert.ok(manifest.runtime.webgpu !== undefined, 'WebGPU is shipped unless --no-webgpu');
    assert.equal(manifest.fallback.server, 'https://ml.example.com/');
  });

  test('an earlier bundle is replaced; a folder that holds something else is refused', async () => {
    const out = join(dir, 'replaced');
    await buildEdgeBundle(slipway, 'digits', { out, compression: 'gzip', webgpu: false });
    await writeFile(join(out, 'stale.txt'), 'left from before');
    await buildEdgeBundle(slipway, 'digits', { out, compression: 'gzip', webgpu: false });
    await assert.rejects(stat(join(out, 'stale.txt')));

    const foreign = join(dir, 'someone-elses');
    await mkdir(foreign);
    await writeFile(join(foreign, 'notes.md'), 'mine');
    await assert.rejects(buildEdgeBundle(slipway, 'digits', { out: foreign }), /someone-elses is not empty and holds no bundle \(slipway-edge\.json\)/);
    assert.equal(await readFile(join(foreign, 'notes.md'), 'utf8'), 'mine');
    await assert.rejects(buildEdgeBundle(slipway, 'nope', { out: join(dir, 'nope') }), /unknown model 'nope'/);
  });

  test('a tensor handler is refused with the reason: it runs on the server only', async () => {
    const own = await Slipway.open({ models: [join(EXAMPLES, 'digits_topk')], cores: 1 });
    try {
      await assert.rejects(
        buildEdgeBundle(own, 'digits_topk', { out: join(dir, 'topk') }),
        (error: Error & { code?: string }) => error.code === 'NOT_IMPLEMENTED' && /^model 'digits_topk' is a tensor handler \(defineTensorHandler\).*server only$/.test(error.message),
      );
    } finally {
      await own.close();
    }
  });

  test('phone warnings: over 10 MiB to download or 100 MiB of weights', () => {
    const size = (bytes: number) => ({ bytes, gzip: bytes, brotli: bytes });
    const sizes = (download: number, weights: number): EdgeSizes => ({
      app: size(0),
      runtime: { wasm: size(0) },
      models: { m: size(weights) },
      files: size(0),
      download: { wasm: size(download) },
    });
    assert.deepEqual(phoneWarnings(sizes(PHONE_DOWNLOAD_LIMIT_BYTES, 0)), []);
    assert.match(phoneWarnings(sizes(PHONE_DOWNLOAD_LIMIT_BYTES + 1, 0)).join(), /too big for a phone: a device downloads 10\.0 MiB/);
    assert.match(phoneWarnings(sizes(0, 101 * 1024 * 1024)).join(), /the models hold 101\.0 MiB of weights/);
  });
});

describe('buildEdgeBundle, handlers that need Node and broken edge sections', () => {
  let repository: string;
  let local: Slipway;
  before(async () => {
    repository = join(dir, 'repository');
    await linkSlipwayPackage(repository);
    const reader = join(repository, 'reader');
    await mkdir(join(reader, '1'), { recursive: true });
    await cp(join(EXAMPLES, 'digits/1/model.onnx'), join(reader, '1/model.onnx'));
    await writeFile(
      join(reader, 'handler.ts'),
      [
        "import { readFileSync } from 'node:fs';",
        "import { defineHandler, z } from 'slipway';",
        'export default defineHandler({',
        '  input: z.object({ pixels: z.array(z.number()).length(64) }),',
        '  output: z.object({ size: z.number() }),',
        "  preprocess: ({ pixels }) => ({ image: { shape: [1, 1, 8, 8], data: Float32Array.from(pixels) } }),",
        "  postprocess: () => ({ size: readFileSync(new URL(import.meta.url)).length }),",
        '});',
      ].join('\n'),
    );
    const pipeline = join(repository, 'pipeline');
    await mkdir(pipeline, { recursive: true });
    await writeFile(join(pipeline, 'handler.ts'), "import { defineHandler, z } from 'slipway';\nexport default defineHandler({ input: z.object({}), output: z.object({}), predict: () => ({}) });\n");
    await writeFile(join(pipeline, 'config.yaml'), 'edge:\n  models: [missing]\n  files: [vocab.txt]\n');
    const keyed = join(repository, 'keyed');
    await mkdir(join(keyed, '1'), { recursive: true });
    await cp(join(EXAMPLES, 'digits/1/model.onnx'), join(keyed, '1/model.onnx'));
    await writeFile(join(keyed, 'config.yaml'), `edge:\n  api_key: ${BAKED_KEY}\n`);
    local = await Slipway.open({ models: [reader, pipeline, keyed], cores: 1 });
  });
  after(() => local?.close());

  test('a handler with Node-only imports keeps predict on the server, says why, and its graph still travels', async () => {
    const out = join(dir, 'reader-out');
    const bundle = await buildEdgeBundle(local, 'reader', { out, compression: 'gzip', webgpu: false });
    assert.deepEqual(bundle.manifest.handler, { runs: 'server', reason: 'handler.ts imports Node-only modules: node:fs (handler.ts)' });
    assert.deepEqual(bundle.warnings, ["the handler runs on the server only: handler.ts imports Node-only modules: node:fs (handler.ts); predict() will always ask the server"]);
    assert.deepEqual(Object.keys(bundle.manifest.graphs), ['reader'], 'infer() can still run on the device');
    await assert.rejects(stat(join(out, 'handler.js')));
  });

  test('edge.api_key is never written into a bundle: a warning says why and what to do instead', async () => {
    const out = join(dir, 'keyed-out');
    const bundle = await buildEdgeBundle(local, 'keyed', { out, compression: 'gzip', webgpu: false, server: 'https://models.example.com/' });
    assert.equal(bundle.warnings.length, 1);
    assert.match(bundle.warnings[0]!, /^config\.yaml's edge\.api_key was not written into the bundle: .* slipway\.load\(\{ apiKey: \(\) => token \}\)$/);
    for (const file of await readdir(out, { recursive: true })) {
      const path = join(out, file);
      if ((await stat(path)).isFile()) assert.ok(!(await readFile(path)).includes(BAKED_KEY), `${file} carries the key`);
    }
  });

  test('edge.models naming a model that is not loaded is refused by name', async () => {
    await assert.rejects(buildEdgeBundle(local, 'pipeline', { out: join(dir, 'pipeline-out'), compression: 'gzip' }), /edge\.models of 'pipeline' names 'missing', which is not loaded/);
  });
});

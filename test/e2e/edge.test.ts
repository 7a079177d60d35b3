import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import onnxProto from 'onnx-proto';
import type { Page } from 'playwright-core';
import { encodeModel } from '../../scripts/generate-test-models.js';
import type { EdgeReport } from '../../src/edge/edge-report.js';
import { serveStatic, type StaticServer } from '../../src/edge/static-server.js';
import { runCli, startCliServer, type CliServer } from '../helpers/cli-server.js';
import { EXAMPLES } from '../helpers/paths.js';
import { requireCommand } from '../helpers/requirements.js';
import { linkSlipwayPackage } from '../helpers/temp-repository.js';
import { launchChromium, type Browser } from './chromium.js';
import { draw, forgetKeptResults, FOUR, latestResult, textPicture } from './page-input.js';

// `slipway edge` bundles in real Chromium: digits and OCR answered on the device exactly as the
// server answers them, from a plain static host; the fallbacks to the server (no wasm, an op the
// wasm build lacks, a device over its latency budget), each said on the page; nothing fetched but
// the bundle; the UI's "run on this device" switch; and the size and latency report.

// These callbacks run in the page; the test's own (Node) types have no DOM.
declare const location: { href: string };
declare const document: { querySelector(selector: string): { toBlob(callback: (blob: Blob | null) => void, type: string): void } | null };
declare class OffscreenCanvas {
  constructor(width: number, height: number);
  getContext(kind: '2d'): { fillStyle: string; fillRect(x: number, y: number, w: number, h: number): void; font: string; fillText(text: string, x: number, y: number): void };
  convertToBlob(options: { type: string }): Promise<Blob>;
}

interface DigitAnswer {
  label: number;
  confidence: number;
  probabilities: number[];
}
interface InferAnswer {
  outputs: Array<{ name: string; datatype: string; shape: number[]; data: number[] }>;
}
interface Answer<T> {
  output: T;
  ranOn: 'device' | 'server';
  fallbackReason?: string;
}

const { onnx } = onnxProto;
const SAMPLES = JSON.parse(await readFile(join(EXAMPLES, 'digits/samples.json'), 'utf8')) as Array<{ label: number; image: number[][][] }>;
const DIGIT_PICTURES = Array.from({ length: 10 }, (_, i) => `${i}.png`);

/** Float32 results from onnxruntime-web (wasm) and onnxruntime-node agree to this; the pixels going in are identical. */
const TOLERANCE = 1e-5;

function assertClose(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= TOLERANCE, `${what}[${i}]: device ${v}, server ${expected[i]}`));
}

/** An ONNX model of NCHWc reorders: onnxruntime-node (x86-64) has these kernels, onnxruntime-web's wasm build does not. */
function nchwcModel(): Uint8Array {
  const info = (name: string) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 8 }, { dimValue: 2 }, { dimValue: 2 }] } } } });
  return encodeModel({
    irVersion: 8,
    producerName: 'slipway edge test',
    opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft.nchwc', version: 1 }],
    graph: {
      name: 'nchwc_identity',
      node: [
        { opType: 'ReorderInput', domain: 'com.microsoft.nchwc', input: ['x'], output: ['blocked'], name: 'reorder_in' },
        { opType: 'ReorderOutput', domain: 'com.microsoft.nchwc', input: ['blocked'], output: ['y'], name: 'reorder_out', attribute: [{ name: 'channels', type: onnx.AttributeProto.AttributeType.INT, i: 8 }] },
      ],
      input: [info('x')],
      output: [info('y')],
    },
  });
}

describe('slipway edge bundles in Chromium', requireCommand('chromium'), () => {
  let dir: string;
  let server: CliServer;
  let browser: Browser;
  let plain: StaticServer;
  let isolated: StaticServer;
  let ocrHost: StaticServer;
  const TEST_PAGE = '/edge-test.html';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-e2e-edge-'));
    // A repository of its own for the fallbacks: digits with a latency budget no device keeps, and
    // a graph whose op the wasm build lacks.
    const repository = join(dir, 'models');
    await linkSlipwayPackage(repository);
    await cp(join(EXAMPLES, 'digits'), join(repository, 'digits_budget'), { recursive: true, dereference: true });
    await writeFile(join(repository, 'digits_budget', 'config.yaml'), 'edge:\n  latency_budget_ms: 0.001\n  latency_window: 2\n');
    await mkdir(join(repository, 'nchwc', '1'), { recursive: true });
    await writeFile(join(repository, 'nchwc', '1', 'model.onnx'), nchwcModel());
    // A handler that fails (n = 13) or never finishes in a browser (there ctx.dir is the bundle's URL),
    // and answers at once in Node.
    await mkdir(join(repository, 'stuck'), { recursive: true });
    await writeFile(join(repository, 'stuck', 'config.yaml'), 'handler:\n  timeout_ms: 1500\n');
    await writeFile(
      join(repository, 'stuck', 'handler.ts'),
      [
        "import { defineHandler, z } from 'slipway';",
        'export default defineHandler({',
        '  input: z.object({ n: z.number() }),',
        '  output: z.object({ n: z.number(), where: z.string() }),',
        '  predict: ({ n }, ctx) => {',
        "    const browser = ctx.dir.startsWith('http');",
        "    if (browser && n === 13) throw new Error('13 fails on this device');",
        '    for (const end = Date.now() + 120_000; browser && n !== 1 && Date.now() < end; );',
        "    return { n, where: browser ? 'device' : 'server' };",
        '  },',
        '});',
      ].join('\n'),
    );

    // The static hosts first: the server lets the plain one's pages fall back to it (CORS), and the
    // bundles are built to fall back to the server.
    const pages = { [TEST_PAGE]: '<!doctype html><meta charset="utf-8"><title>edge test</title>' };
    const digitsBundle = join(dir, 'digits-bundle');
    const ocrBundle = join(dir, 'ocr-bundle');
    plain = await serveStatic(digitsBundle, { pages });
    isolated = await serveStatic(digitsBundle, { isolate: true, pages });
    ocrHost = await serveStatic(ocrBundle, { pages });
    const models = ['digits', 'ocr', 'ocr_det', 'ocr_cls', 'ocr_rec'].map((m) => join(EXAMPLES, m));
    server = await startCliServer([
      ...models,
      join(repository, 'digits_budget'),
      join(repository, 'nchwc'),
      join(repository, 'stuck'),
      '--no-grpc',
      '--feedback-db',
      `sqlite:${join(dir, 'feedback.db')}`,
      '--cors-origin',
      plain.url.replace(/\/$/, ''),
    ]);
    for (const [model, out] of [['digits', digitsBundle], ['ocr', ocrBundle]] as const) {
      const built = await runCli(['edge', join(EXAMPLES, model), '--out', out, '--no-measure', '--no-webgpu', '--server', `${server.url}/`]);
      assert.equal(built.code, 0, built.stderr);
    }
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await Promise.all([plain?.close(), isolated?.close(), ocrHost?.close()]);
    server?.child.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  /** A page that records every request it makes and fails the test on a script error. */
  const open = async (url: string, options: { blockWasm?: boolean } = {}): Promise<{ page: Page; requests: string[] }> => {
    const page = await browser.context.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('close', () => assert.deepEqual(errors, [], 'no script errors on the page'));
    if (options.blockWasm === true) await page.route('**/*.wasm', (route) => route.abort('failed'));
    // Results kept by an earlier test on this origin would take the first result's number.
    await forgetKeptResults(page, url);
    requests.length = 0;
    await page.goto(url);
    return { page, requests };
  };

  const serverPredict = async (model: string, picture: Buffer | Uint8Array, name: string): Promise<unknown> => {
    const form = new FormData();
    form.append('image', new Blob([picture], { type: 'image/png' }), name);
    const reply = await fetch(`${server.url}/api/models/${model}/predict`, { method: 'POST', body: form });
    assert.equal(reply.status, 200);
    return reply.json();
  };

  test('digits from a plain static host: every example picture and every sample answers as the server does, on the device', async () => {
    const { page, requests } = await open(`${plain.url}${TEST_PAGE.slice(1)}`);
    const result = await page.evaluate(
      async ({ pictures, samples }) => {
        const { default: slipway } = (await import(new URL('slipway.js', location.href).href)) as {
          default: { load(): Promise<Record<string, unknown>>; predict(i: object): Promise<unknown>; infer(b: object): Promise<unknown> };
        };
        const status = await slipway.load();
        const predictions: unknown[] = [];
        for (const picture of pictures) predictions.push(await slipway.predict({ image: await (await fetch(`examples/${picture}`)).blob() }));
        const inferences: unknown[] = [];
        for (const sample of samples) inferences.push(await slipway.infer({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: sample.image.flat(2) }] }));
        // A digit drawn on a canvas, as the page's drawing pad makes one.
        const canvas = new OffscreenCanvas(120, 120);
        const ink = canvas.getContext('2d');
        ink.fillStyle = '#ffffff';
        ink.fillRect(0, 0, 120, 120);
        ink.fillStyle = '#000000';
        ink.font = '90px sans-serif';
        ink.fillText('7', 35, 95);
        const drawn = await canvas.convertToBlob({ type: 'image/png' });
        const drawnAnswer = await slipway.predict({ image: drawn });
        return { status, predictions, inferences, drawnAnswer, drawn: Array.from(new Uint8Array(await drawn.arrayBuffer())) };
      },
      { pictures: DIGIT_PICTURES, samples: SAMPLES },
    );
    assert.equal(result.status.mode, 'device');
    assert.equal(result.status.backend, 'wasm');
    assert.equal(result.status.crossOriginIsolated, false, 'a plain host sends no COOP/COEP');
    assert.equal(result.status.threads, 1, 'without cross-origin isolation, one wasm thread');

    for (const [i, picture] of DIGIT_PICTURES.entries()) {
      const device = result.predictions[i] as Answer<DigitAnswer>;
      const expected = (await serverPredict('digits', await readFile(join(EXAMPLES, 'digits/examples', picture)), picture)) as DigitAnswer;
      assert.equal(device.ranOn, 'device', picture);
      assert.equal(device.output.label, expected.label, picture);
      assertClose(device.output.probabilities, expected.probabilities, picture);
    }
    for (const [i, sample] of SAMPLES.entries()) {
      const device = result.inferences[i] as Answer<InferAnswer>;
      const reply = await fetch(`${server.url}/v2/models/digits/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: sample.image.flat(2) }] }),
      });
      const expected = (await reply.json()) as InferAnswer;
      assert.equal(device.ranOn, 'device');
      assert.deepEqual({ ...device.output.outputs[0], data: [] }, { ...expected.outputs[0], data: [] }, 'the same OIP answer shape');
      assertClose(device.output.outputs[0]!.data, expected.outputs[0]!.data, `sample ${i}`);
    }
    const drawn = result.drawnAnswer as Answer<DigitAnswer>;
    const drawnExpected = (await serverPredict('digits', Uint8Array.from(result.drawn), 'drawn.png')) as DigitAnswer;
    assert.equal(drawn.output.label, drawnExpected.label);
    assertClose(drawn.output.probabilities, drawnExpected.probabilities, 'the drawn digit');

    const foreign = requests.filter((url) => !url.startsWith(plain.url));
    assert.deepEqual(foreign, [], 'on the device, the page fetches nothing but the bundle');
    await page.close();
  });

  test("the bundle's page from a plain host: a digit drawn on the canvas is read on this device, fetching only the bundle", async () => {
    const { page, requests } = await open(plain.url);
    const status = page.getByRole('status').filter({ hasText: 'This device answers' });
    await status.waitFor();
    assert.match((await status.textContent()) ?? '', /This device answers: WebAssembly, 1 thread \(the page is not cross-origin isolated\)/);
    await page.getByRole('radio', { name: 'Draw' }).check();
    await draw(page, FOUR);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    assert.equal(await (await latestResult(page, 1)).locator('.headline-value').textContent(), '4');
    await page.getByRole('status').filter({ hasText: 'Last answer: on this device' }).waitFor();
    await page.getByRole('button', { name: 'Run example 5.png' }).click();
    assert.equal(await (await latestResult(page, 2)).locator('.headline-value').textContent(), '5');
    assert.deepEqual(
      requests.filter((url) => !url.startsWith(plain.url) && !url.startsWith('blob:')),
      [],
      'nothing but the bundle (and the page’s own picture blobs)',
    );
    await page.close();
  });

  test('with cross-origin isolation the device uses wasm threads, and answers the same', async () => {
    const { page } = await open(`${isolated.url}${TEST_PAGE.slice(1)}`);
    const result = await page.evaluate(async () => {
      const { default: slipway } = (await import(new URL('slipway.js', location.href).href)) as {
        default: { load(o: object): Promise<Record<string, unknown>>; predict(i: object): Promise<unknown> };
      };
      const status = await slipway.load({ threads: 2 });
      return { status, answer: await slipway.predict({ image: await (await fetch('examples/3.png')).blob() }) };
    });
    assert.equal(result.status.crossOriginIsolated, true);
    assert.equal(result.status.threads, 2);
    const expected = (await serverPredict('digits', await readFile(join(EXAMPLES, 'digits/examples/3.png')), '3.png')) as DigitAnswer;
    const answer = result.answer as Answer<DigitAnswer>;
    assert.equal(answer.ranOn, 'device');
    assertClose(answer.output.probabilities, expected.probabilities, '3.png on 2 threads');
    await page.close();
  });

  test('OCR from a plain static host: det → cls → rec in the browser reads the same text as the server', async () => {
    const pictures: Array<[string, Buffer]> = [
      ['receipt.png', await readFile(join(EXAMPLES, 'ocr/examples/receipt.png'))],
      ['rendered.png', await textPicture(['Edge 42 devices', 'Fallback: server 7.50'])],
    ];
    const { page, requests } = await open(`${ocrHost.url}${TEST_PAGE.slice(1)}`);
    const answers = await page.evaluate(async (files) => {
      const { default: slipway } = (await import(new URL('slipway.js', location.href).href)) as {
        default: { load(): Promise<Record<string, unknown>>; predict(i: object): Promise<unknown> };
      };
      await slipway.load();
      const out: unknown[] = [];
      for (const bytes of files) out.push(await slipway.predict({ image: new Blob([Uint8Array.from(bytes)], { type: 'image/png' }) }));
      return out;
    }, pictures.map(([, bytes]) => Array.from(bytes)));
    for (const [i, [name, bytes]] of pictures.entries()) {
      const device = answers[i] as Answer<{ text: string; lines: Array<{ text: string; box: number[][] }> }>;
      const expected = (await serverPredict('ocr', bytes, name)) as { text: string; lines: Array<{ text: string; box: number[][] }> };
      assert.equal(device.ranOn, 'device', name);
      assert.equal(device.output.text, expected.text, name);
      assert.deepEqual(device.output.lines.map((l) => l.box), expected.lines.map((l) => l.box), `${name}: the same boxes`);
    }
    assert.equal(pictures.length, 2);
    assert.deepEqual(requests.filter((url) => !url.startsWith(ocrHost.url)), []);
    await page.close();
  });

  test('with the wasm file unavailable, the page falls back to the server and says why', async () => {
    const { page } = await open(`${server.url}/edge/digits/`, { blockWasm: true });
    const status = page.getByRole('status').filter({ hasText: 'The server answers' });
    await status.waitFor();
    assert.match((await status.textContent()) ?? '', /The server answers: model 'digits' could not be loaded on this device \(wasm\): no available backend found/);
    await page.getByRole('button', { name: 'Run example 3.png' }).click();
    assert.equal(await (await latestResult(page, 1)).locator('.headline-value').textContent(), '3');
    await page.getByRole('status').filter({ hasText: /Last answer: from the server, .* because model 'digits' could not be loaded on this device/ }).waitFor();
    const answer = await page.evaluate(async () => {
      const { default: slipway } = (await import(new URL('slipway.js', location.href).href)) as { default: { predict(i: object): Promise<unknown> } };
      return slipway.predict({ image: await (await fetch('examples/7.png')).blob() });
    });
    assert.equal((answer as Answer<DigitAnswer>).ranOn, 'server');
    assert.equal((answer as Answer<DigitAnswer>).output.label, 7);
    assert.match((answer as Answer<DigitAnswer>).fallbackReason ?? '', /no available backend found/);
    await page.close();
  });

  test('from a static host on another origin, the page falls back to the server it was built for (CORS)', async () => {
    const { page, requests } = await open(plain.url, { blockWasm: true });
    await page.getByRole('status').filter({ hasText: 'The server answers: model \'digits\' could not be loaded on this device' }).waitFor();
    await page.getByRole('button', { name: 'Run example 9.png' }).click();
    assert.equal(await (await latestResult(page, 1)).locator('.headline-value').textContent(), '9');
    await page.getByRole('status').filter({ hasText: 'Last answer: from the server' }).waitFor();
    assert.ok(requests.includes(`${server.url}/api/models/digits/predict`), 'the answer came from the Slipway server, cross-origin');
    await page.close();
  });

  test('a server whose inference needs a key: the fallback sends load({ apiKey }), and without one says how to give it', async () => {
    const KEY = 'edge-e2e-inference-key';
    const keyed = await startCliServer([join(EXAMPLES, 'digits'), '--no-grpc', '--no-ui', '--api-key', KEY, '--cors-origin', plain.url.replace(/\/$/, '')]);
    try {
      const { page, requests } = await open(plain.url, { blockWasm: true });
      await page.getByRole('status').filter({ hasText: 'The server answers' }).waitFor();
      const [without, withKey] = (await page.evaluate(async (server) => {
        type Model = { load(o: object): Promise<unknown>; predict(i: object): Promise<{ ranOn: string; output: { label: number } }> };
        const { default: own } = (await import(new URL('slipway.js', location.href).href)) as { default: Model };
        const EdgeModel = own.constructor as new (bundle: URL) => Model;
        const picture = await (await fetch('examples/7.png')).blob();
        const anonymous = new EdgeModel(new URL('./', location.href));
        await anonymous.load({ server });
        const refused = await anonymous.predict({ image: picture }).then(
          () => 'answered',
          (error: { name: string; status: number; message: string }) => ({ name: error.name, status: error.status, message: error.message }),
        );
        const signed = new EdgeModel(new URL('./', location.href));
        // A getter, as a page fetching a per-user token would pass.
        await signed.load({ server, apiKey: async () => 'edge-e2e-inference-key' });
        const answer = await signed.predict({ image: picture });
        return [refused, { ranOn: answer.ranOn, label: answer.output.label }];
      }, `${keyed.url}/`)) as [{ name: string; status: number; message: string }, { ranOn: string; label: number }];
      assert.equal(without.name, 'EdgeError');
      assert.equal(without.status, 401);
      assert.match(without.message, /needs an API key for inference \(401: .*\): pass load\(\{ apiKey \}\) a per-user token/);
      assert.deepEqual(withKey, { ranOn: 'server', label: 7 });
      assert.ok(requests.includes(`${keyed.url}/api/models/digits/predict`), 'the answer came from the keyed server, cross-origin');
      await page.close();
    } finally {
      keyed.child.kill('SIGTERM');
    }
  });

  // onnxruntime-node has the NCHWc kernels on x86-64 only; elsewhere the server could not answer either.
  test('a model with an op the wasm build lacks falls back to the server, which answers the same request', { skip: process.arch === 'x64' ? false : 'the NCHWc test model runs on x86-64 servers only' }, async () => {
    const { page } = await open(`${server.url}/edge/nchwc/`);
    await page.getByRole('status').filter({ hasText: /The server answers: model 'nchwc' could not be loaded on this device \(wasm\): .*ReorderInput/ }).waitFor();
    const data = Array.from({ length: 32 }, (_, i) => i / 4);
    const answer = (await page.evaluate(async (values) => {
      const { default: slipway } = (await import(new URL('slipway.js', location.href).href)) as { default: { infer(b: object): Promise<unknown> } };
      return slipway.infer({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 8, 2, 2], data: values }] });
    }, data)) as Answer<InferAnswer>;
    assert.equal(answer.ranOn, 'server');
    assert.match(answer.fallbackReason ?? '', /com\.microsoft\.nchwc:ReorderInput\(-1\) is not a registered function\/op/);
    assert.deepEqual(answer.output.outputs[0], { name: 'y', datatype: 'FP32', shape: [1, 8, 2, 2], data }, 'the server ran it (a reorder there and back is the identity)');
    await page.close();
  });

  test('a device over its latency budget switches to the server after the window, and the page says so', async () => {
    const { page } = await open(`${server.url}/edge/digits_budget/`);
    await page.getByRole('status').filter({ hasText: 'This device answers' }).waitFor();
    await page.getByRole('button', { name: 'Run example 1.png' }).click();
    assert.equal(await (await latestResult(page, 1)).locator('.headline-value').textContent(), '1');
    await page.getByRole('status').filter({ hasText: 'Last answer: on this device' }).waitFor();
    await page.getByRole('button', { name: 'Run example 2.png' }).click();
    await latestResult(page, 2);
    // Two calls fill the window; their median is over 0.001 ms, so the device is taken out.
    const status = page.getByRole('status').filter({ hasText: 'The server answers: on-device latency is over its budget' });
    await status.waitFor();
    assert.match((await status.textContent()) ?? '', /median [\d.]+ ms over the last 2 calls, budget 0\.001 ms/);
    await page.getByRole('button', { name: 'Run example 8.png' }).click();
    assert.equal(await (await latestResult(page, 3)).locator('.headline-value').textContent(), '8');
    await page.getByRole('status').filter({ hasText: /Last answer: from the server, .* because on-device latency is over its budget/ }).waitFor();
    await page.close();
  });

  test("a request that fails on the device goes to the server alone; a device slower than the handler's timeout is given up", async () => {
    const { page } = await open(`${server.url}/edge/stuck/`);
    const [first, failed, stillDevice, answer] = (await page.evaluate(async () => {
      const { default: slipway } = (await import(new URL('slipway.js', location.href).href)) as {
        default: { load(): Promise<{ mode: string }>; predict(i: object): Promise<Record<string, unknown>>; status(): { mode: string; reason?: string } };
      };
      await slipway.load();
      const first = await slipway.predict({ n: 1 });
      const failed = await slipway.predict({ n: 13 });
      const stillDevice = slipway.status().mode;
      const slow = await slipway.predict({ n: 7 });
      return [first, failed, stillDevice, { ...slow, after: slipway.status() }];
    })) as unknown as [Answer<{ where: string }>, Answer<{ where: string }>, string, Answer<{ n: number; where: string }> & { after: { mode: string; reason?: string } }];
    assert.deepEqual([first.ranOn, first.output.where], ['device', 'device']);
    assert.deepEqual([failed.ranOn, failed.output.where], ['server', 'server']);
    assert.equal(failed.fallbackReason, "this request failed on the device: handler 'stuck' failed: 13 fails on this device");
    assert.equal(stillDevice, 'device', 'one failed request does not take the device out');
    assert.equal(answer.ranOn, 'server');
    assert.deepEqual(answer.output, { n: 7, where: 'server' });
    assert.equal(answer.fallbackReason, "this request failed on the device: an on-device prediction took longer than the handler's timeout (1500 ms)");
    assert.deepEqual(answer.after.mode, 'server', 'the device is given up: its worker could not be interrupted');
    await page.close();
  });

  test('the UI\'s "run on this device" switch answers the model page on the device', async () => {
    const { page, requests } = await open(`${server.url}/models/digits`);
    await page.getByLabel('Run on this device').check();
    const status = page.getByRole('status').filter({ hasText: 'This device answers' });
    await status.waitFor();
    assert.doesNotMatch((await status.textContent()) ?? '', /not cross-origin isolated/, 'the UI pages are cross-origin isolated, so threads are possible');
    await page.getByRole('button', { name: 'Run example 6.png' }).click();
    assert.equal(await (await latestResult(page, 1)).locator('.headline-value').textContent(), '6');
    await page.getByRole('status').filter({ hasText: 'Last answer: on this device' }).waitFor();
    assert.ok(!requests.some((url) => url.endsWith('/api/models/digits/predict')), 'the server was not asked');
    await page.getByLabel('Run on this device').uncheck();
    await page.getByRole('button', { name: 'Run example 2.png' }).click();
    await latestResult(page, 2);
    assert.ok(requests.some((url) => url.endsWith('/api/models/digits/predict')), 'switched off, the server answers again');
    await page.close();
  });

  test('the report: sizes, and load time with p50/p95 per execution provider in Chromium', async () => {
    const out = join(dir, 'measured');
    const result = await runCli(['edge', join(EXAMPLES, 'digits'), '--out', out, '--runs', '5', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as EdgeReport;
    assert.match(report.latency.browser ?? '', /^Chromium \d+/);
    assert.equal(report.latency.call, 'predict(examples/0.png)');
    const [single, threaded, webgpu] = report.latency.runs;
    assert.deepEqual([single?.backend, single?.threads, single?.crossOriginIsolated, single?.measured], ['wasm', 1, false, true]);
    assert.deepEqual([threaded?.backend, threaded?.crossOriginIsolated, threaded?.measured], ['wasm', true, true]);
    for (const run of [single!, threaded!]) {
      assert.ok(run.loadMs! > 0 && run.p50Ms! > 0 && run.p95Ms! >= run.p50Ms!, JSON.stringify(run));
      assert.equal(run.runs, 5);
    }
    // This machine's Chromium has no GPU: WebGPU is reported, with why, rather than measured.
    assert.equal(webgpu?.backend, 'webgpu');
    if (webgpu?.measured === false) assert.match(webgpu.reason ?? '', /WebGPU/);
    assert.ok(report.sizes.download.webgpu !== undefined);
    assert.deepEqual(JSON.parse(await readFile(join(out, 'edge-report.json'), 'utf8')), report);
  });
});

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EdgeManifest } from '../../src/edge/edge-manifest.js';
import type { EdgeReport } from '../../src/edge/edge-report.js';
import { runCli } from '../helpers/cli-server.js';
import { EXAMPLES } from '../helpers/paths.js';

// `slipway edge` as a user runs it: the report it prints and writes, its flags, and its refusals.
// Timing in Chromium is exercised in test/e2e/edge.test.ts; here --no-measure.

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slipway-cli-edge-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const run = (args: string[]) => runCli(['edge', ...args]);

describe('slipway edge', () => {
  test('writes the bundle and its report (printed, and as JSON beside it), with the fallback settings in the manifest', async () => {
    const out = join(dir, 'digits');
    const result = await run([join(EXAMPLES, 'digits'), '--out', out, '--no-measure', '--no-webgpu', '--latency-budget-ms', '30', '--latency-window', '4', '--server', 'https://ml.example.com/']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^digits → .*digits\n {2}predict\(\): runs in the browser\n/);
    assert.match(result.stdout, /onnxruntime-web \(wasm\) +\d+\.\d MiB +\d+\.\d MiB +\d+\.\d MiB/);
    assert.match(result.stdout, /download, wasm device/);
    assert.match(result.stdout, /latency: not measured: --no-measure/);
    const report = JSON.parse(await readFile(join(out, 'edge-report.json'), 'utf8')) as EdgeReport;
    assert.equal(report.model, 'digits');
    assert.deepEqual(report.handler, { runs: 'device' });
    assert.ok(report.sizes.download.wasm.brotli > 0 && report.sizes.download.wasm.brotli < report.sizes.download.wasm.bytes);
    assert.deepEqual(report.phone, { downloadLimitBytes: 10 * 1024 * 1024, modelLimitBytes: 100 * 1024 * 1024 });
    const manifest = JSON.parse(await readFile(join(out, 'slipway-edge.json'), 'utf8')) as EdgeManifest;
    assert.deepEqual(manifest.fallback, { server: 'https://ml.example.com/', latencyBudgetMs: 30, latencyWindow: 4 });
  });

  test('a model named in --models brings the models its pipeline calls; --json prints the report', async () => {
    const out = join(dir, 'ocr');
    const result = await run(['ocr', '--models', EXAMPLES, '--out', out, '--no-measure', '--no-webgpu', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as EdgeReport;
    assert.deepEqual(Object.keys(report.sizes.models).sort(), ['ocr_cls', 'ocr_det', 'ocr_rec']);
    assert.ok(report.warnings.some((w) => /too big for a phone: a device downloads \d+\.\d MiB \(brotli\)/.test(w)), report.warnings.join('\n'));
  });

  test('bad flags, unknown models and a folder that is not a bundle are refused with exit code 2 and a message', async () => {
    const budget = await run([join(EXAMPLES, 'digits'), '--out', join(dir, 'x'), '--latency-budget-ms', '-3']);
    assert.equal(budget.code, 2);
    assert.match(budget.stderr, /--latency-budget-ms -3: expected a positive number/);
    const unknown = await run(['nope', '--models', EXAMPLES, '--out', join(dir, 'x')]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no model 'nope' in .*examples\/models \(found: digits, digits_\w+(, digits_\w+)*, ocr, ocr_cls, ocr_det, ocr_rec\)/);
    const foreign = join(dir, 'foreign');
    await mkdir(foreign);
    await writeFile(join(foreign, 'keep.txt'), 'mine');
    const refused = await run([join(EXAMPLES, 'digits'), '--out', foreign, '--no-measure']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /foreign is not empty and holds no bundle/);
    assert.equal(await readFile(join(foreign, 'keep.txt'), 'utf8'), 'mine');
  });
});

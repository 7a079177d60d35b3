// The browser bundles' size and latency report for the two examples, as `slipway edge` measures
// it (headless Chromium, a local static host plain and cross-origin isolated), written to its
// section of bench/RESULTS.md. Reproduce with `npm run bench:edge`.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileSize } from '../src/edge/bundle-sizes.js';
import type { LatencyRun } from '../src/edge/chromium-latency.js';
import type { EdgeReport } from '../src/edge/edge-report.js';
import { ROOT, writeResultsSection } from './results-section.js';

const CLI = join(ROOT, 'dist/src/cli/main.js');

function edge(model: string, out: string, runs: number): Promise<EdgeReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'edge', join(ROOT, 'examples/models', model), '--out', out, '--runs', String(runs), '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(stdout) as EdgeReport) : reject(new Error(`slipway edge ${model} exited with ${code}`))));
  });
}

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(2);
const ms = (v: number | undefined): string => (v === undefined ? '' : v >= 100 ? v.toFixed(0) : v.toFixed(1));

function sizeRows(report: EdgeReport): string {
  const { sizes } = report;
  const rows: Array<[string, FileSize]> = [
    ['page, API, worker, handler', sizes.app],
    ['onnxruntime-web wasm build', sizes.runtime.wasm],
    ...(sizes.runtime.webgpu ? [['onnxruntime-web WebGPU build', sizes.runtime.webgpu] as [string, FileSize]] : []),
    ...Object.entries(sizes.models).map(([name, s]): [string, FileSize] => [`model ${name}`, s]),
    ...(sizes.files.bytes > 0 ? [['data files', sizes.files] as [string, FileSize]] : []),
    ['**a wasm device downloads**', sizes.download.wasm],
    ...(sizes.download.webgpu ? [['a WebGPU device downloads', sizes.download.webgpu] as [string, FileSize]] : []),
  ];
  return rows.map(([label, s]) => `| ${report.model} | ${label} | ${mib(s.bytes)} | ${mib(s.gzip)} | ${mib(s.brotli)} |`).join('\n');
}

function latencyRow(report: EdgeReport, run: LatencyRun): string {
  const provider = run.backend === 'webgpu' ? 'WebGPU' : `wasm, ${run.threads} thread${run.threads === 1 ? '' : 's'}`;
  const host = run.crossOriginIsolated ? 'cross-origin isolated' : 'plain';
  return run.measured
    ? `| ${report.model} | ${provider} | ${host} | ${ms(run.loadMs)} | ${ms(run.p50Ms)} | ${ms(run.p95Ms)} | ${run.runs} |`
    : `| ${report.model} | ${provider} | ${host} | not measured: ${run.reason} | | | |`;
}

function threadRatio(report: EdgeReport): string {
  const [single, threaded] = report.latency.runs;
  if (!single?.measured || !threaded?.measured) return `${report.model}: not measured`;
  return `${report.model}: p50 with ${threaded.threads} threads ÷ 1 thread = ${(threaded.p50Ms! / single.p50Ms!).toFixed(2)}`;
}

const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-edge-'));
try {
  const digits = await edge('digits', join(dir, 'digits'), 100);
  // An OCR page takes about a second per call on one thread here; 20 calls keep the run short.
  const ocr = await edge('ocr', join(dir, 'ocr'), 20);
  const reports = [digits, ocr];
  const cpu = cpus();
  const section = `## Browser bundles: size and on-device latency (\`npm run bench:edge\`)

${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, ${digits.latency.browser ?? 'no Chromium'} (headless, no GPU), ${new Date().toISOString().slice(0, 16)}Z.
Measured by \`slipway edge\` itself: load() (onnxruntime-web, the graphs, the handler's setup) and predict() on
an example picture, after two warm-up calls, from a local static host. On this shared 2-core machine the
numbers are indicative; rerun on a quiet one. Sizes are exact: gzip level 9, brotli quality ${digits.compression.brotliQuality}.

| bundle | part | stored MiB | gzip MiB | brotli MiB |
|---|---|---|---|---|
${reports.map(sizeRows).join('\n')}

| bundle | execution provider | host | load ms | p50 ms | p95 ms | calls |
|---|---|---|---|---|---|---|
${reports.flatMap((r) => r.latency.runs.map((run) => latencyRow(r, run))).join('\n')}

Calls: digits ${digits.latency.call}, OCR ${ocr.latency.call}. ${reports.map(threadRatio).join('; ')}.
WebGPU was not measured: this machine's Chromium offers no adapter (\`requestAdapter()\` returns null), so
pages here use wasm; the bundle ships the WebGPU build for devices that have one.

Phone warnings (\`slipway edge\` prints them): a device downloading over ${mib(digits.phone.downloadLimitBytes)} MiB
(brotli) before its first answer, or models holding over ${mib(digits.phone.modelLimitBytes)} MiB of weights.
${reports.map((r) => `${r.model}: ${r.warnings.length === 0 ? 'no warning' : r.warnings.join('; ')}`).join('. ')}.
`;
  console.log(section);
  await writeResultsSection('edge', section);
} finally {
  await rm(dir, { recursive: true, force: true });
}

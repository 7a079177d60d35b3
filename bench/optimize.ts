// `slipway optimize` on the example models, every figure measured in one run and written to
// bench/RESULTS.md between <!-- bench:optimize --> markers. Usage: npm run bench:optimize [-- --seconds 3]
//   - digits_mlp (MatMul-heavy): dynamic int8, static int8 (percentile) and fp16, on its 360 held-out images;
//   - ocr_rec (PaddleOCR recognition): dynamic int8 and fp16, speed at width 320, and the OCR
//     pipeline's character accuracy on the repository's rendered test set with the float and the int8
//     recogniser.
// Float and optimized versions run through the same server workers in one process, alternating.
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluate, fontsInstalled, renderTestSet } from '../examples/models/ocr/evaluate.js';
import { optimizeModel, type OptimizeOptions } from '../src/optimize/optimize-model.js';
import { formatReport, type OptimizeReport } from '../src/optimize/optimize-report.js';
import { createHttpServer } from '../src/server/http-server.js';
import { Slipway } from '../src/slipway.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = join(ROOT, 'examples/models');
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg('--seconds', 2);
const OCR_IMAGES = arg('--ocr-images', 40);

const work = await mkdtemp(join(tmpdir(), 'slipway-bench-optimize-'));
const log = (line: string) => process.stderr.write(`  ${line}\n`);

/** A copy of a model folder with only its version 1 (linked, not copied, for large weights). */
async function freshModel(name: string, label: string): Promise<string> {
  const dir = join(work, label, name);
  await mkdir(dir, { recursive: true });
  await symlink(join(EXAMPLES, name, '1'), join(dir, '1'));
  await cp(join(EXAMPLES, name, 'config.yaml'), join(dir, 'config.yaml')).catch(() => undefined);
  return dir;
}

async function run(name: string, label: string, options: Omit<OptimizeOptions, 'modelDir'>): Promise<{ report: OptimizeReport; dir: string }> {
  process.stderr.write(`${name}: ${label}\n`);
  const dir = await freshModel(name, label);
  const { report, versionDir } = await optimizeModel({ ...options, modelDir: dir, log, benchSeconds: SECONDS });
  process.stderr.write(formatReport(report));
  return { report, dir: versionDir };
}

const heldOut = { eval: [join(EXAMPLES, 'digits_mlp/data/heldout.csv')], label: 'label', batchSizes: [1, 8, 64] };
const mlpDynamic = await run('digits_mlp', 'int8-dynamic', { method: 'int8-dynamic', ...heldOut });
const mlpStatic = await run('digits_mlp', 'int8-static', {
  method: 'int8-static',
  calibration: [join(EXAMPLES, 'digits_mlp/data/calibration.csv')],
  calibrationMethod: 'percentile',
  ...heldOut,
});
const mlpFp16 = await run('digits_mlp', 'fp16', { method: 'fp16', ...heldOut });

const recShape = { shapes: { x: [1, 3, 48, 320] }, batchSizes: [1, 8] };
const recInt8 = await run('ocr_rec', 'int8-dynamic', { method: 'int8-dynamic', ...recShape });
const recFp16 = await run('ocr_rec', 'fp16', { method: 'fp16', ...recShape });

/** The OCR pipeline's character accuracy with the given ocr_rec version folder. */
async function ocrAccuracy(recVersionDir: string | undefined, samples: Awaited<ReturnType<typeof renderTestSet>>): Promise<{ exact: number; glyphs: number }> {
  const repo = await mkdtemp(join(work, 'ocr-'));
  for (const m of ['ocr', 'ocr_det', 'ocr_cls']) await symlink(join(EXAMPLES, m), join(repo, m));
  await mkdir(join(repo, 'ocr_rec'));
  await cp(join(EXAMPLES, 'ocr_rec/config.yaml'), join(repo, 'ocr_rec/config.yaml'));
  await symlink(recVersionDir ?? join(EXAMPLES, 'ocr_rec/1'), join(repo, 'ocr_rec/1'));
  const slipway = await Slipway.open({ models: repo });
  const app = createHttpServer(slipway);
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/models/ocr/predict`;
    const result = await evaluate(url, samples);
    return { exact: result.strict.accuracy, glyphs: result.glyph.accuracy };
  } finally {
    await app.close();
    await slipway.close();
  }
}

let ocr: { float: { exact: number; glyphs: number }; int8: { exact: number; glyphs: number }; images: number; characters: number } | undefined;
if (fontsInstalled()) {
  process.stderr.write(`ocr: character accuracy on ${OCR_IMAGES} rendered images (seed 1), float then int8 recogniser\n`);
  const samples = await renderTestSet(OCR_IMAGES, 1);
  const float = await ocrAccuracy(undefined, samples);
  const int8 = await ocrAccuracy(recInt8.dir, samples);
  ocr = { float, int8, images: samples.length, characters: samples.reduce((n, s) => n + s.lines.join('\n').length, 0) };
} else process.stderr.write('ocr: the DejaVu fonts are missing (apt-get install fonts-dejavu-core); character accuracy not measured\n');
await rm(work, { recursive: true, force: true });

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const x = (v: number) => `×${v.toFixed(2)}`;
const at = (r: OptimizeReport, batch: number) => r.speed!.throughput.find((p) => p.batchSize === batch)!;
const ratioAt = (r: OptimizeReport, batch: number) => at(r, batch).optimized.rowsPerSecond / at(r, batch).source.rowsPerSecond;
const acc = (r: OptimizeReport) => r.accuracy!.classifier!;
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
const ocrDrop = ocr === undefined ? undefined : (ocr.float.exact - ocr.int8.exact) * 100;
const targets = [
  `| digits_mlp dynamic int8: throughput at batch 64 | ${x(ratioAt(mlpDynamic.report, 64))} | ≥ ×1.5 | ${verdict(ratioAt(mlpDynamic.report, 64) >= 1.5)} |`,
  `| digits_mlp dynamic int8: accuracy change (360 held-out images) | ${acc(mlpDynamic.report).deltaPoints!.toFixed(2)} points | ≥ −0.5 | ${verdict(acc(mlpDynamic.report).deltaPoints! >= -0.5)} |`,
  ocr === undefined || ocrDrop === undefined
    ? '| OCR with int8 recognition: character accuracy drop | not measured (no fonts) | ≤ 1 point | |'
    : `| OCR with int8 recognition: character accuracy drop (${ocr.images} images, exact text) | ${ocrDrop.toFixed(2)} points | ≤ 1 | ${verdict(ocrDrop <= 1)} |`,
  `| fp16 size: digits_mlp / ocr_rec | ${x(mlpFp16.report.size.ratio)} / ${x(recFp16.report.size.ratio)} | ≤ ×0.55 | ${verdict(Math.max(mlpFp16.report.size.ratio, recFp16.report.size.ratio) <= 0.55)} |`,
];
const row = (label: string, r: OptimizeReport, batch: number) => {
  const a = r.accuracy?.classifier;
  const p = at(r, batch);
  return `| ${label} | ${x(r.size.ratio)} | ${r.speed!.latency.optimized.p50Ms.toFixed(3)} ms (float ${r.speed!.latency.source.p50Ms.toFixed(3)}) | ${Math.round(p.optimized.rowsPerSecond).toLocaleString('en-US')} (float ${Math.round(p.source.rowsPerSecond).toLocaleString('en-US')}, ${x(ratioAt(r, batch))}) | ${a?.optimizedAccuracy !== undefined ? `${pct(a.optimizedAccuracy)} (float ${pct(a.sourceAccuracy!)})` : '—'} | ${r.accuracy?.outputs.map((o) => o.maxAbsDiff.toExponential(1)).join(', ') ?? '—'} |`;
};
const section = `
## \`slipway optimize\` (\`npm run bench:optimize\`)

${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, ${SECONDS} s per point and version; the
machine was shared with other work, so read the ratios, not the absolute numbers. Float and optimized
versions run in one process through the server's worker instances (2 × 1 thread), alternating at every
point. onnxruntime-node ${'1.30.0'} CPU execution provider; no GPU was available, so fp16 shows its size
and accuracy here and its speed only on the CPU provider, which runs most float16 ops through casts.

| target | measured | goal | |
|---|---|---|---|
${targets.join('\n')}

| version | size | latency, batch 1 (p50) | rows/s at batch 64 (MLP) / 8 (ocr_rec) | top-1 accuracy | max abs. output difference |
|---|---|---|---|---|---|
${row('digits_mlp int8 dynamic', mlpDynamic.report, 64)}
${row('digits_mlp int8 static (QDQ, percentile)', mlpStatic.report, 64)}
${row('digits_mlp fp16', mlpFp16.report, 64)}
${row('ocr_rec int8 dynamic (x: 1×3×48×320)', recInt8.report, 8)}
${row('ocr_rec fp16', recFp16.report, 8)}
${
  ocr === undefined
    ? ''
    : `
OCR pipeline (\`examples/models/ocr\`) on ${ocr.images} rendered images (seed 1, ${ocr.characters.toLocaleString('en-US')} characters), character accuracy:
float recogniser ${pct(ocr.float.exact)} exact / ${pct(ocr.float.glyphs)} glyphs; int8 recogniser ${pct(ocr.int8.exact)} exact / ${pct(ocr.int8.glyphs)} glyphs.
`
}`;
console.log(section);
const resultsPath = join(ROOT, 'bench/RESULTS.md');
const previous = await readFile(resultsPath, 'utf8').catch(() => '# Benchmark results\n');
const marker = '<!-- bench:optimize -->';
const block = `${marker}\n${section}${marker}`;
await writeFile(resultsPath, previous.includes(marker) ? previous.replace(new RegExp(`${marker}[\\s\\S]*${marker}`), block) : `${previous.trimEnd()}\n\n${block}\n`);
process.exit(0);

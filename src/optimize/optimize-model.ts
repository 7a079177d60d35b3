import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ServingError } from '../errors/serving-error.js';
import { isVersionDirName } from '../repository/discover.js';
import { Slipway } from '../slipway.js';
import { compareAccuracy, compareSpeed, makeBatch } from './compare-versions.js';
import { readDataset, type Dataset } from './dataset.js';
import { quantizeDynamic } from './dynamic-int8.js';
import { convertToFloat16 } from './fp16.js';
import { externalFiles, inlineExternalData, readOnnxModel, writeOnnxModel } from './onnx-model.js';
import type { OptimizeReport } from './optimize-report.js';
import type { QuantType } from './quant-params.js';
import { quantizeStatic } from './static-int8.js';
import { probeTypes } from './tensor-probe.js';

export type OptimizeMethod = OptimizeReport['method'];

export interface OptimizeOptions {
  /** The model's folder (holding `<version>/model.onnx` and maybe `config.yaml`). */
  modelDir: string;
  method: OptimizeMethod;
  /** The float version to start from (default: the newest). */
  sourceVersion?: number;
  /** int8 */
  opTypes?: string[];
  perChannel?: boolean;
  reduceRange?: boolean;
  weightType?: QuantType;
  excludeNodes?: string[];
  /** int8-static: calibration files (what `slipway batch --input` reads), method and rows. */
  calibration?: string[];
  calibrationMethod?: 'minmax' | 'percentile';
  percentile?: number;
  calibrationRows?: number;
  /** fp16 */
  keepIoTypes?: boolean;
  fp16BlockOps?: string[];
  fp16BlockNodes?: string[];
  /** The held-out set: files, the label column and input mappings. */
  eval?: string[];
  label?: string;
  map?: string[];
  /** Measure speed (default true). */
  bench?: boolean;
  benchSeconds?: number;
  batchSizes?: number[];
  shapes?: Record<string, number[]>;
  /** Progress lines (to stderr in the CLI). */
  log?: (line: string) => void;
  /** The options as given, recorded in the report. */
  recordedOptions?: Record<string, unknown>;
}

export interface OptimizeResult {
  report: OptimizeReport;
  /** The new version's folder. */
  versionDir: string;
}

async function versionsOf(modelDir: string, filename: string): Promise<{ all: number[]; withModel: number[] }> {
  let entries;
  try {
    entries = await readdir(modelDir, { withFileTypes: true });
  } catch (error) {
    throw new ServingError('MODEL_NOT_FOUND', `cannot read model folder ${modelDir}: ${(error as Error).message}`);
  }
  const all = entries.filter((e) => (e.isDirectory() || e.isSymbolicLink()) && isVersionDirName(e.name)).map((e) => Number(e.name));
  const withModel = all.filter((v) => existsSync(join(modelDir, String(v), filename)));
  return { all: all.sort((a, b) => a - b), withModel: withModel.sort((a, b) => a - b) };
}

async function sizeOf(modelPath: string, dir: string, locations: string[]): Promise<number> {
  let total = (await stat(modelPath)).size;
  for (const location of locations) total += (await stat(join(dir, location))).size;
  return total;
}

/**
 * Writes an optimized copy of a model's newest (or given) version as the next version, with an
 * `optimize-report.json` beside it: size, speed (both versions measured in one run through the
 * server's own workers) and accuracy on a held-out set. The source version is never touched, and
 * nothing is left behind on failure: the new version is staged under a hidden name and renamed
 * into place only once everything, the report included, is written.
 *
 * @example
 * const { report } = await optimizeModel({ modelDir: 'models/digits_mlp', method: 'int8-dynamic', eval: ['heldout.csv'], label: 'label' });
 */
export async function optimizeModel(options: OptimizeOptions): Promise<OptimizeResult> {
  const log = options.log ?? (() => undefined);
  const modelDir = resolve(options.modelDir);
  const model = basename(modelDir);
  const configPath = join(modelDir, 'config.yaml');
  const configFile = existsSync(configPath) ? ((parseYaml(await readFile(configPath, 'utf8')) ?? {}) as Record<string, unknown>) : {};
  const filename = typeof configFile.default_model_filename === 'string' ? configFile.default_model_filename : 'model.onnx';
  const { all, withModel } = await versionsOf(modelDir, filename);
  if (withModel.length === 0) throw new ServingError('MODEL_NOT_FOUND', `${modelDir} holds no <version>/${filename}`);
  // The newest float version: a version this command wrote (it has a report) is not a starting point.
  const floats = withModel.filter((v) => !existsSync(join(modelDir, String(v), 'optimize-report.json')));
  if (options.sourceVersion === undefined && floats.length === 0) throw new ServingError('VERSION_NOT_FOUND', `every version of ${modelDir} was written by slipway optimize; name one with --source-version`);
  const sourceVersion = options.sourceVersion ?? floats[floats.length - 1]!;
  if (!withModel.includes(sourceVersion)) throw new ServingError('VERSION_NOT_FOUND', `${modelDir} has no version ${sourceVersion} (versions: ${withModel.join(', ')})`);
  const version = Math.max(...all) + 1;
  const sourcePath = join(modelDir, String(sourceVersion), filename);
  const staging = join(modelDir, `.${version}.optimizing-${process.pid}`);
  const finalDir = join(modelDir, String(version));

  // A private repository: the model's config with every version served, the source version, and
  // (once written) the new one. The model folder itself is not loaded, so a server watching it sees nothing until the end.
  const workspace = await mkdtemp(join(tmpdir(), 'slipway-optimize-'));
  const repoModel = join(workspace, model);
  let slipway: Slipway | undefined;
  try {
    await mkdir(repoModel);
    await writeFile(join(repoModel, 'config.yaml'), stringifyYaml({ ...configFile, version_policy: { all: {} } }));
    await symlink(join(modelDir, String(sourceVersion)), join(repoModel, String(sourceVersion)));
    slipway = await Slipway.open({ models: repoModel });
    const loaded = slipway.repository.get(model)?.versions.get(sourceVersion);
    if (loaded?.state !== 'READY') throw new ServingError('MODEL_LOAD_FAILED', `${sourcePath} does not load: ${loaded?.reason ?? 'unknown reason'}`);
    const config = slipway.router.resolve(model, String(sourceVersion)).config;

    let calibration: Dataset | undefined;
    if (options.method === 'int8-static') {
      if (options.calibration === undefined || options.calibration.length === 0) throw new ServingError('CONFIG_INVALID', '--static needs --calibration <files> (CSV, TSV or JSON Lines, as slipway batch reads)');
      calibration = await readDataset(options.calibration, config, { ...(options.map && { map: options.map }), maxRows: options.calibrationRows ?? 512, ...(options.label !== undefined && { label: options.label }) });
      log(`calibration: ${calibration.rows} rows from ${calibration.files.join(', ')}`);
    }
    const heldOut = options.eval === undefined ? undefined : await readDataset(options.eval, config, { ...(options.map && { map: options.map }), ...(options.label !== undefined && { label: options.label }) });
    if (heldOut !== undefined) log(`held-out set: ${heldOut.rows} rows from ${heldOut.files.join(', ')}`);

    log(`reading ${sourcePath}`);
    const onnx = await readOnnxModel(sourcePath);
    const sourceBytes = await sizeOf(sourcePath, onnx.dir, externalFiles(onnx.proto));
    await inlineExternalData(onnx);
    const transform: OptimizeReport['transform'] = { changed: 0, skipped: [], opset: { from: 0, to: 0 }, notes: [] };
    if (options.method === 'int8-dynamic') {
      const s = quantizeDynamic(onnx.proto, {
        ...(options.opTypes && { opTypes: options.opTypes }),
        ...(options.weightType && { weightType: options.weightType }),
        perChannel: options.perChannel ?? false,
        reduceRange: options.reduceRange ?? false,
        ...(options.excludeNodes && { nodesToExclude: options.excludeNodes }),
      });
      Object.assign(transform, { changed: s.quantized.length, skipped: s.skipped, opset: s.opset });
    } else if (options.method === 'int8-static') {
      const s = await quantizeStatic(onnx.proto, {
        calibration: calibration!.batches,
        method: options.calibrationMethod ?? 'minmax',
        ...(options.percentile !== undefined && { percentile: options.percentile }),
        ...(options.opTypes && { opTypes: options.opTypes }),
        perChannel: options.perChannel ?? false,
        reduceRange: options.reduceRange ?? false,
        ...(options.excludeNodes && { nodesToExclude: options.excludeNodes }),
      });
      Object.assign(transform, { changed: s.quantized.length, skipped: s.skipped, opset: s.opset, notes: s.notes });
      transform.calibration = {
        method: options.calibrationMethod ?? 'minmax',
        ...(options.calibrationMethod === 'percentile' && { percentile: options.percentile ?? 99.999 }),
        rows: calibration!.rows,
        files: calibration!.files,
        tensors: s.calibrated,
      };
    } else {
      const first = (heldOut ?? calibration)?.batches[0];
      const sample = makeBatch(config, 1, { ...(first !== undefined && { sample: first }), ...(options.shapes && { shapes: options.shapes }) });
      const s = convertToFloat16(onnx.proto, {
        types: await probeTypes(onnx.proto, sample),
        keepIoTypes: options.keepIoTypes ?? true,
        ...(options.fp16BlockOps && { opBlockList: options.fp16BlockOps }),
        ...(options.fp16BlockNodes && { nodeBlockList: options.fp16BlockNodes }),
      });
      Object.assign(transform, { changed: s.converted, skipped: s.blocked });
      if (s.clamped > 0) transform.notes.push(`${s.clamped} weights were clamped into float16's range (min_positive_val 1e-7, max_finite_val 1e4)`);
    }
    if (transform.changed === 0) {
      throw new ServingError('OPTIMIZE_UNSUPPORTED', `nothing in ${sourcePath} could be ${options.method === 'fp16' ? 'converted' : 'quantized'}` + (transform.skipped.length > 0 ? `: ${transform.skipped.slice(0, 5).map((s) => `${s.node}: ${s.reason}`).join('; ')}` : ''));
    }
    onnx.proto.producerName = 'slipway optimize';
    const written = await writeOnnxModel(onnx.proto, join(staging, filename));
    log(`wrote the ${options.method} model (${written.sizeBytes} bytes); loading both versions`);

    await symlink(staging, join(repoModel, String(version)));
    await slipway.loadModel(model);
    const optimized = slipway.repository.get(model)?.versions.get(version);
    if (optimized?.state !== 'READY') throw new ServingError('OPTIMIZE_UNSUPPORTED', `the ${options.method} model does not load in onnxruntime: ${optimized?.reason ?? 'unknown reason'}`);

    const report: OptimizeReport = {
      model,
      sourceVersion,
      version,
      createdAt: new Date().toISOString(),
      method: options.method,
      options: options.recordedOptions ?? {},
      transform,
      size: { sourceBytes, optimizedBytes: written.sizeBytes, ratio: written.sizeBytes / sourceBytes },
    };
    if (heldOut !== undefined) {
      log('comparing outputs on the held-out set');
      report.accuracy = await compareAccuracy(slipway, model, [sourceVersion, version], heldOut);
    }
    if (options.bench !== false) {
      log('measuring speed (both versions, one run)');
      const first = (heldOut ?? calibration)?.batches[0];
      report.speed = await compareSpeed(slipway, model, [sourceVersion, version], {
        ...(first !== undefined && { sample: first }),
        ...(options.shapes && { shapes: options.shapes }),
        batchSizes: options.batchSizes ?? [1, 8, 32, 64],
        secondsPerPoint: options.benchSeconds ?? 2,
      });
    }
    await writeFile(join(staging, 'optimize-report.json'), `${JSON.stringify(report, null, 2)}\n`);
    await slipway.close();
    slipway = undefined;
    await rename(staging, finalDir);
    return { report, versionDir: finalDir };
  } finally {
    await slipway?.close();
    await rm(workspace, { recursive: true, force: true });
    await rm(staging, { recursive: true, force: true });
  }
}

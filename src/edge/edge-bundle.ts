// `slipway edge`: a loaded model as a static browser bundle: onnxruntime-web (only the builds it
// uses), the graphs, the handler compiled for the browser, its data files and examples, the typed
// API and the prototype UI's page, plus a manifest (slipway-edge.json) that tells the runtime what
// it holds and where to fall back to.
import { copyFile, mkdir, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { glob } from 'tinyglobby';
import { loadModelConfigFile } from '../config/load-model-config.js';
import type { ModelConfigFile } from '../config/model-config.js';
import { ServingError } from '../errors/serving-error.js';
import { describeModel, modelState } from '../protocol/http/describe-model.js';
import { modelMetadata } from '../protocol/model-metadata.js';
import type { Model } from '../repository/model-repository.js';
import type { Slipway } from '../slipway.js';
import { listExamples } from '../ui/model-examples.js';
import { SLIPWAY_VERSION } from '../version.js';
import { gzipBeside, measureFile, sumSizes, type FileSize } from './bundle-sizes.js';
import { compileHandler, handlerApiExports } from './compile-handler.js';
import { edgeStaticDir, ORT_BUILDS, ortWebDir } from './edge-assets.js';
import { EDGE_MANIFEST_FILE, type EdgeGraph, type EdgeHandler, type EdgeManifest } from './edge-manifest.js';

/** Calls the latency budget's median is taken over when neither the flags nor config.yaml say. */
export const DEFAULT_LATENCY_WINDOW = 5;
/**
 * Beyond this a phone's first answer waits too long: 10 MiB (brotli) is about 16 s on a 5 Mbit/s
 * mobile link, a common planning figure for slow 4G.
 */
export const PHONE_DOWNLOAD_LIMIT_BYTES = 10 * 1024 * 1024;
/**
 * Beyond this the weights alone risk a phone's memory: onnxruntime holds a model's file and its
 * session's copy of the weights while it loads, and mobile browsers stop a tab at around 1 GB.
 */
export const PHONE_MODEL_LIMIT_BYTES = 100 * 1024 * 1024;

export interface EdgeBundleOptions {
  /** The folder to write (created; an earlier bundle there is replaced; any other content is refused). */
  out: string;
  /** Ship onnxruntime-web's WebGPU build as well as the wasm one (default true). */
  webgpu?: boolean;
  /** The server to fall back to: absolute, or relative to the bundle (`../../` under Slipway's /edge/{m}/). Default none. */
  server?: string | null;
  /** Overrides config.yaml's edge.latency_budget_ms. */
  latencyBudgetMs?: number;
  /** Overrides config.yaml's edge.latency_window. */
  latencyWindow?: number;
  /**
   * `report` (default): every file's gzip and brotli size, written beside it as .gz/.br.
   * `gzip`: only a .gz beside each file, no report (the server's on-demand bundles).
   */
  compression?: 'report' | 'gzip';
  /** Link the files every bundle shares (runtime, onnxruntime-web) instead of copying them. */
  linkShared?: boolean;
}

/** Sizes as stored and as sent (see bundle-sizes.ts), by what they are. */
export interface EdgeSizes {
  /** The page, the API, its worker, the handler API and the compiled handler (source maps left out). */
  app: FileSize;
  /** onnxruntime-web, by build. */
  runtime: { wasm: FileSize; webgpu?: FileSize };
  /** Each graph shipped. */
  models: Record<string, FileSize>;
  /** The handler's data files. */
  files: FileSize;
  /** What one device fetches before its first answer, by the build it uses. */
  download: { wasm: FileSize; webgpu?: FileSize };
}

export interface EdgeBundle {
  dir: string;
  manifest: EdgeManifest;
  /** Absent with `compression: 'gzip'`. */
  sizes?: EdgeSizes;
  /** Things a developer should know (a server-only handler, a bundle too big for phones). */
  warnings: string[];
}

function newestReadyVersion(model: Model) {
  return [...model.versions.values()].filter((v) => v.state === 'READY' && v.config !== undefined).sort((a, b) => b.version - a.version)[0];
}

function graphOf(slipway: Slipway, model: Model, file: string): { entry: EdgeGraph; source: string } | undefined {
  const version = newestReadyVersion(model);
  if (version === undefined) return undefined;
  return {
    source: version.modelPath,
    entry: {
      version: String(version.version),
      file,
      bytes: 0,
      config: version.config!,
      metadata: modelMetadata(slipway, model.name, String(version.version)),
    },
  };
}

/** Empties `out` when it is new, empty or an earlier bundle; anything else is someone's folder. */
async function prepareOut(out: string): Promise<void> {
  const entries = await readdir(out).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  if (entries.length > 0 && !entries.includes(EDGE_MANIFEST_FILE)) {
    throw new ServingError('CONFIG_INVALID', `${out} is not empty and holds no bundle (${EDGE_MANIFEST_FILE}): choose an empty or new folder for --out`);
  }
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
}

async function place(from: string, to: string, link: boolean): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  if (link) await symlink(from, to);
  else await copyFile(from, to);
}

/** Files under `dir`, relative and with forward slashes. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() || e.isSymbolicLink())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

/**
 * Writes the browser bundle of a model that `slipway` serves (READY), with every graph its
 * handler calls (`edge.models` in its config.yaml) and every file it reads (`edge.files`).
 *
 * @example
 * const slipway = await Slipway.open({ models: ['examples/models/digits'] });
 * const bundle = await buildEdgeBundle(slipway, 'digits', { out: 'dist/digits-edge', latencyBudgetMs: 50 });
 * console.log(bundle.sizes?.download.wasm.brotli, bundle.warnings);
 */
export async function buildEdgeBundle(slipway: Slipway, name: string, options: EdgeBundleOptions): Promise<EdgeBundle> {
  const model = slipway.repository.get(name);
  if (model === undefined) throw new ServingError('MODEL_NOT_FOUND', `unknown model '${name}'; loaded: ${slipway.repository.names().join(', ') || 'nothing'}`);
  if (modelState(model) !== 'READY' || (model.handler !== undefined && model.handler.state !== 'READY')) {
    const reasons = [model.reason, model.handler?.reason, ...[...model.versions.values()].map((v) => v.reason)].filter((r) => r !== undefined && r !== '');
    throw new ServingError('MODEL_NOT_READY', `model '${name}' is not READY${reasons.length > 0 ? `: ${reasons.join('; ')}` : ''}`);
  }
  if (model.handler?.pool?.description.mode === 'tensor') {
    // Its "graph" is TypeScript in a server worker: the browser runtime runs ONNX graphs and JSON handlers only.
    throw new ServingError('NOT_IMPLEMENTED', `model '${name}' is a tensor handler (defineTensorHandler): browser bundles carry ONNX graphs and JSON handlers; it runs on the server only`);
  }
  const dir = model.source.kind === 'folder' ? model.source.dir : undefined;
  const configFile: ModelConfigFile = dir === undefined ? {} : await loadModelConfigFile(join(dir, 'config.yaml'));
  const edge = configFile.edge ?? {};
  const out = options.out;
  const compression = options.compression ?? 'report';
  const link = options.linkShared === true;
  const staticDir = edgeStaticDir();
  const ortDir = ortWebDir();
  const warnings: string[] = [];
  if (edge.api_key !== undefined) {
    warnings.push(
      "config.yaml's edge.api_key was not written into the bundle: whatever a bundle holds, anyone who opens its page can read; give the page a per-user token at run time instead, slipway.load({ apiKey: () => token })",
    );
  }
  await prepareOut(out);

  // The handler first: whether it runs here decides which graphs travel.
  let handler: EdgeHandler | undefined;
  if (model.handler !== undefined) {
    const compiled = await compileHandler(model.handler.file, out, await handlerApiExports(staticDir));
    handler = compiled.runs === 'device' ? { runs: 'device', file: compiled.file, parameters: { ...(configFile.parameters ?? {}) } } : compiled;
    if (handler.runs === 'server') warnings.push(`the handler runs on the server only: ${handler.reason}; predict() will always ask the server`);
  }

  const graphs: Record<string, EdgeGraph> = {};
  const sources = new Map<string, string>();
  const own = graphOf(slipway, model, `models/${name}.onnx`);
  if (own !== undefined) {
    graphs[name] = own.entry;
    sources.set(name, own.source);
  }
  if (handler?.runs === 'device') {
    for (const dependency of edge.models ?? []) {
      if (dependency === name) continue;
      const other = slipway.repository.get(dependency);
      if (other === undefined) {
        throw new ServingError('CONFIG_INVALID', `edge.models of '${name}' names '${dependency}', which is not loaded (it must be served beside '${name}')`);
      }
      const graph = graphOf(slipway, other, `models/${dependency}.onnx`);
      if (graph === undefined) throw new ServingError('CONFIG_INVALID', `edge.models of '${name}' names '${dependency}', which has no READY graph (${modelState(other)})`);
      graphs[dependency] = graph.entry;
      sources.set(dependency, graph.source);
    }
  }
  for (const [graphName, source] of sources) {
    const entry = graphs[graphName]!;
    await place(source, join(out, entry.file), false);
    entry.bytes = (await stat(source)).size;
  }

  const files: string[] = [];
  if (handler?.runs === 'device' && dir !== undefined) {
    for (const pattern of edge.files ?? []) {
      const matched = await glob(pattern, { cwd: dir, onlyFiles: true, followSymbolicLinks: true });
      if (matched.length === 0) throw new ServingError('CONFIG_INVALID', `edge.files of '${name}': '${pattern}' matches no file in ${dir}`);
      for (const file of matched.sort()) {
        if (files.includes(file)) continue;
        files.push(file);
        await place(join(dir, file), join(out, 'files', file), false);
      }
    }
  }

  const examples = await listExamples(model, 'examples');
  for (const example of examples) {
    if (example.url !== undefined && dir !== undefined) await place(join(dir, 'examples', example.name), join(out, 'examples', example.name), false);
  }

  const shippedBuilds = options.webgpu === false ? (['wasm'] as const) : (['wasm', 'webgpu'] as const);
  for (const build of shippedBuilds) {
    for (const file of ORT_BUILDS[build].files) await place(join(ortDir, file), join(out, 'ort', file), link);
  }
  for (const file of await filesUnder(staticDir)) {
    if (file === 'handler-api.exports.json') continue;
    await place(join(staticDir, file), join(out, file), link);
  }
  // Netlify and Cloudflare Pages read this: cross-origin isolation gives the page wasm threads.
  await writeFile(join(out, '_headers'), '/*\n  Cross-Origin-Opener-Policy: same-origin\n  Cross-Origin-Embedder-Policy: require-corp\n  Cross-Origin-Resource-Policy: same-origin\n');

  const runtimeBuild = (build: 'wasm' | 'webgpu') => ({ module: `ort/${ORT_BUILDS[build].module}`, files: ORT_BUILDS[build].files.map((f) => `ort/${f}`) });
  const latencyBudgetMs = options.latencyBudgetMs ?? edge.latency_budget_ms;
  const manifest: EdgeManifest = {
    format: 1,
    model: name,
    slipwayVersion: SLIPWAY_VERSION,
    ...(own !== undefined && { graph: own.entry }),
    graphs,
    ...(handler !== undefined && { handler }),
    files,
    runtime: { wasm: runtimeBuild('wasm'), ...(options.webgpu !== false && { webgpu: runtimeBuild('webgpu') }) },
    fallback: {
      server: options.server ?? null,
      latencyBudgetMs: latencyBudgetMs ?? null,
      latencyWindow: options.latencyWindow ?? edge.latency_window ?? DEFAULT_LATENCY_WINDOW,
    },
    description: describeModel(slipway, name, ''),
    examples,
  };
  await writeFile(join(out, EDGE_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);

  if (compression === 'gzip') {
    for (const file of await filesUnder(out)) await gzipBeside(join(out, file));
    return { dir: out, manifest, warnings };
  }
  const sizes = await measureBundle(out, manifest);
  warnings.push(...phoneWarnings(sizes));
  return { dir: out, manifest, sizes, warnings };
}

async function measureBundle(out: string, manifest: EdgeManifest): Promise<EdgeSizes> {
  const measured = new Map<string, FileSize>();
  await Promise.all(
    (await filesUnder(out)).map(async (file) => {
      measured.set(file, await measureFile(join(out, file), true));
    }),
  );
  const size = (file: string): FileSize => measured.get(file) ?? { bytes: 0, gzip: 0, brotli: 0 };
  // The bundle's root holds the page, the API, its chunks, the handler and the manifest.
  const app = sumSizes([...measured.keys()].filter((f) => !f.includes('/') && !f.endsWith('.map') && f !== '_headers').map(size));
  const models = Object.fromEntries(Object.entries(manifest.graphs).map(([name, graph]) => [name, size(graph.file)]));
  const files = sumSizes(manifest.files.map((f) => size(`files/${f}`)));
  const wasm = sumSizes(manifest.runtime.wasm.files.map(size));
  const webgpu = manifest.runtime.webgpu === undefined ? undefined : sumSizes(manifest.runtime.webgpu.files.map(size));
  const common = [app, files, ...Object.values(models)];
  return {
    app,
    runtime: { wasm, ...(webgpu !== undefined && { webgpu }) },
    models,
    files,
    download: { wasm: sumSizes([...common, wasm]), ...(webgpu !== undefined && { webgpu: sumSizes([...common, webgpu]) }) },
  };
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** The warnings a bundle of these sizes gets (see the PHONE_* limits). */
export function phoneWarnings(sizes: EdgeSizes): string[] {
  const warnings: string[] = [];
  const download = Math.max(sizes.download.wasm.brotli, sizes.download.webgpu?.brotli ?? 0);
  if (download > PHONE_DOWNLOAD_LIMIT_BYTES) {
    warnings.push(`too big for a phone: a device downloads ${mib(download)} (brotli) before its first answer, over the ${mib(PHONE_DOWNLOAD_LIMIT_BYTES)} a phone on a slow mobile link fetches in about 16 s`);
  }
  const weights = Object.values(sizes.models).reduce((sum, s) => sum + s.bytes, 0);
  if (weights > PHONE_MODEL_LIMIT_BYTES) {
    warnings.push(`too big for a phone: the models hold ${mib(weights)} of weights, over ${mib(PHONE_MODEL_LIMIT_BYTES)}; loading them risks a phone browser's memory limit`);
  }
  return warnings;
}
